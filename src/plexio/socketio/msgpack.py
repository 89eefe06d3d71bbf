"""MessagePack Socket.IO parser (layer L1; needs the optional ``msgpack`` package).

May import only plexio L0 modules and :mod:`plexio.socketio`; no asyncio, no Engine.IO.

Wire-compatible with the npm package ``socket.io-msgpack-parser`` 3.x: every packet is
one Engine.IO *binary* message holding one MessagePack map::

    {"type": <0..4>, "data": <payload, omitted when absent>, "nsp": "/...", "id": <ack id>}

Binary values stay inline as MessagePack ``bin``; there are no placeholders and no
BINARY_EVENT/BINARY_ACK types on this wire. Keys the peer adds (the JS client sends
``options: {compress: ...}``) are ignored. Payload rules are those of
:class:`~plexio.socketio.packets.Packet`.

Extension types follow ``notepack.io``, the MessagePack codec of the npm parser:

* ``undefined`` is written as fixext 1 of type 0 (the Node server sends it, e.g. the
  ``pid`` of a CONNECT reply). At the top of the packet it means "absent"; inside the
  payload it decodes as ``None``.
* a ``Date`` is fixext 8 of type 0 (milliseconds since the epoch as a signed 64-bit
  int); it decodes as an aware UTC :class:`~datetime.datetime`, and a ``datetime``
  we send is written that way (naive ones are taken as UTC).
* a Node ``ArrayBuffer``/typed array is ext 8/16/32 of type 0; it decodes as ``bytes``.
* any other extension type decodes as ``[type, bytes]``, as notepack returns it.

The Python ``msgpack`` unpacker does not say whether an extension came as fixext or as
ext 8, so a 1-byte ``b"\\x00"`` or an 8-byte type-0 extension is ambiguous; the decoder
looks for the exact header bytes in the message and prefers ``undefined``/``Date``
when it cannot tell. MessagePack timestamps (type -1, used by Python peers) decode as
aware ``datetime`` objects.
"""

from __future__ import annotations

import datetime
import struct
import threading
from typing import Final

import msgpack

from plexio.config import Limits
from plexio.exceptions import (
    DecodeError,
    InvalidPacketError,
    LocalProtocolError,
    PayloadTooLargeError,
)
from plexio.socketio.packets import Packet, PacketType
from plexio.typing import BytesLike, JSONValue, mypyc_attr

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
_EPOCH: Final = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_MILLISECOND: Final = datetime.timedelta(milliseconds=1)
_INT64: Final = struct.Struct(">q")
# notepack's headers for the two ambiguous cases (fixext form, ext 8 form).
_UNDEFINED_FIXEXT: Final = b"\xd4\x00\x00"
_UNDEFINED_EXT8: Final = b"\xc7\x01\x00\x00"
_DATE_FIXEXT: Final = b"\xd7\x00"
_DATE_EXT8: Final = b"\xc7\x08\x00"


class _Undefined:
    """JavaScript ``undefined`` while a packet is being decoded (never returned)."""

    __slots__ = ()


_UNDEFINED: Final = _Undefined()


def _encode_default(value: object) -> object:
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return msgpack.ExtType(0, _INT64.pack((value - _EPOCH) // _MILLISECOND))
    raise TypeError(f"Type is not MessagePack serializable: {type(value).__name__}")


def _drop_undefined(data: JSONValue) -> JSONValue:
    """Replace nested ``undefined`` markers by ``None`` (iteratively, in place)."""
    kind = type(data)
    stack: list[JSONValue] = [data] if kind is list or kind is dict else []
    while stack:
        node = stack.pop()
        items = enumerate(node) if type(node) is list else node.items()
        for key, child in items:
            if child is _UNDEFINED:
                node[key] = None
            elif type(child) is list or type(child) is dict:
                stack.append(child)
    return data


# Applications may subclass it, also when compiled by mypyc.
@mypyc_attr(allow_interpreted_subclasses=True)
class MsgPackParser:
    """Socket.IO parser speaking ``socket.io-msgpack-parser`` (shareable, thread-safe).

    It keeps one reusable ``msgpack.Packer`` per thread (building a packer per call
    would cost more than the packing itself); it has no other state.
    """

    __slots__ = ("_local",)

    def __init__(self) -> None:
        self._local = threading.local()

    def encode(self, packet: Packet) -> list[str | bytes]:
        """Encode ``packet`` as one binary message; see :class:`~plexio.socketio.Parser`.

        Raises:
            InvalidPacketError: the data holds a value MessagePack cannot encode (an
                unsupported type, an int beyond 64 bits).
        """
        obj: dict[str, JSONValue] = {"type": int(packet.type)}
        if packet.data is not None:
            obj["data"] = packet.data
        obj["nsp"] = packet.namespace
        if packet.ack_id is not None:
            obj["id"] = packet.ack_id
        try:
            packer = self._local.packer
        except AttributeError:
            packer = self._local.packer = msgpack.Packer(default=_encode_default)
        try:
            return [packer.pack(obj)]
        except (TypeError, ValueError, OverflowError) as exc:
            # A failed pack leaves partial output in the packer's buffer: drop it.
            packer.reset()
            raise InvalidPacketError(f"payload cannot be serialised: {exc}") from None

    def decoder(self, limits: Limits | None = None) -> MsgPackDecoder:
        """Make a :class:`MsgPackDecoder` for one Engine.IO session."""
        return MsgPackDecoder(limits)

    def __repr__(self) -> str:
        return "MsgPackParser()"


# Applications may subclass it, also when compiled by mypyc.
@mypyc_attr(allow_interpreted_subclasses=True)
class MsgPackDecoder:
    """Per-connection decoder of :class:`MsgPackParser` (see :class:`~plexio.socketio.Decoder`).

    Every packet is complete in one message, so the decoder never waits.

    Args:
        limits: ``max_http_buffer_size`` bounds each message and ``max_ack_id_digits`` the ack id.
    """

    __slots__ = ("_ext_hook", "_limits", "_max_ack_id", "_message", "_undefined")

    def __init__(self, limits: Limits | None = None) -> None:
        self._limits = limits = limits if limits is not None else _DEFAULT_LIMITS
        self._max_ack_id = 10**limits.max_ack_id_digits
        self._ext_hook = self._on_ext  # bound once, not per message
        self._message: bytes = b""
        self._undefined = False

    @property
    def pending(self) -> bool:
        """Always ``False``: MessagePack packets are never split."""
        return False

    def reset(self) -> None:
        """Nothing to drop (kept for the :class:`~plexio.socketio.Decoder` protocol)."""

    def _prefers_fixext(self, fixext: bytes, ext8: bytes) -> bool:
        # Rare path (only for 1- and 8-byte type-0 extensions): look at the header bytes.
        message = self._message
        return fixext in message or ext8 not in message

    def _on_ext(self, code: int, data: bytes) -> object:
        if code != 0:
            return [code, data]
        size = len(data)
        if (
            size == 1
            and data == b"\x00"
            and self._prefers_fixext(_UNDEFINED_FIXEXT, _UNDEFINED_EXT8)
        ):
            self._undefined = True
            return _UNDEFINED
        if size == 8 and self._prefers_fixext(_DATE_FIXEXT + data, _DATE_EXT8 + data):
            return _EPOCH + _INT64.unpack(data)[0] * _MILLISECOND
        return data

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
        if len(message) > self._limits.max_http_buffer_size:
            raise PayloadTooLargeError("packet larger than max_http_buffer_size")
        self._message = message if type(message) is bytes else bytes(message)
        self._undefined = False
        try:
            obj = msgpack.unpackb(self._message, ext_hook=self._ext_hook, timestamp=3)
        except _UNPACK_ERRORS as exc:
            raise DecodeError(f"invalid MessagePack: {exc}") from None
        finally:
            self._message = b""
        if type(obj) is not dict:
            raise DecodeError("a packet must be a MessagePack map")
        kind = obj.get("type")
        if type(kind) is not int or not 0 <= kind < len(_TYPES):
            raise DecodeError("invalid packet type")
        namespace = obj.get("nsp")
        if type(namespace) is not str:
            raise DecodeError("invalid namespace")
        ack_id = obj.get("id")
        data = obj.get("data")
        if self._undefined:  # JS undefined: absent at the top, None inside
            if ack_id is _UNDEFINED:
                ack_id = None
            if data is _UNDEFINED:
                data = None
                del obj["data"]
            else:
                data = _drop_undefined(data)
        if ack_id is not None and type(ack_id) is not int:
            # Checked here, not left to Packet: its mypyc-compiled build refuses a value
            # of the wrong Python type with a TypeError, which is not a DecodeError.
            raise DecodeError("invalid ack id")
        if type(ack_id) is int and ack_id >= self._max_ack_id:
            raise PayloadTooLargeError(
                f"ack id longer than {self._limits.max_ack_id_digits} digits"
            )
        if data is None and "data" in obj:
            raise DecodeError("null payload")
        try:
            return Packet(_TYPES[kind], namespace, data, ack_id)
        except LocalProtocolError as exc:
            raise DecodeError(str(exc)) from None

    def __repr__(self) -> str:
        return "MsgPackDecoder()"
