"""WebSocket frames as a client sends them, for tests that speak RFC 6455 over raw sockets."""

from __future__ import annotations

import os
import struct


def client_frame(
    opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, mask: bytes | None = None
) -> bytes:
    """A masked client frame, as a browser sends it (``rsv``: the RSV bits, e.g. 0x40
    for a compressed message's first frame)."""
    key = os.urandom(4) if mask is None else mask
    size = len(payload)
    first = (0x80 if fin else 0) | rsv | opcode
    if size < 126:
        head = struct.pack("!BB", first, 0x80 | size)
    elif size < 65536:
        head = struct.pack("!BBH", first, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, size)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
