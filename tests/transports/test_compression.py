"""plexio.transports.compression: which coding a request accepts, and the codings."""

from __future__ import annotations

import gzip
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plexio.transports.compression import choose_encoding, compress_body


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("gzip", "gzip"),
        ("deflate", "deflate"),
        ("gzip, deflate, br", "gzip"),
        ("deflate, gzip", "gzip"),  # equal quality: gzip
        ("gzip;q=0.5, deflate", "deflate"),
        ("gzip;q=0, deflate;q=0", None),
        ("br", None),
        ("identity", None),
        ("*", "gzip"),
        ("*;q=0.1, deflate;q=0.5", "deflate"),
        ("GZIP ; Q=0.8", "gzip"),
        ("gzip;q=nonsense, deflate", "deflate"),
    ],
)
def test_choose_encoding(header: str | None, expected: str | None) -> None:
    assert choose_encoding(header) == expected


@given(st.binary(max_size=5000))
def test_codings_round_trip(body: bytes) -> None:
    assert gzip.decompress(compress_body(body, "gzip")) == body
    assert zlib.decompress(compress_body(body, "deflate")) == body  # zlib format, as Node
