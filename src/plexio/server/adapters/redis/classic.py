"""The classic Redis adapter, wire-compatible with Node's ``createAdapter`` (redis-adapter 8).

Per namespace ``nsp`` and key prefix ``key`` (default ``socket.io``):

* broadcasts go to ``{key}#{nsp}#`` (or ``{key}#{nsp}#{room}#`` for exactly one room) as
  MessagePack ``[uid, packet, opts]``; every server pattern-subscribes to
  ``{key}#{nsp}#*``;
* requests (JSON, or MessagePack for a broadcast with acks) go to
  ``{key}-request#{nsp}#``; responses to ``{key}-response#{nsp}#`` (or, with
  ``publish_on_specific_response_channel``, ``{key}-response#{nsp}#{uid}#``);
* how many servers there are is ``PUBSUB NUMSUB {key}-request#{nsp}#`` (a server is one
  subscriber connection: every namespace of a plexio server shares it).

Local operations apply at once (Redis down or not); what goes to the other servers is
queued on the shared :class:`~plexio.server.adapters.redis.link.RedisLink`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from plexio.exceptions import LocalProtocolError
from plexio.server.adapters.base import Adapter, AdapterFactory, ServerSideAck, SocketEmitter
from plexio.server.adapters.redis.adapter import PubSubAdapter, PubSubAdapterFactory
from plexio.server.adapters.redis.forked import renew_after_fork
from plexio.server.adapters.redis.link import Kind, RedisLink
from plexio.server.adapters.redis.wire import (
    EMITTER_UID,
    RequestType,
    WireError,
    decode_body,
    decode_opts,
    encode_details,
    encode_opts,
    event_data,
    new_uid,
    pack,
    packet_object,
    to_json,
    unpack,
)
from plexio.server.broadcast import BroadcastOptions
from plexio.socketio.packets import Packet
from plexio.typing import JSONValue

__all__ = ["RedisAdapter", "RedisAdapterOptions", "create_adapter"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RedisAdapterOptions:
    """Settings of the classic Redis adapter (the Node adapter's options).

    Attributes:
        key: the channel prefix (Node's ``key``).
        requests_timeout: seconds to wait for the other servers' replies.
        publish_on_specific_response_channel: answer on the requester's own channel.
    """

    key: str = "socket.io"
    requests_timeout: float = 5.0
    publish_on_specific_response_channel: bool = False

    def __post_init__(self) -> None:
        if not self.requests_timeout > 0:
            raise ValueError("requests_timeout must be > 0")


class RedisAdapter(PubSubAdapter[RedisLink, RequestType]):
    """One namespace's room index plus its cluster half over classic Redis pub/sub.

    Args:
        nsp: the namespace.
        link: the server's Redis connections (shared by its namespaces).
        options: the adapter settings.
    """

    _client_count_kind = RequestType.BROADCAST_CLIENT_COUNT
    _ack_kind = RequestType.BROADCAST_ACK
    _join_kind = RequestType.REMOTE_JOIN
    _leave_kind = RequestType.REMOTE_LEAVE
    _disconnect_kind = RequestType.REMOTE_DISCONNECT

    def __init__(self, nsp: SocketEmitter, link: RedisLink, options: RedisAdapterOptions) -> None:
        super().__init__(nsp, link, options.requests_timeout)
        self.options = options
        key, name = options.key, nsp.name
        self.channel = f"{key}#{name}#"
        self.request_channel = f"{key}-request#{name}#"
        self.response_channel = f"{key}-response#{name}#"
        self.specific_response_channel = f"{self.response_channel}{self.uid}#"
        renew_after_fork(self)

    _new_uid = staticmethod(new_uid)

    # ----------------------------------------------------------- lifecycle

    def renew_uid(self) -> None:
        """Draws a new server id (a forked copy of this adapter must not share it)."""
        super().renew_uid()
        self.specific_response_channel = f"{self.response_channel}{self.uid}#"

    def _request_channels(self) -> tuple[str, str, str]:
        return (self.request_channel, self.response_channel, self.specific_response_channel)

    async def _subscribe(self) -> None:
        await self.link.psubscribe(self.channel + "*", self._on_broadcast)
        for channel in self._request_channels():
            await self.link.subscribe(channel, self._on_request)

    async def _unsubscribe(self) -> None:
        await self.link.punsubscribe(self.channel + "*", self._on_broadcast)
        for channel in self._request_channels():
            await self.link.unsubscribe(channel, self._on_request)

    async def server_count(self) -> int:
        """How many servers subscribe to this namespace's request channel.

        Raises:
            ClusterError: Redis is unreachable.
        """
        return await self.link.count_subscribers(self.request_channel, "counting the servers")

    # ----------------------------------------------------------- outgoing

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        """Delivers locally and publishes to the other servers (unless ``local``)."""
        if not opts.flags.local and self._cluster_ready("broadcast"):
            data = packet.data
            assert isinstance(data, list)
            payload = pack([self.uid, packet_object(self.nsp.name, data), encode_opts(opts)])
            channel = self.channel
            if len(opts.rooms) == 1:
                (room,) = opts.rooms
                channel = f"{channel}{room}#"
            self.link.publish(channel, payload, Kind.BROADCAST)
        super().broadcast(packet, opts)

    def _publish_broadcast_with_ack(
        self, request_id: str, packet: Packet, opts: BroadcastOptions
    ) -> None:
        data = packet.data
        assert isinstance(data, list)
        payload = pack(
            {
                "uid": self.uid,
                "requestId": request_id,
                "type": int(RequestType.BROADCAST),
                "packet": packet_object(self.nsp.name, data),
                "opts": encode_opts(opts, timeout=True),
            }
        )
        self.link.publish(self.request_channel, payload, Kind.REQUEST)

    async def _fetch_remote(self, opts: BroadcastOptions) -> list[JSONValue]:
        return await self._request(
            RequestType.REMOTE_FETCH,
            "fetch_sockets",
            {"opts": {"rooms": sorted(opts.rooms), "except": sorted(opts.except_rooms)}},
        )

    async def all_rooms(self) -> set[str]:
        """Every room on every server.

        Raises:
            ClusterError: Redis is unreachable.
            ClusterTimeoutError: some servers did not answer in time.
        """
        rooms = set(self.rooms)
        await self.init()
        for room in await self._request(RequestType.ALL_ROOMS, "all_rooms", {}):
            if isinstance(room, str):
                rooms.add(room)
        return rooms

    async def server_side_emit(self, args: list[JSONValue]) -> None:
        """Sends ``[event, *args]`` to the other servers.

        Raises:
            ClusterError: Redis is unreachable.
        """
        await self.init()
        body = {"uid": self.uid, "type": int(RequestType.SERVER_SIDE_EMIT), "data": args}
        payload = to_json(body)
        await self.link.publish_wait(
            self.request_channel, payload, Kind.REQUEST, f"server_side_emit {args[0]!r}"
        )

    async def server_side_emit_with_ack(self, args: list[JSONValue]) -> list[JSONValue]:
        """Sends ``[event, *args]`` and returns one reply per other server.

        Raises:
            ClusterError: Redis is unreachable.
            ClusterTimeoutError: some servers did not answer in time.
        """
        await self.init()
        return await self._request(
            RequestType.SERVER_SIDE_EMIT,
            f"server_side_emit_with_ack {args[0]!r}",
            {"data": args},
        )

    def _remote_operation(
        self, kind: RequestType, opts: BroadcastOptions, extra: dict[str, JSONValue]
    ) -> None:
        if opts.flags.local or not self._cluster_ready(kind.name.lower()):
            return
        body = {
            "uid": self.uid,
            "type": int(kind),
            "opts": {"rooms": sorted(opts.rooms), "except": sorted(opts.except_rooms)},
            **extra,
        }
        self.link.publish(self.request_channel, to_json(body), Kind.REQUEST)

    async def _publish_request(
        self, kind: RequestType, request_id: str, body: dict[str, JSONValue], what: str
    ) -> None:
        payload = to_json({"uid": self.uid, "requestId": request_id, "type": int(kind), **body})
        await self.link.publish_wait(self.request_channel, payload, Kind.REQUEST, what)

    # ----------------------------------------------------------- incoming

    def _on_broadcast(self, channel: str, data: bytes) -> None:
        room = channel[len(self.channel) : -1]
        if room and room not in self.rooms:
            return  # nobody here is in that room: not even decoded
        try:
            message = unpack(data)
            if not isinstance(message, list) or len(message) < 3:
                raise WireError("a broadcast is [uid, packet, opts]")
            uid, raw_packet, raw_opts = message[0], message[1], message[2]
            if uid == self.uid:
                return
            if isinstance(uid, str) and uid != EMITTER_UID:
                self.peers.saw(uid)
            event = event_data(raw_packet, self.nsp.name)
            if event is None:
                return
            opts = decode_opts(raw_opts)
            packet = Packet.event(self.nsp.name, event)
        except (WireError, LocalProtocolError) as exc:
            logger.debug("ignoring a bad broadcast on %s: %s", channel, exc)
            return
        Adapter.broadcast(self, packet, opts)

    def _on_request(self, channel: str, data: bytes) -> None:
        try:
            message = decode_body(data)
            if not isinstance(message, dict):
                raise WireError("a request is a map")
        except WireError as exc:
            logger.debug("ignoring a bad message on %s: %s", channel, exc)
            return
        if channel != self.request_channel:
            self._on_response(message)
            return
        uid = message.get("uid")
        if isinstance(uid, str) and uid != EMITTER_UID and uid != self.uid:
            self.peers.saw(uid)
        try:
            self._handle_request(message, uid)
        except (WireError, LocalProtocolError, TypeError) as exc:
            logger.debug("ignoring a bad request on %s: %s", channel, exc)

    def _handle_request(self, request: dict[str, JSONValue], uid: object) -> None:
        kind = request.get("type")
        request_id = request.get("requestId")
        if kind in (RequestType.REMOTE_JOIN, RequestType.REMOTE_LEAVE):
            if uid == self.uid:
                return  # applied locally when it was sent
            # (the single-socket form of adapters before 7 is not supported)
            opts = decode_opts(request.get("opts"))
            targets = decode_opts({"rooms": request.get("rooms")}).rooms
            if kind == RequestType.REMOTE_JOIN:
                Adapter.add_sockets(self, opts, targets)
            else:
                Adapter.del_sockets(self, opts, targets)
        elif kind == RequestType.REMOTE_DISCONNECT:
            if uid == self.uid:
                return
            Adapter.disconnect_sockets(
                self, decode_opts(request.get("opts")), bool(request.get("close"))
            )
        elif kind == RequestType.REMOTE_FETCH:
            if request_id in self._requests or uid == self.uid:
                return
            opts = decode_opts(request.get("opts"))
            sockets = []
            for sid in self.targets(opts):
                details = self.nsp.socket_details(sid)
                if details is not None:
                    sockets.append(encode_details(details))
            self._respond(request, to_json(self._reply(request_id, sockets=sockets)))
        elif kind == RequestType.ALL_ROOMS:
            if request_id in self._requests or uid == self.uid:
                return
            self._respond(request, to_json(self._reply(request_id, rooms=sorted(self.rooms))))
        elif kind == RequestType.SOCKETS:
            if request_id in self._requests or uid == self.uid:
                return
            opts = decode_opts({"rooms": request.get("rooms")})
            self._respond(request, to_json(self._reply(request_id, sockets=self.targets(opts))))
        elif kind == RequestType.SERVER_SIDE_EMIT:
            if uid == self.uid:
                return
            args = request.get("data")
            if not isinstance(args, list) or not args:
                raise WireError("server-side event data must be a non-empty list")
            self.nsp.server_side_event(args, self._server_side_ack(request_id))
        elif kind == RequestType.BROADCAST:
            if request_id in self._ack_requests or uid == self.uid:
                return
            self._remote_broadcast_with_ack(request)
        else:
            logger.debug("ignoring a request of unknown type %r", kind)

    def _reply(self, request_id: JSONValue, **fields: JSONValue) -> dict[str, JSONValue]:
        # "uid" is ours: Node ignores it, and it lets a plexio requester name who answered
        return {"requestId": request_id, "uid": self.uid, **fields}

    def _respond(self, request: dict[str, JSONValue], payload: bytes) -> None:
        channel = self.response_channel
        if self.options.publish_on_specific_response_channel and isinstance(
            request.get("uid"), str
        ):
            channel = f"{channel}{request['uid']}#"
        self.link.publish(channel, payload, Kind.RESPONSE)

    def _server_side_ack(self, request_id: JSONValue) -> ServerSideAck | None:
        if request_id is None:
            return None

        def answer(value: JSONValue) -> None:
            body = {
                "type": int(RequestType.SERVER_SIDE_EMIT),
                "requestId": request_id,
                "uid": self.uid,
                "data": value,
            }
            # always the shared response channel, as the Node adapter does
            self.link.publish(self.response_channel, to_json(body), Kind.RESPONSE)

        return self._once(answer)

    def _remote_broadcast_with_ack(self, request: dict[str, JSONValue]) -> None:
        request_id = request.get("requestId")
        event = event_data(request.get("packet"), self.nsp.name)
        if event is None:
            return
        opts = decode_opts(request.get("opts"))
        # no ack id: local_broadcast_with_ack picks one all local recipients can take
        packet = Packet.event(self.nsp.name, event)

        def ack(args: list[JSONValue]) -> None:
            body = {
                "type": int(RequestType.BROADCAST_ACK),
                "requestId": request_id,
                "packet": args[0] if args else None,
            }
            self._respond(request, pack(body))

        count = self.local_broadcast_with_ack(packet, opts, ack)
        body = {
            "type": int(RequestType.BROADCAST_CLIENT_COUNT),
            "requestId": request_id,
            "clientCount": count,
            # ours, as in _reply: Node ignores it; it names who reported
            "uid": self.uid,
        }
        self._respond(request, to_json(body))
        if count:
            self._forget_acks_later(opts, ack)

    def _on_response(self, response: dict[str, JSONValue]) -> None:
        pending = self._pending_reply(
            response.get("requestId"), response.get("uid"), response.get("type"), response
        )
        if pending is None:
            return
        kind, gather, uid = pending
        if kind in (RequestType.REMOTE_FETCH, RequestType.SOCKETS):
            sockets = response.get("sockets")
            gather.add(uid, sockets if isinstance(sockets, list) else [])
        elif kind == RequestType.ALL_ROOMS:
            rooms = response.get("rooms")
            gather.add(uid, rooms if isinstance(rooms, list) else [])
        elif kind == RequestType.SERVER_SIDE_EMIT:
            gather.add(uid, [response.get("data")])


class RedisAdapterFactory(PubSubAdapterFactory[RedisLink, RedisAdapterOptions]):
    """Makes one :class:`RedisAdapter` per namespace, all on one :class:`RedisLink`."""

    def __call__(self, nsp: SocketEmitter) -> RedisAdapter:
        return RedisAdapter(nsp, self.link, self.options)


def create_adapter(
    url: str = "redis://127.0.0.1:6379",
    *,
    key: str = "socket.io",
    requests_timeout: float = 5.0,
    publish_on_specific_response_channel: bool = False,
    max_backlog: int = 10_000,
    command_timeout: float = 5.0,
) -> RedisAdapterFactory:
    """An adapter factory for ``plexio.Server(adapter=...)`` on classic Redis pub/sub.

    Wire-compatible with Node's ``createAdapter(pub, sub, {key, requestsTimeout,
    publishOnSpecificResponseChannel})`` from ``@socket.io/redis-adapter`` 8, so plexio
    and Node servers can share one cluster.

    Args:
        url: where Redis listens.
        key: channel prefix (must match the other servers').
        requests_timeout: seconds to wait for replies (fetch_sockets, all_rooms,
            server_side_emit_with_ack).
        publish_on_specific_response_channel: answer on the requester's own channel.
        max_backlog: most messages queued for Redis at once.
        command_timeout: seconds a Redis command may take before Redis counts as
            unreachable.
    """
    factory: AdapterFactory = RedisAdapterFactory(
        RedisLink(url, max_backlog=max_backlog, command_timeout=command_timeout),
        RedisAdapterOptions(key, requests_timeout, publish_on_specific_response_channel),
    )
    assert isinstance(factory, RedisAdapterFactory)
    return factory
