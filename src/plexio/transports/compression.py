"""HTTP response compression for polling, as Node's engine.io does it (layer L2).

A polling response is compressed when compression is on, its body is at least the
threshold, and the request's ``Accept-Encoding`` allows ``gzip`` or ``deflate``
(``gzip`` preferred on equal quality). ``deflate`` is the zlib format (RFC 1950), as
Node's ``zlib.createDeflate`` writes it.
"""

from __future__ import annotations

import zlib
from typing import Literal

__all__ = ["Encoding", "choose_encoding", "compress_body"]

Encoding = Literal["gzip", "deflate"]
_OFFERED: tuple[Encoding, ...] = ("gzip", "deflate")


def choose_encoding(accept_encoding: str | None) -> Encoding | None:
    """The content coding to use for a request's ``Accept-Encoding``, or ``None``.

    Quality values count (``q=0`` refuses a coding); ``*`` stands for any coding not
    named; among equal qualities ``gzip`` wins.
    """
    if not accept_encoding:
        return None
    quality: dict[str, float] = {}
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        name = name.strip().lower()
        if not name:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        quality[name] = q
    best: Encoding | None = None
    best_q = 0.0
    for coding in _OFFERED:
        q = quality.get(coding, quality.get("*", 0.0))
        if q > best_q:
            best, best_q = coding, q
    return best


def compress_body(body: bytes, encoding: Encoding) -> bytes:
    """``body`` in ``encoding`` (gzip or zlib-format deflate)."""
    wbits = 31 if encoding == "gzip" else 15
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, wbits)
    return compressor.compress(body) + compressor.flush()
