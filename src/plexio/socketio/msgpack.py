"""MessagePack Socket.IO parser (layer L1; needs the optional ``msgpack`` package).

May import only plexio L0 modules and :mod:`plexio.socketio`; no asyncio, no Engine.IO.

Wire-compatible with the npm package ``socket.io-msgpack-parser`` 3.x: every packet is
one Engine.IO *binary* message holding one MessagePack map::

    {"type": <0..4>, "data": <payload, omitted when absent>, "nsp": "/...", "id": <ack id>}

Binary values stay inline as MessagePack ``bin``; there are no placeholders and no
BINARY_EVENT/BINARY_ACK types on this wire. Keys the peer adds (the JS client sends
``options: {compress: ...}``) are ignored. MessagePack timestamps decode as aware
``datetime`` objects; other extension types are refused. Payload rules are those of
:class:`~plexio.socketio.packets.Packet`.
"""

from __future__ import annotations

from typing import Final

import msgpack

from plexio.config import Limits
from plexio.exceptions import DecodeError, LocalProtocolError, PayloadTooLargeError
from plexio.socketio.packets import Packet, PacketType
from plexio.typing import BytesLike, JSONValue

__all__ = ["MsgPackDecoder", "MsgPackParser"]

_TYPES: Final = (
    PacketType.CONNECT,
    PacketType.DISCONNECT,
    PacketType.EVENT,
    PacketType.ACK,
    PacketType.CONNECT_ERROR,
)
_DEFAULT_LIMITS: Final = Limits()
_UNPACK_ERRORS: Final = (ValueError, TypeError, OverflowError, msgpack.UnpackException)


def _refuse_ext(code: int, data: bytes) -> object:
    raise DecodeError(f"unsupported MessagePack extension type {code}")


class MsgPackParser:
    """Socket.IO parser speaking ``socket.io-msgpack-parser`` (stateless, shareable)."""

    __slots__ = ()

    def encode(self, packet: Packet) -> list[str | bytes]:
        """Encode ``packet`` as one binary message; see :class:`~plexio.socketio.Parser`.

        Raises:
            LocalProtocolError: the data holds a value MessagePack cannot encode (an
                unsupported type, an int beyond 64 bits).
        """
        obj: dict[str, JSONValue] = {"type": int(packet.type)}
        if packet.data is not None:
            obj["data"] = packet.data
        obj["nsp"] = packet.namespace
        if packet.ack_id is not None:
            obj["id"] = packet.ack_id
        try:
            return [msgpack.packb(obj)]
        except (TypeError, ValueError, OverflowError) as exc:
            raise LocalProtocolError(f"payload cannot be serialised: {exc}") from None

    def decoder(self, limits: Limits | None = None) -> MsgPackDecoder:
        """Make a :class:`MsgPackDecoder` for one Engine.IO session."""
        return MsgPackDecoder(limits)

    def __repr__(self) -> str:
        return "MsgPackParser()"


class MsgPackDecoder:
    """Per-connection decoder of :class:`MsgPackParser` (see :class:`~plexio.socketio.Decoder`).

    Every packet is complete in one message, so the decoder never waits.

    Args:
        limits: ``max_payload`` bounds each message and ``max_ack_id_digits`` the ack id.
    """

    __slots__ = ("_limits", "_max_ack_id")

    def __init__(self, limits: Limits | None = None) -> None:
        self._limits = limits = limits if limits is not None else _DEFAULT_LIMITS
        self._max_ack_id = 10**limits.max_ack_id_digits

    @property
    def pending(self) -> bool:
        """Always ``False``: MessagePack packets are never split."""
        return False

    def reset(self) -> None:
        """Nothing to drop (kept for the :class:`~plexio.socketio.Decoder` protocol)."""

    def feed(self, message: str | BytesLike) -> Packet:
        """Decode one binary Engine.IO message.

        Raises:
            DecodeError: a text message, invalid MessagePack or an invalid packet.
            TypeError: ``message`` is neither ``str`` nor bytes-like (caller bug).
        """
        if type(message) is str:
            raise DecodeError("the msgpack parser accepts binary messages only")
        if not isinstance(message, bytes | bytearray | memoryview):
            raise TypeError(f"expected str or bytes-like, got {type(message).__name__}")
        if len(message) > self._limits.max_payload:
            raise PayloadTooLargeError("packet larger than max_payload")
        try:
            obj = msgpack.unpackb(message, ext_hook=_refuse_ext, timestamp=3)
        except _UNPACK_ERRORS as exc:
            raise DecodeError(f"invalid MessagePack: {exc}") from None
        if type(obj) is not dict:
            raise DecodeError("a packet must be a MessagePack map")
        kind = obj.get("type")
        if type(kind) is not int or not 0 <= kind < len(_TYPES):
            raise DecodeError("invalid packet type")
        namespace = obj.get("nsp")
        if type(namespace) is not str:
            raise DecodeError("invalid namespace")
        ack_id = obj.get("id")
        if ack_id is not None and type(ack_id) is int and ack_id >= self._max_ack_id:
            raise PayloadTooLargeError(
                f"ack id longer than {self._limits.max_ack_id_digits} digits"
            )
        data = obj.get("data")
        if data is None and "data" in obj:
            raise DecodeError("null payload")
        try:
            return Packet(_TYPES[kind], namespace, data, ack_id)
        except LocalProtocolError as exc:
            raise DecodeError(str(exc)) from None

    def __repr__(self) -> str:
        return "MsgPackDecoder()"
