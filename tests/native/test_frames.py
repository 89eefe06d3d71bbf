"""RFC 6455 frames, server side: the reader against the protocol's rules, and round trips."""

from __future__ import annotations

import os
import struct
import tracemalloc
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers.wsframes import client_frame

from plexio.native.frames import (
    CloseCode,
    FrameError,
    FrameReader,
    Inflate,
    accept_key,
    deflate_payload,
    encode_close_frame,
    encode_control_frame,
    encode_data_frame,
    encode_frame,
)


def read_server_frame(data: bytes) -> tuple[int, bytes, bytes]:
    """(first byte, payload, rest) of an unmasked server frame."""
    first, second = data[0], data[1]
    assert second & 0x80 == 0, "server frames are not masked"
    size = second & 0x7F
    pos = 2
    if size == 126:
        size = int.from_bytes(data[2:4], "big")
        pos = 4
    elif size == 127:
        size = int.from_bytes(data[2:10], "big")
        pos = 10
    return first, data[pos : pos + size], data[pos + size :]


def test_complete_frames_in_one_read_become_messages() -> None:
    reader = FrameReader(1000)
    data = client_frame(1, "4héllo".encode()) + client_frame(2, b"\x00\x01")
    assert reader.feed(data) == ["4héllo", b"\x00\x01"]
    assert reader.replies is None and not reader.done


def test_lengths_of_7_16_and_64_bits() -> None:
    reader = FrameReader(100_000)
    small, medium, large = b"a" * 125, b"b" * 126, b"c" * 65536
    data = client_frame(2, small) + client_frame(2, medium) + client_frame(2, large)
    assert reader.feed(data) == [small, medium, large]


def test_a_frame_split_anywhere_is_held_until_complete() -> None:
    frame = client_frame(1, b"4" + b"x" * 300)
    for cut in range(1, len(frame)):
        reader = FrameReader(1000)
        assert reader.feed(frame[:cut]) == []
        assert reader.buffered == cut
        assert reader.feed(frame[cut:]) == ["4" + "x" * 300]
        assert reader.buffered == 0


def test_fragments_with_a_ping_between_them() -> None:
    reader = FrameReader(1000)
    data = (
        client_frame(1, b"4fr", fin=False)
        + client_frame(9, b"hb")
        + client_frame(0, b"ag", fin=False)
        + client_frame(0, b"ment")
    )
    assert reader.feed(data) == ["4fragment"]
    assert reader.replies == [b"\x8a\x02hb"]  # the pong, unmasked, same payload
    assert not reader.done


def test_a_text_message_split_inside_a_utf8_sequence_is_decoded_whole() -> None:
    text = "4€uro".encode()
    reader = FrameReader(1000)
    assert reader.feed(client_frame(1, text[:2], fin=False) + client_frame(0, text[2:])) == [
        "4€uro"
    ]


def test_pongs_are_ignored() -> None:
    reader = FrameReader(1000)
    assert reader.feed(client_frame(10, b"x") + client_frame(1, b"4a")) == ["4a"]
    assert reader.replies is None


@pytest.mark.parametrize(
    ("payload", "closed", "reason"),
    [
        (b"", 1005, ""),
        (struct.pack("!H", 1000), 1000, ""),
        (struct.pack("!H", 1001) + "bye ü".encode(), 1001, "bye ü"),
        (struct.pack("!H", 4000), 4000, ""),
    ],
)
def test_the_peers_close(payload: bytes, closed: int, reason: str) -> None:
    reader = FrameReader(1000)
    data = client_frame(1, b"4a") + client_frame(8, payload) + client_frame(1, b"4after")
    assert reader.feed(data) == ["4a"]  # nothing after the close counts
    assert reader.closed == closed and reader.detail == reason
    assert reader.replies == [] and reader.done
    assert reader.feed(client_frame(1, b"4more")) == []


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        (client_frame(1, b"4\xff\xfe"), FrameError.NOT_UTF8),
        (client_frame(1, b"4\xe2\x82", fin=False) + client_frame(0, b"x"), FrameError.NOT_UTF8),
        (b"\x81\x024a", FrameError.PROTOCOL),  # unmasked
        (client_frame(1, b"4a", rsv=0x40), FrameError.PROTOCOL),  # RSV1 without deflate
        (client_frame(1, b"4a", rsv=0x20), FrameError.PROTOCOL),
        (client_frame(1, b"4a", rsv=0x10), FrameError.PROTOCOL),
        (client_frame(3, b"x"), FrameError.PROTOCOL),  # reserved data opcode
        (client_frame(11, b"x"), FrameError.PROTOCOL),  # reserved control opcode
        (client_frame(0, b"x"), FrameError.PROTOCOL),  # continuation of nothing
        (client_frame(1, b"a", fin=False) + client_frame(1, b"b"), FrameError.PROTOCOL),
        (client_frame(1, b"a", fin=False) + client_frame(0, b"b", rsv=0x40), FrameError.PROTOCOL),
        (client_frame(9, b"x", fin=False), FrameError.PROTOCOL),  # fragmented ping
        (client_frame(9, b"x" * 126), FrameError.PROTOCOL),  # ping over 125 bytes
        (client_frame(9, b"x", rsv=0x40), FrameError.PROTOCOL),
        (client_frame(8, b"\x03"), FrameError.PROTOCOL),  # 1-byte close payload
        (client_frame(8, struct.pack("!H", 1005)), FrameError.PROTOCOL),
        (client_frame(8, struct.pack("!H", 999)), FrameError.PROTOCOL),
        (client_frame(8, struct.pack("!H", 2000)), FrameError.PROTOCOL),
        (client_frame(8, struct.pack("!H", 5000)), FrameError.PROTOCOL),
        (client_frame(8, struct.pack("!H", 1000) + b"\xff"), FrameError.NOT_UTF8),
        (client_frame(2, b"x" * 101), FrameError.TOO_BIG),
        (client_frame(2, b"x" * 60, fin=False) + client_frame(0, b"y" * 60), FrameError.TOO_BIG),
    ],
)
def test_what_the_protocol_forbids_stops_the_reader(frame: bytes, error: FrameError) -> None:
    reader = FrameReader(100)
    assert reader.feed(frame) == []
    assert reader.error is error and reader.detail
    assert reader.replies == [] and reader.done
    assert reader.feed(client_frame(1, b"4a")) == []


def test_a_frame_too_big_is_refused_from_its_header() -> None:
    reader = FrameReader(1000)
    header = struct.pack("!BBQ", 0x82, 0x80 | 127, 10**12) + b"mask"
    assert reader.feed(header) == []
    assert reader.error is FrameError.TOO_BIG


def test_a_control_frame_over_125_bytes_is_refused_from_its_header() -> None:
    reader = FrameReader(2**20)
    assert reader.feed(struct.pack("!BBH", 0x89, 0x80 | 126, 500) + b"mask") == []
    assert reader.error is FrameError.PROTOCOL  # not waiting for the 500 bytes


def test_a_64_bit_length_with_its_top_bit_set_is_a_protocol_error() -> None:
    reader = FrameReader(1000)
    assert reader.feed(struct.pack("!BBQ", 0x82, 0x80 | 127, 1 << 63) + b"mask") == []
    assert reader.error is FrameError.PROTOCOL


def test_a_large_frame_over_many_reads_is_held_in_pieces_and_read_whole() -> None:
    reader = FrameReader(2**20)
    payload = os.urandom(300_000)
    data = client_frame(2, payload) + client_frame(9, b"after") + client_frame(1, b"x")
    cut = len(data) - 20
    for i in range(0, cut, 1000):
        assert reader.feed(data[i : min(i + 1000, cut)]) == []
        assert reader.buffered == min(i + 1000, cut)
    assert reader.feed(data[cut:]) == [payload, "x"]
    assert reader.buffered == 0 and reader.replies is not None


def test_tiny_fragments_hold_their_bytes_not_an_object_each() -> None:
    reader = FrameReader(2**20)
    assert reader.feed(client_frame(1, b"", fin=False)) == []
    empty = client_frame(0, b"", fin=False, mask=b"\0\0\0\0")
    one = client_frame(0, b"a", fin=False, mask=b"\0\0\0\0")
    chunk = (empty + one) * 10_000
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(10):
            assert reader.feed(chunk) == []
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # 100,000 payload bytes in 200,000 frames: about their bytes, not an object each
    assert held < 400_000, held
    assert reader.feed(client_frame(0, b"!")) == ["a" * 100_000 + "!"]


def test_error_close_codes() -> None:
    assert FrameError.PROTOCOL.close_code == CloseCode.PROTOCOL_ERROR == 1002
    assert FrameError.NOT_UTF8.close_code == 1007
    assert FrameError.TOO_BIG.close_code == 1009


def _deflate(data: bytes, compressor: zlib._Compress | None = None) -> bytes:
    compressor = compressor or zlib.compressobj(wbits=-15)
    body = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert body.endswith(b"\x00\x00\xff\xff")
    return body[:-4]


def test_compressed_messages_are_inflated() -> None:
    reader = FrameReader(10_000, Inflate(15, no_context_takeover=True))
    body = _deflate(b"4" + b"hello " * 100)
    half = len(body) // 2
    data = (
        client_frame(1, body, rsv=0x40)
        + client_frame(1, b"4plain")
        + client_frame(2, body[:half], fin=False, rsv=0x40)
        + client_frame(0, body[half:])
    )
    assert reader.feed(data) == ["4" + "hello " * 100, "4plain", b"4" + b"hello " * 100]


def test_compressed_messages_with_context_takeover() -> None:
    compressor = zlib.compressobj(wbits=-15)
    reader = FrameReader(10_000, Inflate(15, no_context_takeover=False))
    first = client_frame(1, _deflate(b"4same words", compressor), rsv=0x40)
    second = client_frame(1, _deflate(b"4same words", compressor), rsv=0x40)
    assert reader.feed(first + second) == ["4same words", "4same words"]


def test_a_compressed_bomb_is_refused() -> None:
    reader = FrameReader(1000, Inflate(15, no_context_takeover=True))
    assert reader.feed(client_frame(2, _deflate(b"\x00" * 100_000), rsv=0x40)) == []
    assert reader.error is FrameError.TOO_BIG


def test_an_inflate_budget_holds_the_rest_of_a_read_of_compressed_bombs() -> None:
    reader = FrameReader(10_000, Inflate(15, True), inflate_budget=10_000)
    bomb = client_frame(2, _deflate(b"\0" * 10_000), rsv=0x40)
    data = bomb * 7 + client_frame(9, b"p") + client_frame(1, b"end")
    got = reader.feed(data)
    assert len(got) == 2 and reader.held  # 20,000 bytes inflated: the rest waits
    assert reader.replies == []  # the one check after a feed says to look
    reader.replies = None
    while reader.held:
        more = reader.feed(b"")
        assert len(more) <= 2
        got += more
    assert got == [b"\0" * 10_000] * 7 + ["end"]
    assert reader.replies and reader.buffered == 0


def test_without_a_budget_a_read_is_inflated_whole() -> None:
    reader = FrameReader(10_000, Inflate(15, True))
    bomb = client_frame(2, _deflate(b"\0" * 10_000), rsv=0x40)
    assert reader.feed(bomb * 7) == [b"\0" * 10_000] * 7 and not reader.held


def test_garbage_that_does_not_inflate_is_a_protocol_error() -> None:
    reader = FrameReader(1000, Inflate(15, no_context_takeover=True))
    assert reader.feed(client_frame(2, b"\xff\xff\xff\xff", rsv=0x40)) == []
    assert reader.error is FrameError.PROTOCOL


def test_server_frames() -> None:
    assert encode_data_frame("4hi") == b"\x81\x034hi"
    assert encode_data_frame(b"\x01") == b"\x82\x01\x01"
    # the short-frame headers made once, at their bounds
    assert encode_data_frame("") == b"\x81\x00"
    assert encode_data_frame(b"") == b"\x82\x00"
    assert encode_data_frame("é" * 62 + "x") == b"\x81\x7d" + ("é" * 62 + "x").encode()
    assert encode_data_frame(b"y" * 125) == b"\x82\x7d" + b"y" * 125
    assert encode_data_frame("é" * 63) == b"\x81\x7e\x00\x7e" + ("é" * 63).encode()
    assert encode_data_frame(b"y" * 126) == b"\x82\x7e\x00\x7e" + b"y" * 126
    assert encode_control_frame(10, b"hb") == b"\x8a\x02hb"
    assert encode_close_frame(1000) == b"\x88\x02\x03\xe8"
    with pytest.raises(ValueError):
        encode_control_frame(9, b"x" * 126)
    # a long reason is cut to fit, never inside a UTF-8 sequence
    first, payload, rest = read_server_frame(encode_close_frame(1001, "€" * 100))
    assert first == 0x88 and len(payload) <= 125 and not rest
    assert payload[2:].decode() == "€" * 41


# -- properties ------------------------------------------------------------------------

messages = st.lists(st.one_of(st.text(max_size=300), st.binary(max_size=70_000)), max_size=6)


@settings(max_examples=60, deadline=None)
@given(messages=messages, cuts=st.lists(st.integers(min_value=0), max_size=8))
def test_any_messages_in_any_split_come_out_as_sent(
    messages: list[str | bytes], cuts: list[int]
) -> None:
    wire = b"".join(
        client_frame(1, m.encode()) if isinstance(m, str) else client_frame(2, m) for m in messages
    )
    points = sorted({c % (len(wire) + 1) for c in cuts})
    reader = FrameReader(100_000)
    received: list[str | bytes] = []
    start = 0
    for point in [*points, len(wire)]:
        received += reader.feed(wire[start:point])
        start = point
    assert received == messages
    assert reader.replies is None and not reader.done and reader.buffered == 0


@settings(max_examples=60, deadline=None)
@given(
    message=st.text(max_size=500),
    sizes=st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=8),
    pings=st.lists(st.binary(max_size=125), max_size=3),
)
def test_fragmented_messages_with_pings_between_come_out_whole(
    message: str, sizes: list[int], pings: list[bytes]
) -> None:
    data = message.encode()
    frames = []
    pos = 0
    for index, size in enumerate(sizes):
        last = index == len(sizes) - 1
        part = data[pos:] if last else data[pos : pos + size]
        pos += len(part)
        frames.append(client_frame(1 if index == 0 else 0, part, fin=last))
        if index < len(pings):
            frames.append(client_frame(9, pings[index]))
    reader = FrameReader(10_000)
    assert reader.feed(b"".join(frames)) == [message]
    expected = [encode_control_frame(10, p) for p in pings[: len(sizes)]]
    assert (reader.replies or []) == expected


@settings(max_examples=60, deadline=None)
@given(payload=st.one_of(st.text(max_size=70_000), st.binary(max_size=70_000)))
def test_server_data_frames_read_back(payload: str | bytes) -> None:
    first, data, rest = read_server_frame(encode_data_frame(payload))
    assert not rest
    if isinstance(payload, str):
        assert first == 0x81 and data.decode() == payload
    else:
        assert first == 0x82 and data == payload


@settings(max_examples=200, deadline=None)
@given(garbage=st.binary(max_size=400), cut=st.integers(min_value=0, max_value=400))
def test_garbage_never_raises_and_stops_or_waits(garbage: bytes, cut: int) -> None:
    reader = FrameReader(200, Inflate(15, no_context_takeover=False))
    out = reader.feed(garbage[:cut]) + reader.feed(garbage[cut:])
    assert all(isinstance(m, (str, bytes)) for m in out)
    if reader.error is not None:
        assert reader.detail and reader.replies is not None
        assert reader.feed(client_frame(1, b"4a")) == []
    else:
        assert reader.buffered <= len(garbage)


def test_accept_key_is_rfc_6455s_example() -> None:
    assert accept_key(b"dGhlIHNhbXBsZSBub25jZQ==") == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_encode_frame_picks_the_length_form(size: int) -> None:
    data = encode_frame(0xC2, b"x" * size)
    first, payload, rest = read_server_frame(data)
    assert first == 0xC2 and payload == b"x" * size and rest == b""
    assert len(data) - size == (2 if size < 126 else 4 if size < 65536 else 10)


def test_deflate_payload_is_one_message_without_the_tail() -> None:
    message = b"abc" * 1000
    body = deflate_payload(zlib.compressobj(9, zlib.DEFLATED, -15), message)
    assert not body.endswith(b"\x00\x00\xff\xff")
    assert zlib.decompressobj(-15).decompress(body + b"\x00\x00\xff\xff") == message
