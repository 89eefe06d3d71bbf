"""Engine.IO v4 packets and their single-packet codec (layer L1, sans-I/O).

May import: plexio.exceptions, plexio.typing. No asyncio, no Socket.IO, no JSON of
application data: message content is opaque ``str`` (text) or ``bytes`` (binary).

Wire form (Engine.IO v4, "Encoding" section): a text packet is one type digit followed
by its data (``4hello``); a binary message travels as the raw bytes with no type prefix
(a WebSocket binary frame, or ``b`` + base64 inside a polling payload).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

import orjson

from plexio.exceptions import DecodeError, LocalProtocolError
from plexio.typing import BytesLike

__all__ = [
    "MESSAGE_PREFIX",
    "NOOP_FRAME",
    "PING_FRAME",
    "PONG_FRAME",
    "CLOSE_FRAME",
    "Frame",
    "OpenInfo",
    "open_frame",
    "Packet",
    "PacketType",
    "decode_frame",
    "encode_frame",
    "frame_message",
    "frame_messages",
]

#: One wire frame: ``str`` is a text packet (type digit + data), ``bytes`` a binary message.
Frame = str | bytes


class PacketType(IntEnum):
    """Engine.IO v4 packet type ids."""

    OPEN = 0
    CLOSE = 1
    PING = 2
    PONG = 3
    MESSAGE = 4
    UPGRADE = 5
    NOOP = 6


MESSAGE_PREFIX: Final = "4"
PING_FRAME: Final = "2"
PONG_FRAME: Final = "3"
CLOSE_FRAME: Final = "1"
NOOP_FRAME: Final = "6"

_TYPE_BY_CHAR: Final = {str(int(t)): t for t in PacketType}


@dataclass(frozen=True, slots=True)
class Packet:
    """One Engine.IO packet.

    Attributes:
        type: the packet type.
        data: text data, or bytes for a binary MESSAGE (the only packet that may be binary).
    """

    type: PacketType
    data: str | bytes = ""

    def __post_init__(self) -> None:
        if isinstance(self.data, bytes) and self.type is not PacketType.MESSAGE:
            raise ValueError("only MESSAGE packets may carry binary data")

    @property
    def binary(self) -> bool:
        """Whether this is a binary message."""
        return isinstance(self.data, bytes)

    def __str__(self) -> str:
        shown = repr(self.data[:40]) + ("…" if len(self.data) > 40 else "")
        return f"{self.type.name}({shown})"


@dataclass(frozen=True, slots=True)
class OpenInfo:
    """The handshake record sent in the OPEN packet (Engine.IO v4 "Handshake").

    Times are in milliseconds on the wire and kept exact (no rounding).
    """

    sid: str
    upgrades: tuple[str, ...]
    ping_interval_ms: int
    ping_timeout_ms: int
    max_payload: int

    def to_json(self) -> str:
        """Returns the JSON object with exactly the five keys the spec names."""
        return orjson.dumps(
            {
                "sid": self.sid,
                "upgrades": list(self.upgrades),
                "pingInterval": self.ping_interval_ms,
                "pingTimeout": self.ping_timeout_ms,
                "maxPayload": self.max_payload,
            }
        ).decode()

    @classmethod
    def from_json(cls, text: str) -> OpenInfo:
        """Parses the data of an OPEN packet.

        Raises:
            DecodeError: not a JSON object with the expected keys and types.
        """
        try:
            obj = orjson.loads(text)
            sid = obj["sid"]
            upgrades = obj.get("upgrades", [])
            info = cls(
                sid=sid,
                upgrades=tuple(upgrades),
                ping_interval_ms=int(obj["pingInterval"]),
                ping_timeout_ms=int(obj["pingTimeout"]),
                max_payload=int(obj.get("maxPayload", 1_000_000)),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DecodeError(f"invalid open packet: {exc}") from None
        if not isinstance(sid, str) or not all(isinstance(u, str) for u in upgrades):
            raise DecodeError("invalid open packet: bad sid or upgrades")
        return info


#: The OPEN packet after its sid, per (upgrades, ping interval, ping timeout, max payload).
_OPEN_TAILS: dict[tuple[tuple[str, ...], int, int, int], str] = {}


def open_frame(
    sid: str,
    upgrades: tuple[str, ...],
    ping_interval_ms: int,
    ping_timeout_ms: int,
    max_payload: int,
) -> str:
    """The OPEN packet (``0`` + :meth:`OpenInfo.to_json`) of a new session.

    Everything after the sid is the same for every session of a server: it is encoded
    once per set of options, and only the sid per session.
    """
    key = (upgrades, ping_interval_ms, ping_timeout_ms, max_payload)
    tail = _OPEN_TAILS.get(key)
    if tail is None:
        tail = OpenInfo("", *key).to_json()[len('{"sid":""') :]
        if len(_OPEN_TAILS) < 64:
            _OPEN_TAILS[key] = tail
    return '0{"sid":' + orjson.dumps(sid).decode() + tail


def frame_message(message: str | bytes) -> Frame:
    """The wire frame of one MESSAGE: ``"4"`` + text, or the binary bytes as they are.

    This and :func:`frame_messages` are the only places where the MESSAGE type prefix
    is added to outgoing data (server and client sessions both queue through them).

    Raises:
        LocalProtocolError: a text message that cannot be encoded as UTF-8 (a lone
            surrogate): it could not be written, so it is refused before it is queued.
    """
    if isinstance(message, bytes):
        return message
    if not message.isascii():
        try:
            message.encode()
        except UnicodeEncodeError as exc:
            raise LocalProtocolError(
                f"a text message must be valid UTF-8: {exc.reason} at position {exc.start}"
            ) from None
    return MESSAGE_PREFIX + message


def frame_messages(messages: Sequence[str | bytes]) -> list[Frame]:
    """The wire frames of several MESSAGEs that belong together (a Socket.IO packet
    and its binary attachments), in order.

    A broadcast frames its messages once and queues the same list on every session.
    """
    if len(messages) == 1:
        first = messages[0]
        return [first if isinstance(first, bytes) else MESSAGE_PREFIX + first]
    return [m if isinstance(m, bytes) else MESSAGE_PREFIX + m for m in messages]


def encode_frame(packet: Packet) -> Frame:
    """Encodes one packet as a WebSocket frame (``str`` text or ``bytes`` binary)."""
    if isinstance(packet.data, bytes):
        return packet.data
    return f"{int(packet.type)}{packet.data}"


def decode_frame(frame: str | BytesLike) -> Packet:
    """Decodes one WebSocket frame (or one record of a polling payload already un-based64'd).

    Args:
        frame: a text frame as ``str``, or a binary frame.

    Returns:
        The packet; a binary frame is always a binary MESSAGE.

    Raises:
        DecodeError: an empty text frame or an unknown type digit.
    """
    if not isinstance(frame, str):
        return Packet(PacketType.MESSAGE, bytes(frame))
    if not frame:
        raise DecodeError("empty packet")
    ptype = _TYPE_BY_CHAR.get(frame[0])
    if ptype is None:
        raise DecodeError(f"unknown packet type {frame[0]!r}")
    return Packet(ptype, frame[1:])
