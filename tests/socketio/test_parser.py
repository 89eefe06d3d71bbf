"""Tests of plexio.socketio.parser: the default JSON parser, golden vectors, limits, fuzz."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plexio.config import Limits
from plexio.exceptions import DecodeError, LocalProtocolError, PayloadTooLargeError
from plexio.socketio.packets import Packet, PacketType
from plexio.socketio.parser import Decoder, JsonDecoder, JsonParser, Parser
from plexio.typing import JSONValue
from tests.socketio.strategies import packets

PARSER = JsonParser()


def ph(num: int) -> dict[str, JSONValue]:
    return {"_placeholder": True, "num": num}


def decode_all(messages: list[str | bytes], limits: Limits | None = None) -> Packet:
    """Feed ``messages`` to a fresh decoder; only the last one completes the packet."""
    decoder = PARSER.decoder(limits)
    for message in messages[:-1]:
        assert decoder.feed(message) is None
        assert decoder.pending
    packet = decoder.feed(messages[-1])
    assert packet is not None
    assert not decoder.pending
    return packet


# Golden vectors produced by the npm package socket.io-parser 4.2.7 (`new Encoder().encode(p)`),
# the Engine.IO "4" prefix excluded; bytes are the binary messages that follow.
NODE_VECTORS: list[tuple[str, Packet, list[str | bytes]]] = [
    ("connect main", Packet.connect(), ["0"]),
    ("connect auth", Packet.connect("/", {"token": "123"}), ['0{"token":"123"}']),
    ("connect reply", Packet.connect("/admin", {"sid": "abc"}), ['0/admin,{"sid":"abc"}']),
    ("disconnect ns", Packet.disconnect("/admin"), ["1/admin,"]),
    ("disconnect main", Packet.disconnect(), ["1"]),
    (
        "event",
        Packet.event("/", ["message-back", 1, "2", {"3": [True]}]),
        ['2["message-back",1,"2",{"3":[true]}]'],
    ),
    ("ack", Packet.ack("/", 456, [1, "2", {"3": [False]}]), ['3456[1,"2",{"3":[false]}]']),
    ("ack ns empty", Packet.ack("/admin", 13, []), ["3/admin,13[]"]),
    (
        "binary event",
        Packet.event("/", ["message-back", b"\x01\x02\x03", b"\x04\x05\x06"]),
        [
            '52-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
            bytes.fromhex("010203"),
            bytes.fromhex("040506"),
        ],
    ),
    (
        "binary ack",
        Packet.ack("/", 789, [b"\x01", b"\x02\x03"]),
        [
            '62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
            bytes.fromhex("01"),
            bytes.fromhex("0203"),
        ],
    ),
    (
        "connect error",
        Packet.connect_error("/random", "Invalid namespace"),
        ['4/random,{"message":"Invalid namespace"}'],
    ),
    (
        "nested binary, namespace, ack id, unicode",
        Packet.event("/chat", ["msg", {"nested": [b"\xff\x00", {"deep": b""}]}, "é ☃ 😀"], 12),
        [
            '52-/chat,12["msg",{"nested":[{"_placeholder":true,"num":0},'
            '{"deep":{"_placeholder":true,"num":1}}]},"é ☃ 😀"]',
            bytes.fromhex("ff00"),
            bytes.fromhex(""),
        ],
    ),
    (
        "escapes and numbers",
        Packet.event("/", ["e", "\x01\n\t\"\\/\x7f\u2028<>&'", 1.5, -2, 0.25, None, False]),
        ['2["e","\\u0001\\n\\t\\"\\\\/\x7f\u2028<>&\'",1.5,-2,0.25,null,false]'],
    ),
]


@pytest.mark.parametrize(
    ("label", "packet", "wire"), NODE_VECTORS, ids=[v[0] for v in NODE_VECTORS]
)
def test_encode_matches_socket_io_parser(
    label: str, packet: Packet, wire: list[str | bytes]
) -> None:
    assert PARSER.encode(packet) == wire


@pytest.mark.parametrize(
    ("label", "packet", "wire"), NODE_VECTORS, ids=[v[0] for v in NODE_VECTORS]
)
def test_decode_of_socket_io_parser_output(
    label: str, packet: Packet, wire: list[str | bytes]
) -> None:
    assert decode_all(wire) == packet


# Vectors from the protocol text (PROTOCOL.md items 45-65), Engine.IO "4" prefix removed.
@pytest.mark.parametrize(
    ("wire", "packet"),
    [
        ('0{"token":"123"}', Packet.connect("/", {"token": "123"})),
        ('0/custom,{"token":"abc"}', Packet.connect("/custom", {"token": "abc"})),
        ("0/custom", Packet.connect("/custom")),  # item 47: no trailing comma
        ("1/custom", Packet.disconnect("/custom")),
        ("0/custom,", Packet.connect("/custom")),
        ('2456["e"]', Packet.event("/", ["e"], 456)),
        ('3/admin,13["x"]', Packet.ack("/admin", 13, ["x"])),
        ('2/admin,["e"]', Packet.event("/admin", ["e"])),
        ('2[7,"numeric name"]', Packet.event("/", [7, "numeric name"])),
        ('4"legacy refusal"', Packet(PacketType.CONNECT_ERROR, "/", "legacy refusal")),
        ('3000["x"]', Packet.ack("/", 0, ["x"])),
    ],
    ids=repr,
)
def test_decode_protocol_examples(wire: str, packet: Packet) -> None:
    assert PARSER.decoder().feed(wire) == packet


def test_binary_round_trip_of_protocol_example() -> None:
    wire = PARSER.encode(Packet.event("/", ["message-back", b"\x01\x02", b"\x03"]))
    assert wire[0] == (
        '52-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
    )
    assert wire[1:] == [b"\x01\x02", b"\x03"]
    # Item 55: re-emitting what was received produces the same structure.
    assert PARSER.encode(decode_all(wire)) == wire
    assert PARSER.encode(Packet.ack("/", 789, [b"a", b"b"]))[0] == (
        '62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
    )


@pytest.mark.parametrize(
    "wire",
    [
        "",
        "7",
        "9[]",
        "x",
        "-1",
        "2",  # EVENT without payload
        "2{}",  # item 50
        "2[]",
        '2["connect"]',  # reserved name
        "2[true]",
        "2[null]",
        '2abc["e"]',  # item 51
        '2["e"',
        '2["e"]x',
        "3",  # ACK without id
        "3[]",
        "3{}",
        '3456{"a":1}',
        "0[]",
        "0null",
        '0"str"',
        "012{}",  # ack id on CONNECT
        "1{}",
        "1null",
        "4",
        "4[]",
        "4null",
        "5",
        "5-",
        "50-[]",
        "5a-[]",
        '5١-["e"]',  # non-ASCII digit
        "5[]",
        "511-[]",  # over max_attachments (10)
        '51-["e"]',  # well-formed header, then a placeholder count mismatch (no binary yet)
        "6",
        "61-",
        "2/a,b,[]",  # namespace ends at the first comma, then garbage
        '2/no-comma["e"]',  # namespace swallows the rest: then no payload
        '2["e",1e400]',  # overflows a double
        "2" + "[" * 2000 + "]" * 2000,  # deeper than orjson's limit
        '0{"a":"\ud800"}',  # lone surrogate
    ],
    ids=repr,
)
def test_invalid_text_raises_decode_error(wire: str) -> None:
    decoder = PARSER.decoder()
    try:
        result = decoder.feed(wire)
    except DecodeError:
        return
    # Only a BINARY header may be accepted here, and it must then wait for buffers.
    assert result is None and decoder.pending
    with pytest.raises(DecodeError):
        decoder.feed('2["next"]')


def test_integers_beyond_64_bit_decode_as_floats_like_javascript() -> None:
    packet = PARSER.decoder().feed('2["e",100000000000000000000,-9223372036854775809]')
    assert packet == Packet.event("/", ["e", 1e20, -9.223372036854775809e18])
    assert isinstance(packet.data[1], float)
    assert PARSER.decoder().feed('2["e",18446744073709551615]') == Packet.event(
        "/", ["e", 2**64 - 1]
    )


def test_huge_integer_literal_is_rejected_quickly() -> None:
    with pytest.raises(DecodeError):
        PARSER.decoder().feed('2["e",' + "9" * 200_000 + "]")


def test_ack_id_digit_limit() -> None:
    limits = Limits(max_ack_id_digits=3)
    assert PARSER.decoder(limits).feed('2999["e"]') == Packet.event("/", ["e"], 999)
    with pytest.raises(PayloadTooLargeError):
        PARSER.decoder(limits).feed('21000["e"]')
    with pytest.raises(PayloadTooLargeError):
        PARSER.decoder().feed("3" + "1" * 100_000 + "[]")


def test_attachment_limit() -> None:
    packet = Packet.event("/", ["e", *[bytes([i]) for i in range(3)]])
    wire = PARSER.encode(packet)
    assert isinstance(wire[0], str) and wire[0].startswith("53-")
    assert decode_all(wire, Limits(max_attachments=3)) == packet
    with pytest.raises(PayloadTooLargeError):
        PARSER.decoder(Limits(max_attachments=2)).feed(wire[0])
    with pytest.raises(DecodeError):  # count longer than the limit allows
        PARSER.decoder(Limits(max_attachments=2)).feed('5003-["e"]')
    assert decode_all(['501-["e",{"_placeholder":true,"num":0}]', b"x"], Limits(max_attachments=10))


def test_payload_limit() -> None:
    decoder = PARSER.decoder(Limits(max_http_buffer_size=20))
    assert decoder.feed('2["' + "x" * 15 + '"]') is not None
    with pytest.raises(PayloadTooLargeError):
        decoder.feed('2["' + "x" * 16 + '"]')
    header = '51-["",{"_placeholder":true,"num":0}]'
    assert len(header) == 37
    decoder = PARSER.decoder(Limits(max_http_buffer_size=37))
    assert decoder.feed(header) is None
    with pytest.raises(PayloadTooLargeError):
        decoder.feed(b"x" * 38)
    assert not decoder.pending
    assert decoder.feed(header) is None
    assert decoder.feed(b"x" * 37) == Packet.event("/", ["", b"x" * 37])


def test_binary_without_header_is_an_error() -> None:
    decoder = PARSER.decoder()
    with pytest.raises(DecodeError):
        decoder.feed(b"\x00")
    assert decoder.feed('2["still fine"]') == Packet.event("/", ["still fine"])


def test_text_while_waiting_for_attachments_is_an_error() -> None:
    decoder = PARSER.decoder()
    assert (
        decoder.feed('52-["e",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]') is None
    )
    assert decoder.feed(bytearray(b"a")) is None
    with pytest.raises(DecodeError, match="1 attachment"):
        decoder.feed('2["e"]')
    assert not decoder.pending
    assert decoder.feed('2["e"]') == Packet.event("/", ["e"])


def test_placeholder_mismatch_is_reported_when_the_last_buffer_arrives() -> None:
    decoder = PARSER.decoder()
    assert (
        decoder.feed('52-["e",{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}]') is None
    )
    assert decoder.feed(b"a") is None
    with pytest.raises(DecodeError):
        decoder.feed(memoryview(b"b"))
    assert not decoder.pending


def test_placeholders_are_plain_data_outside_binary_packets() -> None:
    assert PARSER.decoder().feed('2["e",{"_placeholder":true,"num":0}]') == Packet.event(
        "/", ["e", ph(0)]
    )


def test_binary_buffers_come_back_as_bytes() -> None:
    decoder = PARSER.decoder()
    decoder.feed('61-5[{"_placeholder":true,"num":0}]')
    packet = decoder.feed(memoryview(b"mv"))
    assert packet == Packet.ack("/", 5, [b"mv"])
    assert type(packet.data[0]) is bytes


def test_reset_drops_a_partial_packet() -> None:
    decoder = PARSER.decoder()
    decoder.feed('51-["e",{"_placeholder":true,"num":0}]')
    assert decoder.pending
    decoder.reset()
    assert not decoder.pending
    with pytest.raises(DecodeError):
        decoder.feed(b"late")
    assert repr(decoder) == "JsonDecoder(pending=False)"


def test_feed_rejects_other_types() -> None:
    with pytest.raises(TypeError):
        PARSER.decoder().feed(42)  # type: ignore[arg-type]  # misuse on purpose


def test_encode_bytearray_and_memoryview_and_tuples() -> None:
    wire = PARSER.encode(Packet.event("/", ["e", (bytearray(b"a"), memoryview(b"b"))]))
    assert wire == [
        '52-["e",[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]]',
        b"a",
        b"b",
    ]
    assert all(type(m) is bytes for m in wire[1:])


def test_encode_converts_non_str_keys() -> None:
    packet = Packet.event("/n", ["e", {1: "a", None: "b", 2.5: "c", False: "d"}], 3)
    assert PARSER.encode(packet) == ['2/n,3["e",{"1":"a","null":"b","2.5":"c","false":"d"}]']
    binary = Packet.ack("/", 1, [{1: b"x"}])
    assert PARSER.encode(binary) == ['61-1[{"1":{"_placeholder":true,"num":0}}]', b"x"]
    assert PARSER.encode(Packet.connect("/", {1: 2})) == ['0{"1":2}']  # type: ignore[dict-item]


@pytest.mark.parametrize(
    "packet",
    [
        Packet.event("/", ["e", 2**64]),
        Packet.event("/", ["e", -(2**63) - 1]),
        Packet.event("/", ["e", object()]),
        Packet.event("/", ["e", b"x", object()]),
        Packet.ack("/", 1, [{(1, 2): "tuple key"}]),
        Packet.connect("/", {"auth": b"no binary in CONNECT"}),
        Packet.connect_error("/", "m", {"x": {1, 2}}),
    ],
    ids=str,
)
def test_unserialisable_data_is_a_local_error(packet: Packet) -> None:
    with pytest.raises(LocalProtocolError):
        PARSER.encode(packet)


def test_nan_and_infinity_encode_as_null_like_javascript() -> None:
    assert PARSER.encode(Packet.event("/", ["e", float("nan"), float("inf")])) == [
        '2["e",null,null]'
    ]


def test_parser_objects_satisfy_the_protocols() -> None:
    parser: Parser = JsonParser()
    decoder: Decoder = parser.decoder()
    assert isinstance(decoder, JsonDecoder)
    assert repr(parser) == "JsonParser()"


@given(packets())
def test_round_trip(packet: Packet) -> None:
    wire = PARSER.encode(packet)
    assert type(wire[0]) is str
    assert all(type(m) is bytes for m in wire[1:])
    assert decode_all(wire, Limits(max_attachments=1000)) == packet


@given(packets(binary=False))
def test_round_trip_without_binary_is_one_message(packet: Packet) -> None:
    wire = PARSER.encode(packet)
    assert len(wire) == 1
    assert PARSER.decoder().feed(wire[0]) == packet


_semi_valid = st.from_regex(
    r"[0-7]([0-9]{0,3}-)?(/[a-z,]{0,4})?[0-9]{0,3}(\[.{0,12}|\{.{0,12}|\".{0,5})?",
    fullmatch=True,
)


@given(st.lists(st.one_of(st.text(max_size=40), _semi_valid, st.binary(max_size=8)), max_size=6))
def test_garbage_raises_only_decode_error(messages: list[str | bytes]) -> None:
    decoder = PARSER.decoder()
    for message in messages:
        try:
            result = decoder.feed(message)
        except DecodeError:
            assert not decoder.pending
            continue
        assert result is None or isinstance(result, Packet)


@given(packets(), st.data())
def test_corrupted_packets_raise_only_decode_error(packet: Packet, data: st.DataObject) -> None:
    wire = PARSER.encode(packet)
    text = wire[0]
    assert isinstance(text, str)
    index = data.draw(st.integers(0, len(text) - 1))
    text = text[:index] + data.draw(st.sampled_from('0123456789-/,[]{}":x\\')) + text[index + 1 :]
    text = text[: data.draw(st.integers(1, len(text)))]
    decoder = PARSER.decoder()
    try:
        for message in [text, *wire[1:]]:
            decoder.feed(message)
    except DecodeError:
        assert not decoder.pending


def test_fuzz_harness_runs_on_its_seeds() -> None:
    from fuzz.socketio_parser import SEEDS, test_one_input

    for seed in SEEDS:
        test_one_input(seed)


@given(st.binary(max_size=200))
def test_fuzz_harness_invariant(data: bytes) -> None:
    from fuzz.socketio_parser import test_one_input

    test_one_input(data)
