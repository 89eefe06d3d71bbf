"""What goes through Redis, in the formats of Node's @socket.io/redis-adapter 8 (no I/O).

May import: plexio L0, plexio.socketio, plexio.server.broadcast, plexio.server.adapters.base.
Shared by the classic adapter, the sharded adapter and :mod:`plexio.emitter`: channel
names, message types, the MessagePack and JSON codecs (as ``notepack.io`` and
``JSON.stringify`` produce them) and the conversions between plexio values and the
JavaScript objects the Node adapters exchange. See ``../shared/CLUSTER-PROTOCOL.md``.
"""

from __future__ import annotations

import secrets
import string
from enum import IntEnum
from typing import Final

import msgpack
import orjson

from plexio.server.adapters.base import SocketDetails
from plexio.server.broadcast import BroadcastFlags, BroadcastOptions
from plexio.socketio.packets import PacketType
from plexio.typing import JSONValue

__all__ = [
    "EMITTER_UID",
    "MessageType",
    "RequestType",
    "WireError",
    "decode_body",
    "decode_details",
    "decode_opts",
    "encode_details",
    "encode_opts",
    "event_data",
    "has_binary",
    "new_uid",
    "pack",
    "packet_object",
    "to_json",
    "unpack",
]

#: The ``uid`` emitters put in their messages (they have no socket of their own).
EMITTER_UID: Final = "emitter"

_ALPHABET: Final = string.ascii_letters + string.digits


class WireError(ValueError):
    """A message from Redis that does not have the expected shape."""


class RequestType(IntEnum):
    """Message types of the classic adapter's request/response channels."""

    SOCKETS = 0
    ALL_ROOMS = 1
    REMOTE_JOIN = 2
    REMOTE_LEAVE = 3
    REMOTE_DISCONNECT = 4
    REMOTE_FETCH = 5
    SERVER_SIDE_EMIT = 6
    BROADCAST = 7
    BROADCAST_CLIENT_COUNT = 8
    BROADCAST_ACK = 9


class MessageType(IntEnum):
    """Message types of ``ClusterAdapter`` (the sharded adapter's envelope)."""

    INITIAL_HEARTBEAT = 1
    HEARTBEAT = 2
    BROADCAST = 3
    SOCKETS_JOIN = 4
    SOCKETS_LEAVE = 5
    DISCONNECT_SOCKETS = 6
    FETCH_SOCKETS = 7
    FETCH_SOCKETS_RESPONSE = 8
    SERVER_SIDE_EMIT = 9
    SERVER_SIDE_EMIT_RESPONSE = 10
    BROADCAST_CLIENT_COUNT = 11
    BROADCAST_ACK = 12
    ADAPTER_CLOSE = 13


def new_uid(length: int = 6) -> str:
    """A random id of letters and digits (as ``uid2``)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


# ----------------------------------------------------------------- codecs


def pack(value: JSONValue) -> bytes:
    """MessagePack as ``notepack.io`` writes it: ``bytes`` become bin, ``str`` str."""
    try:
        return msgpack.packb(value, use_bin_type=True, datetime=True)  # type: ignore[no-any-return]
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(f"cannot send through Redis: {exc}") from exc


def unpack(data: bytes) -> JSONValue:
    """Decodes MessagePack from Node (bin → ``bytes``, dates → aware ``datetime``)."""
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False, timestamp=3)
    except Exception as exc:  # msgpack raises several unrelated types
        raise WireError(f"not MessagePack: {exc}") from None


def _json_default(value: object) -> JSONValue:
    if isinstance(value, bytes | bytearray | memoryview):
        # what JSON.stringify makes of a Node Buffer
        return {"type": "Buffer", "data": list(bytes(value))}
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(value: JSONValue) -> bytes:
    """JSON as ``JSON.stringify`` writes it (``bytes`` in the Node Buffer shape)."""
    try:
        return orjson.dumps(value, default=_json_default)
    except TypeError as exc:
        raise TypeError(f"cannot send through Redis: {exc}") from exc


def decode_body(data: bytes) -> JSONValue:
    """A request or response body: JSON when it starts with ``{``, else MessagePack."""
    if data[:1] == b"{":
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise WireError(f"bad JSON: {exc}") from None
    return unpack(data)


def has_binary(value: object) -> bool:
    """Whether ``bytes`` occur anywhere in a JSON-like value."""
    if isinstance(value, bytes | bytearray | memoryview):
        return True
    if isinstance(value, list | tuple):
        return any(has_binary(v) for v in value)
    if isinstance(value, dict):
        return any(has_binary(v) for v in value.values())
    return False


# ----------------------------------------------------------------- values


def _room(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WireError(f"bad room {value!r}")
    # a JavaScript number used as a room: its string form
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _rooms(value: object) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        raise WireError("rooms must be a list")
    return frozenset(_room(v) for v in value)


def encode_opts(opts: BroadcastOptions, *, timeout: bool = False) -> dict[str, JSONValue]:
    """``{rooms, except, flags}`` as the Node adapters send them."""
    flags: dict[str, JSONValue] = {}
    f = opts.flags
    if f.volatile:
        flags["volatile"] = True
    if not f.compress:
        flags["compress"] = False
    if timeout and f.timeout is not None:
        flags["timeout"] = round(f.timeout * 1000)
    return {"rooms": sorted(opts.rooms), "except": sorted(opts.except_rooms), "flags": flags}


def decode_opts(raw: object) -> BroadcastOptions:
    """Targeting sent by another server (never ``local``: it was meant for here).

    Raises:
        WireError: not the expected shape.
    """
    if not isinstance(raw, dict):
        raise WireError("opts must be a map")
    flags = raw.get("flags")
    if not isinstance(flags, dict):
        flags = {}
    timeout = flags.get("timeout")
    return BroadcastOptions(
        rooms=_rooms(raw.get("rooms")),
        except_rooms=_rooms(raw.get("except")),
        flags=BroadcastFlags(
            volatile=bool(flags.get("volatile")),
            compress=flags.get("compress") is not False,
            timeout=timeout / 1000
            if isinstance(timeout, int | float) and not isinstance(timeout, bool)
            else None,
        ),
    )


def packet_object(namespace: str, data: list[JSONValue]) -> dict[str, JSONValue]:
    """A socket.io-parser EVENT packet object (binary stays inline, no placeholders)."""
    return {"type": int(PacketType.EVENT), "data": data, "nsp": namespace}


def event_data(raw: object, namespace: str) -> list[JSONValue] | None:
    """The ``[event, *args]`` of a packet object meant for ``namespace``.

    Returns:
        ``None`` when the packet is for another namespace.

    Raises:
        WireError: not an EVENT packet object.
    """
    if not isinstance(raw, dict):
        raise WireError("packet must be a map")
    if raw.get("type") not in (PacketType.EVENT, PacketType.BINARY_EVENT):
        raise WireError(f"packet type {raw.get('type')!r} is not an event")
    if raw.get("nsp", "/") != namespace:
        return None
    data = raw.get("data")
    if not isinstance(data, list) or not data:
        raise WireError("event data must be a non-empty list")
    return data


def encode_details(details: SocketDetails) -> dict[str, JSONValue]:
    """A socket as the Node adapters describe it in fetch responses."""
    return {
        "id": details.id,
        "handshake": details.handshake,
        "rooms": details.rooms,
        "data": details.data,
    }


def decode_details(raw: object) -> SocketDetails:
    """A socket from another server's fetch response.

    Raises:
        WireError: not the expected shape.
    """
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise WireError("socket must be a map with an id")
    handshake = raw.get("handshake")
    rooms = raw.get("rooms")
    return SocketDetails(
        id=raw["id"],
        handshake=handshake if isinstance(handshake, dict) else {},
        rooms=sorted(_rooms(rooms)) if isinstance(rooms, list) else [],
        data=raw.get("data"),
    )
