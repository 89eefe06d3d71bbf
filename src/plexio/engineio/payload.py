"""Engine.IO v4 HTTP long-polling payload codec (layer L1, sans-I/O).

May import: plexio.exceptions, plexio.config, plexio.engineio.packets.

A payload is packets joined by the record separator ``\\x1e`` (Engine.IO v4 "Payload");
a binary message is written ``b`` + base64 of its bytes. The payload works on wire
frames (``str`` text packet or ``bytes`` binary message) so a frame encoded once for a
broadcast is reused as is.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import Final

from plexio.config import Limits
from plexio.engineio.packets import Frame, Packet, decode_frame
from plexio.exceptions import DecodeError, PayloadTooLargeError

__all__ = ["SEPARATOR", "decode_payload", "encode_payload"]

SEPARATOR: Final = "\x1e"


def encode_payload(frames: Iterable[Frame]) -> str:
    """Joins wire frames into one polling body (binary frames as ``b`` + base64)."""
    return SEPARATOR.join(
        f if isinstance(f, str) else "b" + base64.b64encode(f).decode("ascii") for f in frames
    )


def decode_payload(body: str, limits: Limits | None = None) -> list[Packet]:
    """Splits a polling body into packets.

    Args:
        body: the request body, already decoded from UTF-8 by the transport.
        limits: ``max_packets_per_payload`` is enforced; defaults apply when omitted.

    Raises:
        DecodeError: an empty record, an unknown type, or bad base64.
        PayloadTooLargeError: more packets than allowed.
    """
    max_packets = (limits or _DEFAULT_LIMITS).max_packets_per_payload
    if body.count(SEPARATOR) >= max_packets:
        raise PayloadTooLargeError(f"more than {max_packets} packets in one payload")
    packets = []
    for record in body.split(SEPARATOR):
        if record[:1] == "b":
            try:
                raw = base64.b64decode(record[1:], validate=True)
            except (binascii.Error, ValueError):
                raise DecodeError("invalid base64 in binary record") from None
            packets.append(decode_frame(raw))
        else:
            packets.append(decode_frame(record))
    return packets


_DEFAULT_LIMITS: Final = Limits()
