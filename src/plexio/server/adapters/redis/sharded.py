"""The sharded Redis adapter, wire-compatible with Node's ``createShardedAdapter``.

Redis >= 7 sharded pub/sub (``SPUBLISH``/``SSUBSCRIBE``) on a Redis Cluster: a shard
channel lives on one master, so the traffic of a namespace (and, in the dynamic modes,
of each room) spreads over the cluster instead of reaching every node. Messages are the
``ClusterAdapter`` envelope ``{uid, nsp, type, data}`` (see ``MessageType``), JSON unless
a message that may carry binary does (then MessagePack). Per namespace ``nsp`` and
prefix ``p`` (default ``socket.io``):

* ``{p}#{nsp}#`` — every message for the namespace's servers;
* ``{p}#{nsp}#{uid}#`` — responses to the server ``uid``;
* ``{p}#{nsp}#{room}#`` — in the ``dynamic`` modes, broadcasts to exactly one room
  (public rooms only in ``dynamic``; socket-id rooms too in ``dynamic-private``).

``all_rooms`` is local only: the protocol has no request for it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from enum import Enum

from plexio.exceptions import LocalProtocolError
from plexio.server.adapters.base import Adapter, ServerSideAck, SocketEmitter
from plexio.server.adapters.redis.adapter import PubSubAdapter, PubSubAdapterFactory
from plexio.server.adapters.redis.forked import renew_after_fork
from plexio.server.adapters.redis.link import Kind, ShardedRedisLink
from plexio.server.adapters.redis.wire import (
    EMITTER_UID,
    MessageType,
    WireError,
    decode_body,
    decode_opts,
    encode_details,
    encode_opts,
    event_data,
    has_binary,
    pack,
    packet_object,
    to_json,
)
from plexio.server.broadcast import BroadcastOptions
from plexio.socketio.packets import Packet
from plexio.typing import JSONValue

__all__ = [
    "ShardedRedisAdapter",
    "ShardedRedisAdapterOptions",
    "SubscriptionMode",
    "create_sharded_adapter",
]

logger = logging.getLogger(__name__)

_SOCKET_ID_LENGTH = 20  # how Node tells a socket-id room from a public one
_MAY_CARRY_BINARY = frozenset(
    {
        MessageType.BROADCAST,
        MessageType.BROADCAST_ACK,
        MessageType.FETCH_SOCKETS_RESPONSE,
        MessageType.SERVER_SIDE_EMIT,
        MessageType.SERVER_SIDE_EMIT_RESPONSE,
    }
)


class SubscriptionMode(Enum):
    """Which rooms get a shard channel of their own (Node's ``subscriptionMode``)."""

    STATIC = "static"
    DYNAMIC = "dynamic"
    DYNAMIC_PRIVATE = "dynamic-private"


@dataclass(frozen=True, slots=True)
class ShardedRedisAdapterOptions:
    """Settings of the sharded adapter.

    Attributes:
        channel_prefix: Node's ``channelPrefix``.
        subscription_mode: Node's ``subscriptionMode`` (default dynamic, as Node).
        requests_timeout: seconds to wait for the other servers' replies.
    """

    channel_prefix: str = "socket.io"
    subscription_mode: SubscriptionMode = SubscriptionMode.DYNAMIC
    requests_timeout: float = 5.0

    def __post_init__(self) -> None:
        if not self.requests_timeout > 0:
            raise ValueError("requests_timeout must be > 0")


def _encode(message: dict[str, JSONValue]) -> bytes:
    if message["type"] in _MAY_CARRY_BINARY and has_binary(message.get("data")):
        return pack(message)
    return to_json(message)


class ShardedRedisAdapter(PubSubAdapter[ShardedRedisLink, MessageType]):
    """One namespace's room index plus its cluster half over sharded pub/sub.

    Args:
        nsp: the namespace.
        link: the server's Redis Cluster connections.
        options: the adapter settings.
    """

    _client_count_kind = MessageType.BROADCAST_CLIENT_COUNT
    _ack_kind = MessageType.BROADCAST_ACK
    _join_kind = MessageType.SOCKETS_JOIN
    _leave_kind = MessageType.SOCKETS_LEAVE
    _disconnect_kind = MessageType.DISCONNECT_SOCKETS

    def __init__(
        self, nsp: SocketEmitter, link: ShardedRedisLink, options: ShardedRedisAdapterOptions
    ) -> None:
        super().__init__(nsp, link, options.requests_timeout)
        self.options = options
        self.channel = f"{options.channel_prefix}#{nsp.name}#"
        self.response_channel = f"{self.channel}{self.uid}#"
        # room channel subscriptions not confirmed yet (the link owns the tasks)
        self._room_subscriptions: set[asyncio.Task[None]] = set()
        # socket-id rooms have a channel of their own in dynamic-private
        self.own_room_settles = options.subscription_mode is SubscriptionMode.DYNAMIC_PRIVATE
        renew_after_fork(self)

    @staticmethod
    def _new_uid() -> str:
        return secrets.token_hex(8)

    # ----------------------------------------------------------- lifecycle

    def renew_uid(self) -> None:
        """Draws a new server id (a forked copy of this adapter must not share it)."""
        super().renew_uid()
        self.response_channel = f"{self.channel}{self.uid}#"

    async def _subscribe(self) -> None:
        await self.link.subscribe(self.channel, self._on_raw)
        await self.link.subscribe(self.response_channel, self._on_raw)
        for room in list(self.rooms):
            self.room_created(room)

    async def _unsubscribe(self) -> None:
        await self.link.unsubscribe(self.channel, self._on_raw)
        await self.link.unsubscribe(self.response_channel, self._on_raw)
        for room in list(self.rooms):
            if self._own_channel(room):
                await self.link.unsubscribe(self._room_channel(room), self._on_raw)

    async def server_count(self) -> int:
        """``PUBSUB SHARDNUMSUB`` of the namespace channel, summed over the masters."""
        return await self.link.count_subscribers(self.channel, "counting the servers")

    def _own_channel(self, room: str) -> bool:
        mode = self.options.subscription_mode
        if mode is SubscriptionMode.DYNAMIC_PRIVATE:
            return True
        return mode is SubscriptionMode.DYNAMIC and room not in self.sids

    def _room_channel(self, room: str) -> str:
        return f"{self.channel}{room}#"

    def room_created(self, room: str) -> None:
        """Subscribes to the room's own channel in the dynamic modes (see :meth:`settled`)."""
        if self._started and self._own_channel(room):
            task = self.link.subscribe_soon(self._room_channel(room), self._on_raw)
            self._room_subscriptions.add(task)
            task.add_done_callback(self._room_subscriptions.discard)

    async def settled(self) -> None:
        """Returns once the room channels subscribed so far are confirmed by Redis (or
        it is unreachable): a broadcast another server sends them from then on arrives."""
        if self._room_subscriptions:
            await asyncio.wait(set(self._room_subscriptions))

    def room_deleted(self, room: str) -> None:
        """Drops the room's own channel."""
        if self._started and self.options.subscription_mode is not SubscriptionMode.STATIC:
            self.link.unsubscribe_soon(self._room_channel(room))

    # ----------------------------------------------------------- outgoing

    def _publish(self, kind: MessageType, data: dict[str, JSONValue] | None, what: Kind) -> None:
        message: dict[str, JSONValue] = {"uid": self.uid, "nsp": self.nsp.name, "type": int(kind)}
        if data is not None:
            message["data"] = data
        channel = self.channel
        if kind == MessageType.BROADCAST and "requestId" not in (data or {}):
            rooms = (data or {})["opts"]["rooms"]
            mode = self.options.subscription_mode
            if len(rooms) == 1 and (
                mode is SubscriptionMode.DYNAMIC_PRIVATE
                or (mode is SubscriptionMode.DYNAMIC and len(rooms[0]) != _SOCKET_ID_LENGTH)
            ):
                channel = self._room_channel(rooms[0])
        self.link.publish(channel, _encode(message), what)

    async def _publish_wait(self, kind: MessageType, data: dict[str, JSONValue], what: str) -> None:
        message = {"uid": self.uid, "nsp": self.nsp.name, "type": int(kind), "data": data}
        await self.link.publish_wait(self.channel, _encode(message), Kind.REQUEST, what)

    def _respond(self, requester: str, kind: MessageType, data: dict[str, JSONValue]) -> None:
        message = {"uid": self.uid, "nsp": self.nsp.name, "type": int(kind), "data": data}
        self.link.publish(f"{self.channel}{requester}#", _encode(message), Kind.RESPONSE)

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        """Delivers locally and publishes to the other servers (unless ``local``)."""
        if not opts.flags.local and self._cluster_ready("broadcast"):
            data = packet.data
            assert isinstance(data, list)
            self._publish(
                MessageType.BROADCAST,
                {"packet": packet_object(self.nsp.name, data), "opts": encode_opts(opts)},
                Kind.BROADCAST,
            )
        super().broadcast(packet, opts)

    def _publish_broadcast_with_ack(
        self, request_id: str, packet: Packet, opts: BroadcastOptions
    ) -> None:
        data = packet.data
        assert isinstance(data, list)
        self._publish(
            MessageType.BROADCAST,
            {
                "packet": packet_object(self.nsp.name, data),
                "requestId": request_id,
                "opts": encode_opts(opts, timeout=True),
            },
            Kind.REQUEST,
        )

    def _remote_operation(
        self, kind: MessageType, opts: BroadcastOptions, extra: dict[str, JSONValue]
    ) -> None:
        if not opts.flags.local and self._cluster_ready(kind.name.lower()):
            self._publish(kind, {"opts": encode_opts(opts), **extra}, Kind.REQUEST)

    async def _publish_request(
        self, kind: MessageType, request_id: str, body: dict[str, JSONValue], what: str
    ) -> None:
        await self._publish_wait(kind, {**body, "requestId": request_id}, what)

    async def _fetch_remote(self, opts: BroadcastOptions) -> list[JSONValue]:
        return await self._request(
            MessageType.FETCH_SOCKETS, "fetch_sockets", {"opts": encode_opts(opts)}
        )

    async def server_side_emit(self, args: list[JSONValue]) -> None:
        """Sends ``[event, *args]`` to the other servers."""
        await self.init()
        await self._publish_wait(
            MessageType.SERVER_SIDE_EMIT, {"packet": args}, f"server_side_emit {args[0]!r}"
        )

    async def server_side_emit_with_ack(self, args: list[JSONValue]) -> list[JSONValue]:
        """Sends ``[event, *args]`` and returns one reply per other server."""
        await self.init()
        return await self._request(
            MessageType.SERVER_SIDE_EMIT,
            f"server_side_emit_with_ack {args[0]!r}",
            {"packet": args},
        )

    # ----------------------------------------------------------- incoming

    def _on_raw(self, channel: str, data: bytes) -> None:
        try:
            message = decode_body(data)
            if not isinstance(message, dict):
                raise WireError("a message is a map")
            if channel == self.response_channel:
                self._on_response(message)
            else:
                self._on_message(message)
        except (WireError, LocalProtocolError, TypeError, KeyError) as exc:
            logger.debug("ignoring a bad message on %s: %s", channel, exc)

    def _on_message(self, message: dict[str, JSONValue]) -> None:
        uid = message.get("uid")
        if uid == self.uid or message.get("nsp", self.nsp.name) != self.nsp.name:
            return
        if isinstance(uid, str) and uid != EMITTER_UID:
            self.peers.saw(uid)
        kind = message.get("type")
        data = message.get("data")
        if kind in (MessageType.HEARTBEAT, MessageType.INITIAL_HEARTBEAT):
            return
        if kind == MessageType.ADAPTER_CLOSE:
            if isinstance(uid, str):
                self.peers.forget(uid)
                for _, gather in self._requests.values():
                    gather.drop(uid)
            return
        if not isinstance(data, dict):
            if kind in _RESPONSES:
                return
            raise WireError("data must be a map")
        if kind == MessageType.BROADCAST:
            event = event_data(data.get("packet"), self.nsp.name)
            if event is None:
                return
            opts = decode_opts(data.get("opts"))
            request_id = data.get("requestId")
            if request_id is None:
                Adapter.broadcast(self, Packet.event(self.nsp.name, event), opts)
            elif isinstance(uid, str):
                self._remote_broadcast_with_ack(uid, request_id, event, opts)
        elif kind == MessageType.SOCKETS_JOIN:
            rooms = decode_opts({"rooms": data.get("rooms")}).rooms
            Adapter.add_sockets(self, decode_opts(data.get("opts")), rooms)
        elif kind == MessageType.SOCKETS_LEAVE:
            rooms = decode_opts({"rooms": data.get("rooms")}).rooms
            Adapter.del_sockets(self, decode_opts(data.get("opts")), rooms)
        elif kind == MessageType.DISCONNECT_SOCKETS:
            Adapter.disconnect_sockets(self, decode_opts(data.get("opts")), bool(data.get("close")))
        elif kind == MessageType.FETCH_SOCKETS:
            if not isinstance(uid, str):
                return
            sockets = []
            for sid in self.targets(decode_opts(data.get("opts"))):
                details = self.nsp.socket_details(sid)
                if details is not None:
                    sockets.append(encode_details(details))
            self._respond(
                uid,
                MessageType.FETCH_SOCKETS_RESPONSE,
                {"requestId": data.get("requestId"), "sockets": sockets},
            )
        elif kind == MessageType.SERVER_SIDE_EMIT:
            args = data.get("packet")
            if not isinstance(args, list) or not args:
                raise WireError("server-side event packet must be a non-empty list")
            request_id = data.get("requestId")
            ack = None
            if request_id is not None and isinstance(uid, str):
                ack = self._server_side_ack(uid, request_id)
            self.nsp.server_side_event(args, ack)
        elif kind in _RESPONSES:
            self._on_response(message)

    def _server_side_ack(self, requester: str, request_id: JSONValue) -> ServerSideAck:
        def answer(value: JSONValue) -> None:
            self._respond(
                requester,
                MessageType.SERVER_SIDE_EMIT_RESPONSE,
                {"requestId": request_id, "packet": value},
            )

        return self._once(answer)

    def _remote_broadcast_with_ack(
        self, requester: str, request_id: JSONValue, event: list[JSONValue], opts: BroadcastOptions
    ) -> None:
        # no ack id: local_broadcast_with_ack picks one all local recipients can take
        packet = Packet.event(self.nsp.name, event)

        def ack(args: list[JSONValue]) -> None:
            self._respond(
                requester,
                MessageType.BROADCAST_ACK,
                {"requestId": request_id, "packet": args[0] if args else None},
            )

        count = self.local_broadcast_with_ack(packet, opts, ack)
        self._respond(
            requester,
            MessageType.BROADCAST_CLIENT_COUNT,
            {"requestId": request_id, "clientCount": count},
        )
        if count:
            self._forget_acks_later(opts, ack)

    def _on_response(self, message: dict[str, JSONValue]) -> None:
        data = message.get("data")
        if not isinstance(data, dict):
            return
        kind = message.get("type")
        pending = self._pending_reply(data.get("requestId"), message.get("uid"), kind, data)
        if pending is None:
            return
        _, gather, uid = pending
        if kind == MessageType.FETCH_SOCKETS_RESPONSE:
            sockets = data.get("sockets")
            gather.add(uid, sockets if isinstance(sockets, list) else [])
        elif kind == MessageType.SERVER_SIDE_EMIT_RESPONSE:
            gather.add(uid, [data.get("packet")])


_RESPONSES = frozenset(
    {
        MessageType.FETCH_SOCKETS_RESPONSE,
        MessageType.SERVER_SIDE_EMIT_RESPONSE,
        MessageType.BROADCAST_CLIENT_COUNT,
        MessageType.BROADCAST_ACK,
    }
)


class ShardedRedisAdapterFactory(
    PubSubAdapterFactory[ShardedRedisLink, ShardedRedisAdapterOptions]
):
    """Makes one :class:`ShardedRedisAdapter` per namespace, all on one
    :class:`ShardedRedisLink`."""

    def __call__(self, nsp: SocketEmitter) -> ShardedRedisAdapter:
        return ShardedRedisAdapter(nsp, self.link, self.options)


def create_sharded_adapter(
    url: str = "redis://127.0.0.1:7000",
    *,
    channel_prefix: str = "socket.io",
    subscription_mode: SubscriptionMode | str = SubscriptionMode.DYNAMIC,
    requests_timeout: float = 5.0,
    max_backlog: int = 10_000,
    command_timeout: float = 5.0,
) -> ShardedRedisAdapterFactory:
    """An adapter factory for ``plexio.Server(adapter=...)`` on Redis Cluster sharded pub/sub.

    Wire-compatible with Node's ``createShardedAdapter(pub, sub, {channelPrefix,
    subscriptionMode})`` from ``@socket.io/redis-adapter`` 8 (Redis >= 7).

    Args:
        url: ``redis://host:port`` of any node of the cluster.
        channel_prefix: must match the other servers'.
        subscription_mode: ``"static"``, ``"dynamic"`` (default) or ``"dynamic-private"``.
        requests_timeout: seconds to wait for replies (fetch_sockets,
            server_side_emit_with_ack).
        max_backlog: most messages queued for Redis at once.
        command_timeout: seconds a Redis command may take before Redis counts as
            unreachable.
    """
    return ShardedRedisAdapterFactory(
        ShardedRedisLink(url, max_backlog=max_backlog, command_timeout=command_timeout),
        ShardedRedisAdapterOptions(
            channel_prefix, SubscriptionMode(subscription_mode), requests_timeout
        ),
    )
