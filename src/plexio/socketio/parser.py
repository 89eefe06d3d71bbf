"""Socket.IO v5 parsers: packets ↔ Engine.IO messages (layer L1).

May import only plexio L0 modules and :mod:`plexio.socketio`; no asyncio, no Engine.IO.

A :class:`Parser` is stateless and shared by a whole server: :meth:`Parser.encode`
turns one :class:`~plexio.socketio.packets.Packet` into the Engine.IO messages to send,
in order (``str`` = text message, ``bytes`` = binary message). A broadcast is encoded
once and the same list is written to every recipient. Decoding needs per-connection
state (a binary packet spans several messages), so :meth:`Parser.decoder` makes one
:class:`Decoder` per Engine.IO session.

:class:`JsonParser` is the default, wire-compatible with the reference
``socket.io-parser`` 4.x. Text layout (Socket.IO v5, PROTOCOL.md items 45-55)::

    <type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]

The namespace (with its comma) is written only when it is not ``/``; the decoder
also accepts a namespace that ends the message without a comma (``40/custom``).

JSON details (orjson), decided here once:

* Numbers follow JavaScript: an integer literal beyond the 64-bit range decodes as a
  float, exactly as ``JSON.parse`` would (a JS client writes ``1e20`` as
  ``100000000000000000000``, so refusing it would drop legitimate clients); a literal
  that overflows a double raises :class:`DecodeError`. orjson never builds
  arbitrary-precision integers, so no literal can make decoding slow; the ack id
  (``Limits.max_ack_id_digits``) and attachment count (``Limits.max_attachments``)
  are the only integers parsed by hand. On *encode*, an ``int`` outside the 64-bit
  range raises :class:`InvalidPacketError` rather than silently losing precision.
* Dict keys that are not ``str`` (int, float, bool, None) are converted to strings on
  encode, as ``JSON.stringify`` and the stdlib ``json`` module do; they come back as
  ``str``.
* NaN and infinities encode as ``null`` (as ``JSON.stringify`` writes them).
* Nesting deeper than orjson's limit (1024) raises :class:`DecodeError`.
"""

from __future__ import annotations

from typing import Final, Protocol

import orjson

from plexio.config import Limits
from plexio.exceptions import (
    DecodeError,
    InvalidPacketError,
    LocalProtocolError,
    PayloadTooLargeError,
)
from plexio.socketio.attachments import AttachmentCollector, reinsert
from plexio.socketio.packets import Packet, PacketType
from plexio.typing import BytesLike, JSONValue, mypyc_attr

__all__ = ["Decoder", "JsonDecoder", "JsonParser", "Parser"]


class Decoder(Protocol):
    """Per-connection decoding state of a :class:`Parser`."""

    def feed(self, message: str | BytesLike) -> Packet | None:
        """Decode one Engine.IO message.

        Args:
            message: a text (``str``) or binary (bytes-like) Engine.IO message, in
                the order they arrived.

        Returns:
            The complete packet, or ``None`` while a binary packet still waits for
            attachments (feed the next message).

        Raises:
            DecodeError: the message is invalid (subclass
                :class:`PayloadTooLargeError` for a limit). The peer broke the
                protocol: close its Engine.IO session. The decoder drops any partial
                packet, so it is clean again (but nothing should be fed after this).
        """
        ...

    @property
    def pending(self) -> bool:
        """Whether a binary packet is waiting for more attachments."""
        ...

    def reset(self) -> None:
        """Drop a partially received packet (call when the session ends)."""
        ...


class Parser(Protocol):
    """A Socket.IO packet codec (stateless; share one per server)."""

    def encode(self, packet: Packet) -> list[str | bytes]:
        """Encode ``packet`` as the Engine.IO messages to send, in order.

        Args:
            packet: the packet to send.

        Returns:
            ``str`` items are text messages, ``bytes`` items binary messages. The list
            may be written to any number of sessions.

        Raises:
            InvalidPacketError: the data cannot be serialised.
        """
        ...

    def decoder(self, limits: Limits | None = None) -> Decoder:
        """Make the decoding state for one Engine.IO session.

        Args:
            limits: input limits (defaults: ``Limits()``).
        """
        ...


_EVENT: Final = PacketType.EVENT
_ACK: Final = PacketType.ACK
_BINARY_EVENT: Final = PacketType.BINARY_EVENT
_BINARY_ACK: Final = PacketType.BINARY_ACK
_TYPE_BY_CHAR: Final[dict[str, PacketType]] = {str(int(t)): t for t in PacketType}
_DIGIT_CHARS: Final = "0123456789"
_DIGITS: Final = frozenset(_DIGIT_CHARS)
_NON_STR_KEYS: Final = orjson.OPT_NON_STR_KEYS
_DEFAULT_LIMITS: Final = Limits()


def _dumps_plain(data: JSONValue) -> str:
    """Serialise a payload that must not contain binary (CONNECT, CONNECT_ERROR)."""
    try:
        return orjson.dumps(data).decode()
    except TypeError:
        pass
    try:
        return orjson.dumps(data, option=_NON_STR_KEYS).decode()
    except TypeError as exc:
        raise InvalidPacketError(f"payload cannot be serialised: {exc}") from None


# Applications may subclass it, also when compiled by mypyc.
@mypyc_attr(allow_interpreted_subclasses=True)
class JsonParser:
    """The default Socket.IO v5 parser (text packets, binary attachments).

    Stateless and thread-safe; one instance can serve every connection.
    """

    __slots__ = ()

    def encode(self, packet: Packet) -> list[str | bytes]:
        """Encode ``packet``; see :meth:`Parser.encode`.

        An EVENT/ACK whose data contains binary values becomes a
        BINARY_EVENT/BINARY_ACK text message followed by one ``bytes`` message per
        attachment.
        """
        kind = packet.type
        namespace = packet.namespace
        ack_id = packet.ack_id
        data = packet.data
        if kind == _EVENT or kind == _ACK:
            # Fast path: orjson refuses bytes, so success proves there is no binary.
            try:
                body = orjson.dumps(data)
            except TypeError:
                return self._encode_binary(packet)
            if namespace == "/":
                if ack_id is None:
                    return [("2" if kind == _EVENT else "3") + body.decode()]
                return [("2" if kind == _EVENT else "3") + str(ack_id) + body.decode()]
            head = ("2" if kind == _EVENT else "3") + namespace + ","
            if ack_id is not None:
                head += str(ack_id)
            return [head + body.decode()]
        head = str(int(kind))
        if namespace != "/":
            head += namespace + ","
        if data is None:
            return [head]
        return [head + _dumps_plain(data)]

    @staticmethod
    def _encode_binary(packet: Packet) -> list[str | bytes]:
        collector = AttachmentCollector()
        try:
            body = orjson.dumps(packet.data, default=collector, option=_NON_STR_KEYS)
        except TypeError as exc:
            raise InvalidPacketError(f"payload cannot be serialised: {exc}") from None
        buffers = collector.buffers
        if buffers:
            head = "5" if packet.type == _EVENT else "6"
            head += str(len(buffers)) + "-"
        else:  # only non-str keys made the fast path fail
            head = "2" if packet.type == _EVENT else "3"
        if packet.namespace != "/":
            head += packet.namespace + ","
        if packet.ack_id is not None:
            head += str(packet.ack_id)
        messages: list[str | bytes] = [head + body.decode()]
        messages.extend(buffers)
        return messages

    def decoder(self, limits: Limits | None = None) -> JsonDecoder:
        """Make a :class:`JsonDecoder`; see :meth:`Parser.decoder`."""
        return JsonDecoder(limits)

    def __repr__(self) -> str:
        return "JsonParser()"


# Applications may subclass it, also when compiled by mypyc.
@mypyc_attr(allow_interpreted_subclasses=True)
class JsonDecoder:
    """Per-connection state of :class:`JsonParser` (see :class:`Decoder`).

    Args:
        limits: input limits (defaults: ``Limits()``). ``max_http_buffer_size`` bounds each
            message, ``max_attachments`` the attachment count, ``max_ack_id_digits``
            the ack id.
    """

    __slots__ = (
        "_buffers",
        "_count_digits",
        "_limits",
        "_max_ack_digits",
        "_max_payload",
        "_packet",
        "_wanted",
    )

    def __init__(self, limits: Limits | None = None) -> None:
        self._limits = limits = limits if limits is not None else _DEFAULT_LIMITS
        self._max_payload = limits.max_http_buffer_size
        self._max_ack_digits = limits.max_ack_id_digits
        self._count_digits = len(str(limits.max_attachments))
        self._packet: Packet | None = None
        self._buffers: list[bytes] = []
        self._wanted = 0

    @property
    def pending(self) -> bool:
        """Whether a binary packet is waiting for more attachments."""
        return self._packet is not None

    def reset(self) -> None:
        """Drop a partially received packet."""
        self._packet = None
        self._buffers = []
        self._wanted = 0

    def feed(self, message: str | BytesLike) -> Packet | None:
        """Decode one Engine.IO message; see :meth:`Decoder.feed`.

        Raises:
            DecodeError: invalid input (the partial packet, if any, is dropped).
            TypeError: ``message`` is neither ``str`` nor bytes-like (caller bug).
        """
        if message.__class__ is not str:
            return self._feed_binary(message)
        text: str = message
        if self._packet is not None:
            wanted = self._wanted - len(self._buffers)
            self.reset()
            raise DecodeError(f"text message while {wanted} attachment(s) are pending")
        size = len(text)
        if not size:
            raise DecodeError("empty packet")
        if size > self._max_payload:
            raise PayloadTooLargeError("packet larger than max_http_buffer_size")
        kind = _TYPE_BY_CHAR.get(text[0])
        if kind is None:
            raise DecodeError(f"unknown packet type {text[0]!r}")
        pos = 1
        attachments = 0
        if kind >= 5:  # BINARY_EVENT / BINARY_ACK
            end = text.find("-", 1, 2 + self._count_digits)
            count = text[1:end]
            if end < 0 or not (count.isascii() and count.isdigit()):
                raise DecodeError("invalid attachment count")
            attachments = int(count)
            if attachments < 1:
                raise DecodeError("attachment count must be at least 1")
            if attachments > self._limits.max_attachments:
                raise PayloadTooLargeError(f"more than {self._limits.max_attachments} attachments")
            pos = end + 1
            kind = _EVENT if kind == _BINARY_EVENT else _ACK
        # ``rest`` is what follows the header parsed so far; slicing it again only
        # when a namespace or an ack id is present keeps the common "2[...]" case
        # to a single copy.
        rest = text[pos:]
        namespace = "/"
        if rest[:1] == "/":
            end = rest.find(",")
            if end < 0:  # "0/custom": the namespace ends the message (reference quirk)
                namespace = rest
                rest = ""
            else:
                namespace = rest[:end]
                rest = rest[end + 1 :]
        ack_id = None
        if rest[:1] in _DIGITS:
            payload = rest.lstrip(_DIGIT_CHARS)  # one C-speed scan, however long the run
            digits = len(rest) - len(payload)
            if digits > self._max_ack_digits:
                raise PayloadTooLargeError(f"ack id longer than {self._max_ack_digits} digits")
            ack_id = int(rest[:digits])
            rest = payload
        data: JSONValue = None
        if rest:
            try:
                data = orjson.loads(rest)
            except orjson.JSONDecodeError as exc:
                raise DecodeError(f"invalid JSON payload: {exc}") from None
            if data is None:
                raise DecodeError("null payload")
        try:
            packet = Packet(kind, namespace, data, ack_id)
        except LocalProtocolError as exc:
            raise DecodeError(str(exc)) from None
        if attachments:
            self._packet = packet
            self._wanted = attachments
            return None
        return packet

    def _feed_binary(self, message: str | BytesLike) -> Packet | None:
        if not isinstance(message, bytes | bytearray | memoryview):
            raise TypeError(f"expected str or bytes-like, got {type(message).__name__}")
        packet = self._packet
        if packet is None:
            raise DecodeError("binary message without a pending BINARY_EVENT/BINARY_ACK")
        if len(message) > self._max_payload:
            self.reset()
            raise PayloadTooLargeError("attachment larger than max_http_buffer_size")
        buffers = self._buffers
        buffers.append(bytes(message))
        if len(buffers) < self._wanted:
            return None
        self.reset()
        # The packet was validated when its header arrived; placeholders cannot be the
        # event name (a dict is not a valid name), so filling them in keeps it valid.
        reinsert(packet.data, buffers)
        return packet

    def __repr__(self) -> str:
        return f"JsonDecoder(pending={self.pending})"
