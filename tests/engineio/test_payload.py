from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plexio.config import Limits
from plexio.engineio.packets import Packet, PacketType, encode_frame
from plexio.engineio.payload import decode_payload, encode_payload
from plexio.exceptions import DecodeError, PayloadTooLargeError

# Text without the record separator: the spec assumes it never occurs in data.
safe_text = st.text().filter(lambda s: "\x1e" not in s)
packets = st.one_of(
    st.builds(Packet, st.sampled_from(list(PacketType)), safe_text),
    st.builds(lambda b: Packet(PacketType.MESSAGE, b), st.binary()),
)


@given(st.lists(packets, min_size=1, max_size=20))
def test_round_trip(items: list[Packet]) -> None:
    body = encode_payload(encode_frame(p) for p in items)
    assert decode_payload(body) == items


@given(st.text())
def test_garbage_decodes_or_raises_decode_error(body: str) -> None:
    try:
        decode_payload(body)
    except DecodeError:
        pass


def test_golden_payloads() -> None:
    assert encode_payload(["4hello", b"\x01\x02\x03\x04"]) == "4hello\x1ebAQIDBA=="
    assert decode_payload("4test1\x1e4test2\x1e4test3") == [
        Packet(PacketType.MESSAGE, "test1"),
        Packet(PacketType.MESSAGE, "test2"),
        Packet(PacketType.MESSAGE, "test3"),
    ]
    assert decode_payload("bAQIDBA==") == [Packet(PacketType.MESSAGE, b"\x01\x02\x03\x04")]


@pytest.mark.parametrize("body", ["b!!!", "bAQI", "4a\x1e", "", "b€"])
def test_bad_payloads(body: str) -> None:
    with pytest.raises(DecodeError):
        decode_payload(body)


def test_packet_count_limit() -> None:
    limits = Limits(max_packets_per_payload=3)
    assert len(decode_payload("4a\x1e4b\x1e4c", limits)) == 3
    with pytest.raises(PayloadTooLargeError):
        decode_payload("4a\x1e4b\x1e4c\x1e4d", limits)
