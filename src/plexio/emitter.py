"""Send to a Socket.IO cluster through Redis without being a server (``@socket.io/redis-emitter``).

A worker, a cron job or a REST handler in another process reaches the clients of every
server of a cluster that uses the Redis adapter (plexio's or Node's ``createAdapter``),
in the same format as Node's ``@socket.io/redis-emitter`` 5::

    from plexio.emitter import Emitter

    emitter = Emitter("redis://127.0.0.1:6379")
    await emitter.emit("news", {"title": "..."})
    await emitter.to("room1").except_("room2").emit("hello")
    await emitter.of("/admin").volatile.emit("tick", 1)
    await emitter.in_("room1").sockets_join("room2")
    await emitter.disconnect_sockets(close=True)
    await emitter.server_side_emit("refresh", 42)  # no replies: an emitter has no uid
    await emitter.aclose()

Needs the ``redis`` extra. Every method returns once Redis took the message and raises
:class:`~plexio.exceptions.ClusterError` when Redis is unreachable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from plexio.exceptions import ClusterError, InvalidPacketError
from plexio.server.adapters.redis.wire import (
    EMITTER_UID,
    RequestType,
    pack,
    packet_object,
    to_json,
)
from plexio.socketio.packets import RESERVED_EVENTS
from plexio.typing import JSONValue

__all__ = ["Emitter", "EmitterOperator"]


@dataclass(frozen=True, slots=True)
class _Target:
    rooms: frozenset[str] = frozenset()
    except_rooms: frozenset[str] = frozenset()
    flags: dict[str, bool] = field(default_factory=dict)


def _as_rooms(rooms: str | Iterable[str]) -> frozenset[str]:
    return frozenset((rooms,)) if isinstance(rooms, str) else frozenset(rooms)


class _Wire:
    """One namespace's channels on the cluster's Redis and the sends on them: the adapter
    protocol's channel names and payloads, not an API of the emitter (Node's
    @socket.io/redis-emitter has none either). Shared by an emitter and its operators."""

    __slots__ = ("client", "key", "nsp")

    def __init__(self, client: aioredis.Redis, key: str, nsp: str) -> None:
        self.client = client
        self.key = key
        self.nsp = nsp

    async def publish_event(self, room: str | None, payload: bytes) -> int:
        """Publishes a broadcast (MessagePack) on the namespace's channel, or on
        ``room``'s own one; how many servers got it."""
        channel = f"{self.key}#{self.nsp}#"
        if room is not None:
            channel = f"{channel}{room}#"
        return await self._publish(channel, payload)

    async def publish_request(self, body: dict[str, JSONValue]) -> int:
        """Publishes a request (JSON) on the namespace's request channel; how many
        servers got it.

        Raises:
            ClusterError: Redis is unreachable.
        """
        return await self._publish(f"{self.key}-request#{self.nsp}#", to_json(body))

    async def _publish(self, channel: str, payload: bytes) -> int:
        try:
            return int(await self.client.publish(channel, payload))
        except (RedisError, OSError) as exc:
            raise ClusterError(f"Redis is unreachable ({exc}): nothing was sent") from exc


class EmitterOperator:
    """Targeting built by :class:`Emitter` (``to``, ``except_``, ``volatile``...)."""

    __slots__ = ("_wire", "_target")

    def __init__(self, wire: _Wire, target: _Target) -> None:
        self._wire = wire
        self._target = target

    def to(self, room: str | Iterable[str]) -> EmitterOperator:
        """Adds target rooms."""
        return EmitterOperator(
            self._wire, replace(self._target, rooms=self._target.rooms | _as_rooms(room))
        )

    in_ = to

    def except_(self, room: str | Iterable[str]) -> EmitterOperator:
        """Excludes the sockets of these rooms."""
        return EmitterOperator(
            self._wire,
            replace(self._target, except_rooms=self._target.except_rooms | _as_rooms(room)),
        )

    @property
    def volatile(self) -> EmitterOperator:
        """The event may be dropped for clients that are not ready."""
        return EmitterOperator(
            self._wire, replace(self._target, flags={**self._target.flags, "volatile": True})
        )

    def compress(self, compress: bool) -> EmitterOperator:
        """Sets the compress flag."""
        return EmitterOperator(
            self._wire, replace(self._target, flags={**self._target.flags, "compress": compress})
        )

    def _opts(self) -> dict[str, JSONValue]:
        return {"rooms": sorted(self._target.rooms), "except": sorted(self._target.except_rooms)}

    async def emit(self, event: str, *args: JSONValue) -> int:
        """Sends an event to the targeted clients of every server.

        Returns:
            How many Redis subscribers got it (one per server of the cluster).

        Raises:
            InvalidPacketError: a reserved event name (as on the server and the client;
                a ValueError too).
            ClusterError: Redis is unreachable.
        """
        if event in RESERVED_EVENTS:
            raise InvalidPacketError(f"event name {event!r} is reserved")
        wire = self._wire
        opts = {**self._opts(), "flags": dict(self._target.flags)}
        payload = pack([EMITTER_UID, packet_object(wire.nsp, [event, *args]), opts])
        rooms = self._target.rooms
        return await wire.publish_event(next(iter(rooms)) if len(rooms) == 1 else None, payload)

    async def sockets_join(self, rooms: str | Iterable[str]) -> int:
        """Makes the targeted sockets of every server join rooms."""
        body = {"type": int(RequestType.REMOTE_JOIN), "opts": self._opts(), "rooms": _list(rooms)}
        return await self._wire.publish_request(body)

    async def sockets_leave(self, rooms: str | Iterable[str]) -> int:
        """Makes the targeted sockets of every server leave rooms."""
        body = {"type": int(RequestType.REMOTE_LEAVE), "opts": self._opts(), "rooms": _list(rooms)}
        return await self._wire.publish_request(body)

    async def disconnect_sockets(self, close: bool = False) -> int:
        """Disconnects the targeted sockets of every server."""
        body = {"type": int(RequestType.REMOTE_DISCONNECT), "opts": self._opts(), "close": close}
        return await self._wire.publish_request(body)


def _list(rooms: str | Iterable[str]) -> list[str]:
    return [rooms] if isinstance(rooms, str) else list(rooms)


class Emitter:
    """Publishes to a Socket.IO cluster's Redis channels (one namespace).

    Args:
        redis: a ``redis://`` URL, or a ``redis.asyncio.Redis`` client of your own
            (then :meth:`aclose` leaves it open).
        key: the channel prefix of the cluster's adapters.
        nsp: the namespace.
    """

    def __init__(
        self,
        redis: str | aioredis.Redis = "redis://127.0.0.1:6379",
        *,
        key: str = "socket.io",
        nsp: str = "/",
    ) -> None:
        if isinstance(redis, str):
            self.client = aioredis.Redis.from_url(redis)
            self._owns = True
        else:
            self.client = redis
            self._owns = False
        self.key = key
        self.nsp = nsp if nsp.startswith("/") else "/" + nsp
        self._wire = _Wire(self.client, self.key, self.nsp)

    def of(self, nsp: str) -> Emitter:
        """The same emitter for another namespace (sharing the Redis client)."""
        other = Emitter(self.client, key=self.key, nsp=nsp)
        return other

    def _operator(self) -> EmitterOperator:
        return EmitterOperator(self._wire, _Target())

    def to(self, room: str | Iterable[str]) -> EmitterOperator:
        """Clients in ``room``."""
        return self._operator().to(room)

    in_ = to

    def except_(self, room: str | Iterable[str]) -> EmitterOperator:
        """Every client except those in ``room``."""
        return self._operator().except_(room)

    @property
    def volatile(self) -> EmitterOperator:
        """Events that may be dropped for clients that are not ready."""
        return self._operator().volatile

    def compress(self, compress: bool) -> EmitterOperator:
        """Sets the compress flag."""
        return self._operator().compress(compress)

    async def emit(self, event: str, *args: JSONValue) -> int:
        """Sends an event to every client of the namespace, on every server."""
        return await self._operator().emit(event, *args)

    async def sockets_join(self, rooms: str | Iterable[str]) -> int:
        """Makes every socket join rooms."""
        return await self._operator().sockets_join(rooms)

    async def sockets_leave(self, rooms: str | Iterable[str]) -> int:
        """Makes every socket leave rooms."""
        return await self._operator().sockets_leave(rooms)

    async def disconnect_sockets(self, close: bool = False) -> int:
        """Disconnects every socket."""
        return await self._operator().disconnect_sockets(close)

    async def server_side_emit(self, event: str, *args: JSONValue) -> int:
        """Sends an event to every server's ``on_server_side_emit`` handlers (no replies)."""
        if event in RESERVED_EVENTS:
            raise InvalidPacketError(f"event name {event!r} is reserved")
        body = {
            "uid": EMITTER_UID,
            "type": int(RequestType.SERVER_SIDE_EMIT),
            "data": [event, *args],
        }
        return await self._wire.publish_request(body)

    async def aclose(self) -> None:
        """Closes the Redis client if the emitter made it."""
        if self._owns:
            await self.client.aclose()
