from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from plexio.engineio.packets import (
    OpenInfo,
    Packet,
    PacketType,
    decode_frame,
    encode_frame,
    frame_message,
    frame_messages,
    open_frame,
)
from plexio.exceptions import DecodeError

packets = st.one_of(
    st.builds(Packet, st.sampled_from(list(PacketType)), st.text()),
    st.builds(lambda b: Packet(PacketType.MESSAGE, b), st.binary()),
)


@given(packets)
def test_frame_round_trip(packet: Packet) -> None:
    assert decode_frame(encode_frame(packet)) == packet


@given(st.one_of(st.text(), st.binary()))
def test_garbage_decodes_or_raises_decode_error(data: str | bytes) -> None:
    try:
        packet = decode_frame(data)
    except DecodeError:
        return
    assert isinstance(packet, Packet)


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ("4hello", Packet(PacketType.MESSAGE, "hello")),
        ("2", Packet(PacketType.PING)),
        ("2probe", Packet(PacketType.PING, "probe")),
        ("3probe", Packet(PacketType.PONG, "probe")),
        ("5", Packet(PacketType.UPGRADE)),
        ("6", Packet(PacketType.NOOP)),
        ("1", Packet(PacketType.CLOSE)),
        ("4€ü", Packet(PacketType.MESSAGE, "€ü")),
        (b"\x01\x02", Packet(PacketType.MESSAGE, b"\x01\x02")),
        (bytearray(b"\x00"), Packet(PacketType.MESSAGE, b"\x00")),
        (memoryview(b"ab"), Packet(PacketType.MESSAGE, b"ab")),
    ],
)
def test_golden_frames(frame: str | bytes, expected: Packet) -> None:
    assert decode_frame(frame) == expected


def test_binary_message_encodes_as_raw_bytes_without_type_prefix() -> None:
    assert encode_frame(Packet(PacketType.MESSAGE, b"\x01\x02")) == b"\x01\x02"


@pytest.mark.parametrize("frame", ["", "7", "x", "9abc"])
def test_bad_frames(frame: str) -> None:
    with pytest.raises(DecodeError):
        decode_frame(frame)


def test_only_messages_may_be_binary() -> None:
    with pytest.raises(ValueError):
        Packet(PacketType.PING, b"x")


def test_str_truncates() -> None:
    text = str(Packet(PacketType.MESSAGE, "x" * 100))
    assert text.startswith("MESSAGE(") and "…" in text and len(text) < 70
    assert Packet(PacketType.MESSAGE, b"ab").binary


def test_open_info_has_exactly_the_spec_keys() -> None:
    info = OpenInfo("abc", ("websocket",), 300, 200, 1000)
    assert orjson.loads(info.to_json()) == {
        "sid": "abc",
        "upgrades": ["websocket"],
        "pingInterval": 300,
        "pingTimeout": 200,
        "maxPayload": 1000,
    }
    assert OpenInfo.from_json(info.to_json()) == info


@pytest.mark.parametrize("sid", ["abc", 'q"u\\o\nte', "é"])
@pytest.mark.parametrize("upgrades", [(), ("websocket",)])
def test_open_frame_is_the_open_info_json(sid: str, upgrades: tuple[str, ...]) -> None:
    for _ in range(2):  # encoding the options once, then reusing them
        frame = open_frame(sid, upgrades, 25000, 20000, 1_000_000)
        assert frame == "0" + OpenInfo(sid, upgrades, 25000, 20000, 1_000_000).to_json()
    assert OpenInfo.from_json(frame[1:]).sid == sid


@pytest.mark.parametrize(
    "text",
    ["", "[]", "{}", '{"sid": 1, "pingInterval": 1, "pingTimeout": 1}', '{"sid":"a"}', "nope"],
)
def test_open_info_rejects_bad_json(text: str) -> None:
    with pytest.raises(DecodeError):
        OpenInfo.from_json(text)


def test_message_framing_adds_the_type_prefix_to_text_only() -> None:
    assert frame_message("hi") == "4hi"
    assert frame_message(b"\x01") == b"\x01"
    assert frame_messages(['51-["e",{"_placeholder":true,"num":0}]', b"\x01"]) == [
        '451-["e",{"_placeholder":true,"num":0}]',
        b"\x01",
    ]
    assert frame_messages(["2"]) == ["42"]
    assert frame_messages([b""]) == [b""]


@given(st.lists(st.text() | st.binary(), min_size=1, max_size=5))
def test_framed_messages_decode_back(messages: list[str | bytes]) -> None:
    decoded = [decode_frame(frame) for frame in frame_messages(messages)]
    assert decoded == [Packet(PacketType.MESSAGE, m) for m in messages]
