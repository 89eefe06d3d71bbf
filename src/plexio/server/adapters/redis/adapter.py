"""What the classic and the sharded Redis adapters share, whatever their wire.

Both start on first use, keep the requests waiting for other servers' replies and the
broadcasts with acks this server sent, and answer a request at most once; how a message
is framed and on which channel it goes is each adapter's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from enum import IntEnum
from typing import Generic, TypeVar

from plexio.server.adapters.base import AckArgsCallback, Adapter, ServerSideAck, SocketEmitter
from plexio.server.adapters.redis.link import PubSubLink
from plexio.server.adapters.redis.requests import AckRequest, Gather, Peers
from plexio.server.adapters.redis.wire import WireError, decode_details
from plexio.server.adapters.remote import RemoteSocket
from plexio.server.broadcast import BroadcastOptions
from plexio.server.fetched import FetchedSocket
from plexio.socketio.packets import Packet
from plexio.typing import JSONValue

__all__ = ["ACK_GRACE", "DEFAULT_ACK_TIMEOUT", "PubSubAdapter", "PubSubAdapterFactory"]

logger = logging.getLogger(__name__)

ACK_GRACE = 1.0  # seconds a broadcast's acks are still collected after its timeout
DEFAULT_ACK_TIMEOUT = 5.0

LinkT = TypeVar("LinkT", bound=PubSubLink)
KindT = TypeVar("KindT", bound=IntEnum)
OptionsT = TypeVar("OptionsT")


class PubSubAdapter(Adapter, Generic[LinkT, KindT]):
    """One namespace's room index plus its cluster half over a Redis pub/sub link.

    Args:
        nsp: the namespace.
        link: the server's Redis connections (shared by its namespaces).
        requests_timeout: seconds to wait for the other servers' replies.
    """

    def __init__(self, nsp: SocketEmitter, link: LinkT, requests_timeout: float) -> None:
        super().__init__(nsp)
        self.link = link
        self.requests_timeout = requests_timeout
        self.uid = self._new_uid()
        self.peers = Peers()
        self._requests: dict[str, tuple[KindT, Gather]] = {}
        self._ack_requests: dict[str, AckRequest] = {}
        self._started = False
        self._init_task: asyncio.Task[None] | None = None
        self._early_logged = False

    # ----------------------------------------------------------- what each wire says

    _client_count_kind: int  # the type of a broadcast with acks' client count report
    _ack_kind: int  # the type of one client's ack to a broadcast with acks
    _join_kind: KindT  # the operation making the targeted sockets join rooms
    _leave_kind: KindT  # ... leave rooms
    _disconnect_kind: KindT  # ... disconnect

    def _remote_operation(
        self, kind: KindT, opts: BroadcastOptions, extra: dict[str, JSONValue]
    ) -> None:
        """Has the other servers apply a room or disconnect operation (not awaited;
        nothing when ``local``)."""
        raise NotImplementedError

    @staticmethod
    def _new_uid() -> str:
        """A new server or request id, in the form the wire's Node adapter uses."""
        raise NotImplementedError

    async def _subscribe(self) -> None:
        """Subscribes this namespace's channels (the link is acquired)."""
        raise NotImplementedError

    async def _unsubscribe(self) -> None:
        """Drops this namespace's channels (before the link is released)."""
        raise NotImplementedError

    def _publish_broadcast_with_ack(
        self, request_id: str, packet: Packet, opts: BroadcastOptions
    ) -> None:
        """Sends a broadcast with acks to the other servers."""
        raise NotImplementedError

    async def _publish_request(
        self, kind: KindT, request_id: str, body: dict[str, JSONValue], what: str
    ) -> None:
        """Sends a request the other servers answer (waits until Redis took it)."""
        raise NotImplementedError

    async def _fetch_remote(self, opts: BroadcastOptions) -> list[JSONValue]:
        """The other servers' encoded socket details for ``fetch_sockets``."""
        raise NotImplementedError

    # ----------------------------------------------------------- lifecycle

    def renew_uid(self) -> None:
        """Draws a new server id (a forked copy of this adapter must not share it)."""
        self.uid = self._new_uid()
        self.peers = Peers()

    async def init(self) -> None:
        """Connects (first namespace) and subscribes this namespace's channels (once)."""
        if self._init_task is None:
            self._init_task = asyncio.get_running_loop().create_task(self._start())
        await asyncio.shield(self._init_task)

    def _cluster_ready(self, what: str) -> bool:
        """Whether ``what`` can go to the cluster now; starts the adapter on first use."""
        if self._started:
            return True
        if self._init_task is None:
            try:
                self._init_task = asyncio.get_running_loop().create_task(self._start())
            except RuntimeError:
                return False  # no event loop yet
        if not self._early_logged:
            self._early_logged = True
            logger.warning(
                "namespace %s: a %s was sent before its cluster adapter had started (no "
                "client had joined it yet): it stayed on this server; the adapter is starting "
                "now (await server.of(%r).ready() first to avoid this)",
                self.nsp.name,
                what,
                self.nsp.name,
            )
        return False

    async def _start(self) -> None:
        await self.link.acquire()
        self._started = True
        await self._subscribe()

    async def close(self) -> None:
        """Unsubscribes, and closes the link with the last namespace."""
        task, self._init_task = self._init_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if not self._started:
            return
        self._started = False
        await self._unsubscribe()
        for ack_request in self._ack_requests.values():
            ack_request.timer.cancel()
        self._ack_requests.clear()
        await self.link.release()

    # ----------------------------------------------------------- outgoing

    def add_sockets(self, opts: BroadcastOptions, rooms: frozenset[str]) -> None:
        """Makes the targeted sockets of every server join ``rooms``."""
        self._remote_operation(self._join_kind, opts, {"rooms": sorted(rooms)})
        super().add_sockets(opts, rooms)

    def del_sockets(self, opts: BroadcastOptions, rooms: frozenset[str]) -> None:
        """Makes the targeted sockets of every server leave ``rooms``."""
        self._remote_operation(self._leave_kind, opts, {"rooms": sorted(rooms)})
        super().del_sockets(opts, rooms)

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        """Disconnects the targeted sockets of every server."""
        self._remote_operation(self._disconnect_kind, opts, {"close": close})
        super().disconnect_sockets(opts, close)

    async def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        client_count: Callable[[int], None],
        ack: AckArgsCallback,
    ) -> int:
        """Broadcasts with acks across the cluster; returns how many servers report.

        Raises:
            ClusterError: Redis is unreachable (nothing was sent).
        """
        if opts.flags.local:
            return await super().broadcast_with_ack(packet, opts, client_count, ack)
        await self.init()
        servers = await self.server_count()
        request_id = self._new_uid()
        # queued only: no report can be read before the request is registered below
        self._publish_broadcast_with_ack(request_id, packet, opts)
        timeout = opts.flags.timeout if opts.flags.timeout is not None else DEFAULT_ACK_TIMEOUT
        timer = asyncio.get_running_loop().call_later(
            timeout + ACK_GRACE, self._ack_requests.pop, request_id, None
        )
        self._ack_requests[request_id] = AckRequest(client_count, ack, timer)
        client_count(self.local_broadcast_with_ack(packet, opts, ack))
        return max(servers, 1)

    def silent_servers(self, ack: AckArgsCallback) -> list[str]:
        """The servers heard from that have not reported for the broadcast with acks
        whose callback is ``ack`` (empty once it is over)."""
        for request in self._ack_requests.values():
            if request.ack is ack:
                return request.silent(self.peers.known())
        return []

    async def fetch_sockets(self, opts: BroadcastOptions) -> list[FetchedSocket]:
        """Local sockets plus :class:`RemoteSocket` s from every other server.

        Raises:
            ClusterError: Redis is unreachable.
            ClusterTimeoutError: some servers did not answer in time.
        """
        local = await super().fetch_sockets(opts)
        if opts.flags.local:
            return local
        await self.init()
        remote: list[FetchedSocket] = []
        for raw in await self._fetch_remote(opts):
            try:
                remote.append(RemoteSocket(self, decode_details(raw)))
            except WireError as exc:
                logger.debug("ignoring a bad socket in a fetch response: %s", exc)
        return local + remote

    async def _request(self, kind: KindT, what: str, body: dict[str, JSONValue]) -> list[JSONValue]:
        """Sends a request and gathers one reply per other server."""
        expected = await self.server_count() - 1  # every server but this one answers
        if expected <= 0:
            return []
        request_id = self._new_uid()
        gather = Gather(what, expected, self.requests_timeout, self.peers.known)
        self._requests[request_id] = (kind, gather)
        try:
            await self._publish_request(kind, request_id, body, what)
            return await gather.wait()
        finally:
            self._requests.pop(request_id, None)

    # ----------------------------------------------------------- incoming

    @staticmethod
    def _once(answer: ServerSideAck) -> ServerSideAck:
        """``answer`` wrapped to run on the first call only (a server-side ack)."""
        answered = False

        def ack(value: JSONValue) -> None:
            nonlocal answered
            if not answered:
                answered = True
                answer(value)

        return ack

    def _forget_acks_later(self, opts: BroadcastOptions, ack: AckArgsCallback) -> None:
        """Stops expecting the acks of a remote broadcast once its requester stopped
        listening (after its timeout)."""
        timeout = opts.flags.timeout if opts.flags.timeout is not None else 0
        asyncio.get_running_loop().call_later(
            max(timeout, DEFAULT_ACK_TIMEOUT) + ACK_GRACE, self.forget_acks, ack
        )

    def _pending_reply(
        self, request_id: object, uid: object, kind: object, fields: dict[str, JSONValue]
    ) -> tuple[KindT, Gather, str | None] | None:
        """Takes a reply to one of this server's requests (``fields``: the reply, or its
        data): a broadcast with acks' client count or ack goes to that broadcast; for any
        other request, gives its type, its gatherer and who answered (when it says), or
        None when no request of this server waits for it."""
        if not isinstance(request_id, str):
            return None
        if not isinstance(uid, str):
            uid = None
        elif uid != self.uid:
            self.peers.saw(uid)
        ack_request = self._ack_requests.get(request_id)
        if ack_request is not None:
            if kind == self._client_count_kind:
                count = fields.get("clientCount")
                if isinstance(count, int) and not isinstance(count, bool):
                    ack_request.report(uid, count)
            elif kind == self._ack_kind:
                ack_request.ack([fields.get("packet")])
            return None
        pending = self._requests.get(request_id)
        if pending is None:
            return None
        request_kind, gather = pending
        return request_kind, gather, uid


class PubSubAdapterFactory(Generic[LinkT, OptionsT]):
    """Makes one adapter per namespace, all on one link (``__call__`` makes it).

    Attributes:
        link: the shared Redis connections (its ``lost`` and ``outages`` counters
            tell what an outage cost).
        options: the adapter settings.
    """

    def __init__(self, link: LinkT, options: OptionsT) -> None:
        self.link = link
        self.options = options
