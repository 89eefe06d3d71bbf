"""RFC 6455 WebSocket frames, server side, sans I/O (layer L4, no asyncio).

May import: the standard library and websockets' C ``apply_mask`` only. The native
listener's WebSocket reads client frames with :class:`FrameReader` and builds its own
frames with :func:`encode_data_frame` and :func:`encode_control_frame`.

:class:`FrameReader` takes bytes as they arrive and returns the complete messages in
them, in order, and what the connection must do beside (answer a ping, the peer's close,
a protocol error with its close code). What it enforces, as RFC 6455 says a server must:

- client frames are masked (section 5.1), unmasked here with websockets' C ``apply_mask``;
- RSV bits are zero unless an extension defines them: RSV1 marks the first frame of a
  compressed message when permessage-deflate (RFC 7692) was negotiated;
- control frames (close, ping, pong) are final and carry at most 125 bytes, and may come
  between the fragments of a message (section 5.4); reserved opcodes are refused;
- a continuation frame continues a fragmented message, a new data frame may not start
  while one is unfinished;
- text messages are UTF-8 (close code 1007 otherwise); a close frame's payload is empty
  or a valid code and a UTF-8 reason (section 7.4);
- a frame or message over ``max_size`` bytes is refused with 1009 as soon as its length
  is known (a compressed message: as soon as it inflates past the limit).

Once the peer's close or an error is seen, the reader ignores what follows.

The common frame (complete, final, masked text or binary, in one read) takes a short
path: its payload is unmasked and decoded straight from the read, without buffering.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import struct
import sys
import zlib

try:  # websockets' C helper; its pure-Python twin when the wheel has no speedups
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - depends on how websockets was built
    from websockets.utils import apply_mask

__all__ = [
    "CloseCode",
    "FrameError",
    "FrameReader",
    "Inflate",
    "accept_key",
    "deflate_payload",
    "encode_close_frame",
    "encode_control_frame",
    "encode_data_frame",
    "encode_frame",
    "valid_close_code",
]

_DEFLATE_TAIL = b"\x00\x00\xff\xff"  # RFC 7692 section 7.2.2
_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
_MAX_CONTROL = 125
#: A frame larger than this arriving over several reads is held as pieces.
_HOLD_OVER = 65536


class CloseCode(enum.IntEnum):
    """The close codes the listener sends (RFC 6455 section 7.4.1)."""

    NORMAL = 1000
    PROTOCOL_ERROR = 1002
    INVALID_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009


class FrameError(enum.Enum):
    """Why the reader stopped: the peer sent what RFC 6455 forbids."""

    PROTOCOL = enum.auto()  # close with 1002
    NOT_UTF8 = enum.auto()  # close with 1007
    TOO_BIG = enum.auto()  # close with 1009

    @property
    def close_code(self) -> CloseCode:
        """The close code to answer with."""
        if self is FrameError.NOT_UTF8:
            return CloseCode.INVALID_DATA
        if self is FrameError.TOO_BIG:
            return CloseCode.MESSAGE_TOO_BIG
        return CloseCode.PROTOCOL_ERROR


class Inflate:
    """Inflates the client's compressed messages (permessage-deflate, RFC 7692).

    Args:
        window_bits: the client's window (``client_max_window_bits``).
        no_context_takeover: whether each message is compressed on its own
            (``client_no_context_takeover``); otherwise the window carries over.
    """

    __slots__ = ("_wbits", "_keep", "_decoder")

    def __init__(self, window_bits: int, no_context_takeover: bool) -> None:
        self._wbits = -window_bits
        self._keep = not no_context_takeover
        self._decoder: zlib._Decompress | None = None

    def message(self, data: bytes, max_size: int) -> bytes | None:
        """The inflated message, or ``None`` when it is larger than ``max_size``.

        Raises:
            zlib.error: the data is not a valid deflate stream.
        """
        decoder = self._decoder
        if decoder is None:
            decoder = zlib.decompressobj(wbits=self._wbits)
            if self._keep:
                self._decoder = decoder
        out = decoder.decompress(data + _DEFLATE_TAIL, max_size + 1)
        if len(out) > max_size or decoder.unconsumed_tail:
            return None
        return out


def valid_close_code(code: int) -> bool:
    """Whether ``code`` may be sent in a close frame."""
    # RFC 6455 section 7.4: 1004-1006 and 1015 are never sent; 1016-2999 are reserved.
    if 3000 <= code <= 4999:
        return True
    return 1000 <= code <= 1014 and code not in (1004, 1005, 1006)


class _Fragmented:
    """A message arriving in fragments.

    Its payload so far is one growing buffer, not a list of the fragments: what a
    fragment costs to hold is its bytes, so tiny or empty fragments cannot make the
    message take many times ``max_size`` (or grow without end) in memory.
    """

    __slots__ = ("data", "size", "text", "compressed")

    def __init__(self, text: bool, compressed: bool) -> None:
        self.data = bytearray()
        self.size = 0
        self.text = text
        self.compressed = compressed


class FrameReader:
    """Reads the frames a client sends (see the module docstring).

    After a :meth:`feed`, ``replies`` is ``None`` unless something besides messages
    came: then it lists the frames to send back (pongs; the caller sets it back to
    ``None`` once sent), and ``closed`` may hold the peer's close code (1005 when its
    close frame had none, its reason in ``detail``) or ``error`` why the input was
    refused (``detail`` says more, for the log). One check after each feed thus tells
    the caller whether there is more to do than deliver messages. An idle reader is
    small (it is part of every WebSocket): the state of a fragmented message and the
    list of replies exist only when needed.

    Args:
        max_size: the largest message (and frame) accepted, in bytes.
        inflate: the permessage-deflate decoder, when it was negotiated.
        inflate_budget: when given, a feed stops once the messages it inflated since
            the last stop exceed this many bytes, holding the rest of its data
            (``held`` is then true, and ``feed(b"")`` goes on from there): a read of
            small compressed frames cannot become many times its size in memory
            before the caller has handed the first messages on.
    """

    __slots__ = (
        "_buffer",
        "_budget",
        "_spent",
        "held",
        "_held",
        "_short",
        "_partial",
        "_max_size",
        "_inflate",
        "replies",
        "closed",
        "error",
        "detail",
    )

    def __init__(
        self, max_size: int, inflate: Inflate | None = None, inflate_budget: int | None = None
    ) -> None:
        self._buffer = b""
        self._budget = sys.maxsize if inflate_budget is None else inflate_budget
        self._spent = 0  # bytes inflated since the last stop
        self.held = False  # whether the last feed stopped with data left over
        # a large frame's pieces, joined once it is complete (not on every read)
        self._held: list[bytes] | None = None
        self._short = 0  # bytes the held frame still lacks
        self._partial: _Fragmented | None = None
        self._max_size = max_size
        self._inflate = inflate
        self.replies: list[bytes] | None = None
        self.closed: int | None = None
        self.error: FrameError | None = None
        self.detail = ""

    @property
    def done(self) -> bool:
        """Whether the peer closed or broke the protocol (input is ignored from then)."""
        return self.closed is not None or self.error is not None

    @property
    def buffered(self) -> int:
        """Bytes of an unfinished frame held until the rest arrives."""
        held = self._held
        return len(self._buffer) if held is None else sum(map(len, held))

    def feed(self, data: bytes) -> list[str | bytes]:
        """The messages completed by ``data``, in order (text as ``str``)."""
        messages: list[str | bytes] = []
        if self.closed is not None or self.error is not None:
            return messages
        held = self._held
        if held is not None:
            held.append(data)
            self._short -= len(data)
            if self._short > 0:
                return messages
            self._held = None
            data = b"".join(held)
        elif self._buffer:
            data = self._buffer + data
            self._buffer = b""
            self.held = False
        pos = 0
        end = len(data)
        max_size = self._max_size
        while end - pos >= 2:
            b0 = data[pos]
            b1 = data[pos + 1]
            if b1 < 0x80:
                self._fail(FrameError.PROTOCOL, "unmasked client frame")
                return messages
            size = b1 & 0x7F
            head = pos + 2
            if size == 126:
                if end - head < 2:
                    break
                size = (data[head] << 8) | data[head + 1]
                head += 2
            elif size == 127:
                if end - head < 8:
                    break
                size = int.from_bytes(data[head : head + 8], "big")
                head += 8
            if size > max_size:
                if b0 & 0x08:  # a control frame: over 125 bytes, it breaks the protocol
                    self._fail(FrameError.PROTOCOL, "control frame over 125 bytes")
                elif size >> 63:  # RFC 6455 section 5.2: the top bit of a 64-bit length is 0
                    self._fail(FrameError.PROTOCOL, "64-bit length with its top bit set")
                else:
                    self._fail(FrameError.TOO_BIG, f"{size}-byte frame over {max_size}")
                return messages
            start = head + 4
            stop = start + size
            if stop > end:
                if size > _MAX_CONTROL and b0 & 0x08:  # refused without waiting for it
                    self._fail(FrameError.PROTOCOL, "control frame over 125 bytes")
                    return messages
                if size > _HOLD_OVER:  # copying the frame on every read is quadratic
                    self._held = [data[pos:]]
                    self._short = stop - end
                    return messages
                break
            payload = apply_mask(data[start:stop], data[head:start])
            pos = stop
            if b0 == 0x81 and self._partial is None:
                try:
                    messages.append(payload.decode())
                except UnicodeDecodeError:
                    self._fail(FrameError.NOT_UTF8, "text frame is not UTF-8")
                    return messages
            elif b0 == 0x82 and self._partial is None:
                messages.append(payload)
            elif not self._frame(b0, payload, messages):
                return messages
            elif self._spent > self._budget:  # inflated enough for one feed: hold the rest
                self._spent = 0
                if pos < end:
                    self._buffer = data[pos:]
                    self.held = True
                    if self.replies is None:
                        self.replies = []  # something beside messages: see held
                return messages
        if pos < end:
            self._buffer = data[pos:]
        return messages

    def _frame(self, b0: int, payload: bytes, messages: list[str | bytes]) -> bool:
        """Any frame but a lone text or binary one; False once the reader stops."""
        opcode = b0 & 0x0F
        fin = b0 & 0x80
        rsv = b0 & 0x70
        if opcode >= 8:
            if rsv:
                return self._fail(FrameError.PROTOCOL, "RSV bits set in a control frame")
            if not fin:
                return self._fail(FrameError.PROTOCOL, "fragmented control frame")
            if len(payload) > _MAX_CONTROL:
                return self._fail(FrameError.PROTOCOL, "control frame over 125 bytes")
            if opcode == 9:  # ping: answer with the same payload
                replies = self.replies
                if replies is None:
                    replies = self.replies = []
                replies.append(encode_control_frame(10, payload))
                return True
            if opcode == 10:  # pong: nothing asked for one, nothing to do
                return True
            if opcode == 8:
                return self._close(payload)
            return self._fail(FrameError.PROTOCOL, f"reserved opcode {opcode}")
        partial = self._partial
        if opcode == 0:
            if partial is None:
                return self._fail(FrameError.PROTOCOL, "continuation frame without a message")
            if rsv:
                return self._fail(FrameError.PROTOCOL, "RSV bits set in a continuation frame")
            return self._fragment(partial, payload, fin, messages)
        if opcode > 2:
            return self._fail(FrameError.PROTOCOL, f"reserved opcode {opcode}")
        if partial is not None:
            return self._fail(FrameError.PROTOCOL, "new message before the last one ended")
        if rsv and (rsv != 0x40 or self._inflate is None):
            return self._fail(FrameError.PROTOCOL, "RSV bits set without an extension")
        partial = _Fragmented(opcode == 1, bool(rsv))
        return self._fragment(partial, payload, fin, messages)

    def _fragment(
        self, partial: _Fragmented, payload: bytes, fin: int, messages: list[str | bytes]
    ) -> bool:
        partial.size += len(payload)
        if partial.size > self._max_size:
            return self._fail(
                FrameError.TOO_BIG, f"message of {partial.size}+ bytes over {self._max_size}"
            )
        if not fin:
            partial.data += payload
            self._partial = partial
            return True
        self._partial = None
        if partial.data:
            partial.data += payload
            data = bytes(partial.data)
        else:
            data = payload
        if partial.compressed:
            assert self._inflate is not None
            try:
                inflated = self._inflate.message(data, self._max_size)
            except zlib.error:
                return self._fail(FrameError.PROTOCOL, "compressed message does not inflate")
            if inflated is None:
                return self._fail(FrameError.TOO_BIG, f"message inflates over {self._max_size}")
            data = inflated
            self._spent += len(data)
        if not partial.text:
            messages.append(data)
            return True
        try:
            messages.append(data.decode())
        except UnicodeDecodeError:
            return self._fail(FrameError.NOT_UTF8, "text message is not UTF-8")
        return True

    def _close(self, payload: bytes) -> bool:
        if not payload:
            self._end()
            self.closed = 1005  # no status code (RFC 6455 section 7.1.5)
            return False
        if len(payload) == 1:
            return self._fail(FrameError.PROTOCOL, "close frame with a 1-byte payload")
        code = (payload[0] << 8) | payload[1]
        if not valid_close_code(code):
            return self._fail(FrameError.PROTOCOL, f"invalid close code {code}")
        try:
            self.detail = payload[2:].decode()
        except UnicodeDecodeError:
            return self._fail(FrameError.NOT_UTF8, "close reason is not UTF-8")
        self._end()
        self.closed = code
        return False

    def _fail(self, error: FrameError, detail: str) -> bool:
        self._end()
        self.error = error
        self.detail = detail
        return False

    def _end(self) -> None:
        self._buffer = b""
        self.held = False
        self._held = None
        self._partial = None
        if self.replies is None:
            self.replies = []


#: The two header bytes of every short (< 126 bytes) text and binary frame, made once:
#: a short frame is then one concatenation (no tuple, no ``bytes`` of it per frame).
_SHORT_TEXT = tuple(bytes((0x81, size)) for size in range(126))
_SHORT_BINARY = tuple(bytes((0x82, size)) for size in range(126))


def encode_data_frame(frame: str | bytes) -> bytes:
    """One unmasked, unfragmented server data frame: text for ``str``, binary for ``bytes``."""
    if isinstance(frame, str):
        payload = frame.encode()
        size = len(payload)
        if size < 126:
            return _SHORT_TEXT[size] + payload
        first = 0x81
    else:
        payload = frame
        size = len(payload)
        if size < 126:
            return _SHORT_BINARY[size] + payload
        first = 0x82
    # encode_frame's long forms written out here: on the hot path a call more costs
    # ~100 ns per frame of 126 bytes or more (timeit, 200 B and 10 KB frames)
    if size < 65536:
        return struct.pack("!BBH", first, 126, size) + payload
    return struct.pack("!BBQ", first, 127, size) + payload


def encode_frame(first: int, payload: bytes) -> bytes:
    """One unmasked server frame: its first byte (FIN, RSV bits, opcode), the length and
    ``payload``."""
    size = len(payload)
    if size < 126:
        return bytes((first, size)) + payload
    if size < 65536:
        return struct.pack("!BBH", first, 126, size) + payload
    return struct.pack("!BBQ", first, 127, size) + payload


def deflate_payload(compressor: zlib._Compress, payload: bytes) -> bytes:
    """``payload`` compressed as one permessage-deflate message (RFC 7692 section 7.2.1:
    flushed, without the empty block's last four bytes)."""
    body = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return body[:-4] if body.endswith(_DEFLATE_TAIL) else body


def accept_key(key: bytes) -> bytes:
    """``Sec-WebSocket-Accept`` for a request's ``Sec-WebSocket-Key`` (RFC 6455 section 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key + _WS_GUID).digest())


def encode_control_frame(opcode: int, payload: bytes = b"") -> bytes:
    """One unmasked control frame (close 8, ping 9, pong 10) of at most 125 bytes."""
    if len(payload) > _MAX_CONTROL:
        raise ValueError("a control frame carries at most 125 bytes")
    return bytes((0x80 | opcode, len(payload))) + payload


def encode_close_frame(code: int, reason: str = "") -> bytes:
    """A close frame with ``code`` and a UTF-8 ``reason`` (cut to fit 125 bytes)."""
    data = reason.encode()[:123]
    while True:  # never cut a UTF-8 sequence in two
        try:
            data.decode()
            break
        except UnicodeDecodeError:
            data = data[:-1]
    return encode_control_frame(8, code.to_bytes(2, "big") + data)
