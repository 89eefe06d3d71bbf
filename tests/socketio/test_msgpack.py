"""Tests of plexio.socketio.msgpack: wire compatibility with socket.io-msgpack-parser."""

from __future__ import annotations

import concurrent.futures
import datetime

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from plexio.config import Limits
from plexio.exceptions import DecodeError, LocalProtocolError, PayloadTooLargeError
from plexio.socketio.msgpack import MsgPackDecoder, MsgPackParser
from plexio.socketio.packets import Packet, PacketType
from plexio.socketio.parser import Decoder, Parser
from tests.socketio.strategies import packets

PARSER = MsgPackParser()

# Golden vectors produced by the npm package socket.io-msgpack-parser 3.0.2
# (`new Encoder().encode({type, data, nsp, id})`, keys in that order, absent ones omitted).
NODE_VECTORS: list[tuple[str, Packet, str]] = [
    ("connect main", Packet.connect(), "82a47479706500a36e7370a12f"),
    (
        "connect auth",
        Packet.connect("/", {"token": "123"}),
        "83a47479706500a46461746181a5746f6b656ea3313233a36e7370a12f",
    ),
    (
        "connect reply",
        Packet.connect("/admin", {"sid": "abc"}),
        "83a47479706500a46461746181a3736964a3616263a36e7370a62f61646d696e",
    ),
    ("disconnect ns", Packet.disconnect("/admin"), "82a47479706501a36e7370a62f61646d696e"),
    ("disconnect main", Packet.disconnect(), "82a47479706501a36e7370a12f"),
    (
        "event",
        Packet.event("/", ["message-back", 1, "2", {"3": [True]}]),
        "83a47479706502a46461746194ac6d6573736167652d6261636b01a13281a13391c3a36e7370a12f",
    ),
    (
        "ack",
        Packet.ack("/", 456, [1, "2", {"3": [False]}]),
        "84a47479706503a4646174619301a13281a13391c2a36e7370a12fa26964cd01c8",
    ),
    (
        "ack ns empty",
        Packet.ack("/admin", 13, []),
        "84a47479706503a46461746190a36e7370a62f61646d696ea269640d",
    ),
    (
        "binary event",
        Packet.event("/", ["message-back", b"\x01\x02\x03", b"\x04\x05\x06"]),
        "83a47479706502a46461746193ac6d6573736167652d6261636bc403010203c403040506a36e7370a12f",
    ),
    (
        "binary ack",
        Packet.ack("/", 789, [b"\x01", b"\x02\x03"]),
        "84a47479706503a46461746192c40101c4020203a36e7370a12fa26964cd0315",
    ),
    (
        "connect error",
        Packet.connect_error("/random", "Invalid namespace"),
        "83a47479706504a46461746181a76d657373616765b1496e76616c6964206e616d657370616365"
        "a36e7370a72f72616e646f6d",
    ),
    (
        "nested binary, namespace, ack id, unicode",
        Packet.event("/chat", ["msg", {"nested": [b"\xff\x00", {"deep": b""}]}, "é ☃ 😀"], 12),
        "84a47479706502a46461746193a36d736781a66e657374656492c402ff0081a464656570c400abc3a9"
        "20e2988320f09f9880a36e7370a52f63686174a269640c",
    ),
    (
        "escapes and numbers",
        Packet.event("/", ["e", "\x01\n\t\"\\/\x7f\u2028<>&'", 1.5, -2, 0.25, None, False]),
        "83a47479706502a46461746197a165ae010a09225c2f7fe280a83c3e2627cb3ff8000000000000fecb3f"
        "d0000000000000c0c2a36e7370a12f",
    ),
]


@pytest.mark.parametrize(
    ("label", "packet", "wire"), NODE_VECTORS, ids=[v[0] for v in NODE_VECTORS]
)
def test_encode_matches_socket_io_msgpack_parser(label: str, packet: Packet, wire: str) -> None:
    assert PARSER.encode(packet) == [bytes.fromhex(wire)]


@pytest.mark.parametrize(
    ("label", "packet", "wire"), NODE_VECTORS, ids=[v[0] for v in NODE_VECTORS]
)
def test_decode_socket_io_msgpack_parser_output(label: str, packet: Packet, wire: str) -> None:
    assert PARSER.decoder().feed(bytes.fromhex(wire)) == packet


def test_decode_what_the_js_client_sends() -> None:
    # socket.io-client adds `options: {compress: true}`; produced by
    # socket.io-msgpack-parser 3.0.2 from {type: 2, data: ["hello", 1], options, id: 3, nsp: "/"}.
    wire = bytes.fromhex(
        "85a47479706502a46461746192a568656c6c6f01a76f7074696f6e7381a8636f6d7072657373c3"
        "a2696403a36e7370a12f"
    )
    assert PARSER.decoder().feed(wire) == Packet.event("/", ["hello", 1], 3)


def encode_one(packet: Packet) -> bytes:
    """The msgpack parser writes every packet as exactly one binary message."""
    (message,) = PARSER.encode(packet)
    assert isinstance(message, bytes)
    return message


def pack(obj: object) -> bytes:
    return msgpack.packb(obj)  # type: ignore[no-any-return]  # untyped library


@pytest.mark.parametrize(
    "obj",
    [
        [0, "/"],
        "text",
        {"nsp": "/"},
        {"type": 5, "nsp": "/", "data": ["e"]},  # no binary types on this wire
        {"type": 6, "nsp": "/", "data": [], "id": 1},
        {"type": -1, "nsp": "/"},
        {"type": True, "nsp": "/"},
        {"type": 2.0, "nsp": "/", "data": ["e"]},
        {"type": 0},
        {"type": 0, "nsp": 1},
        {"type": 0, "nsp": "admin"},
        {"type": 0, "nsp": "/", "data": None},
        {"type": 0, "nsp": "/", "data": []},
        {"type": 1, "nsp": "/", "data": {}},
        {"type": 2, "nsp": "/"},
        {"type": 2, "nsp": "/", "data": []},
        {"type": 2, "nsp": "/", "data": ["disconnect"]},
        {"type": 2, "nsp": "/", "data": [b"binary name"]},
        {"type": 2, "nsp": "/", "data": ["e"], "id": -1},
        {"type": 2, "nsp": "/", "data": ["e"], "id": "1"},
        {"type": 3, "nsp": "/", "data": []},
        {"type": 3, "nsp": "/", "data": {}, "id": 1},
        {"type": 4, "nsp": "/"},
        {"type": 4, "nsp": "/", "data": 1},
    ],
    ids=repr,
)
def test_invalid_packets(obj: object) -> None:
    with pytest.raises(DecodeError):
        PARSER.decoder().feed(pack(obj))


@pytest.mark.parametrize(
    "wire",
    [
        b"",
        b"\xc1",  # never used
        b"\x82\xa4type",  # truncated
        pack({"type": 1, "nsp": "/"}) + b"\x00",  # trailing data
        b"\xd4\x05\x00",  # fixext 1 of type 5: not a map
        b"\xd4\x00\x00",  # undefined: not a map
        bytes.fromhex("83a47479706502a464617461d40000a36e7370a12f"),  # EVENT, data undefined
        bytes.fromhex("82a474797065d40000a36e7370a12f"),  # type undefined
        bytes.fromhex("83a47479706502a46461746191a165a36e7370d40000"),  # nsp undefined
        bytes.fromhex("83a47479706502a46461746191d7000000000000000000a36e7370a12f"),  # Date name
        pack({"type": 2, "nsp": "/", "data": ["e", msgpack.ExtType(0, b"\x7f" * 8)]})[:-1],
        pack({"type": 2, "nsp": "/", "data": ["e", msgpack.ExtType(0, b"\x7f" * 8)]}),  # year
        b"\x81\x01\x02",  # int map key
        b"\x81\xc4\x01k\x01",  # bin map key at the top: not a packet
        b"\xa1\xff",  # invalid UTF-8
        b"\x91" * 5000 + b"\xc0",  # deeper than the unpacker's stack
    ],
    ids=repr,
)
def test_invalid_messagepack(wire: bytes) -> None:
    with pytest.raises(DecodeError):
        PARSER.decoder().feed(wire)


# Produced by socket.io-msgpack-parser 3.0.2 (notepack.io) from JS values holding
# `undefined`, `Date`, typed arrays and an ArrayBuffer.
NOTEPACK_EXTENSIONS: list[tuple[str, str, Packet]] = [
    (
        "CONNECT reply {sid, pid: undefined}",
        "83a47479706500a46461746182a3736964a178a3706964d40000a36e7370a12f",
        Packet.connect("/", {"sid": "x", "pid": None}),
    ),
    (
        'EVENT ["e", undefined, {a: undefined, b: [undefined]}], id: undefined',
        "84a47479706502a46461746193a165d4000082a161d40000a16291d40000a36e7370a12fa26964d40000",
        Packet.event("/", ["e", None, {"a": None, "b": [None]}]),
    ),
    (
        "CONNECT data: undefined",
        "83a47479706500a464617461d40000a36e7370a12f",
        Packet.connect("/"),
    ),
    (
        "EVENT with two Dates",
        "83a47479706502a46461746193a164d7000000018cc820db2ed700ffffffffffffffffa36e7370a12f",
        Packet.event(
            "/",
            [
                "d",
                datetime.datetime(2024, 1, 2, 3, 4, 5, 678_000, tzinfo=datetime.UTC),
                datetime.datetime(1969, 12, 31, 23, 59, 59, 999_000, tzinfo=datetime.UTC),
            ],
        ),
    ),
    (
        "EVENT with Uint8Array [0], Uint8Array(8) and an ArrayBuffer",
        "83a47479706502a46461746194a174c7010000c708000102030405060708c70300090909a36e7370a12f",
        Packet.event("/", ["t", b"\x00", bytes(range(1, 9)), b"\t\t\t"]),
    ),
    (
        "EVENT with an extension of type 5 (hand-made)",
        "83a47479706502a46461746192a165d405aaa36e7370a12f",
        Packet.event("/", ["e", [5, b"\xaa"]]),
    ),
]


@pytest.mark.parametrize(
    ("label", "wire", "packet"), NOTEPACK_EXTENSIONS, ids=[v[0] for v in NOTEPACK_EXTENSIONS]
)
def test_notepack_extensions(label: str, wire: str, packet: Packet) -> None:
    assert PARSER.decoder().feed(bytes.fromhex(wire)) == packet


def test_ambiguous_extensions_prefer_undefined_and_date() -> None:
    # Both spellings of a 1-byte 0x00 extension in one message: taken as undefined.
    wire = bytes.fromhex("83a47479706502a46461746193a165d40000c7010000a36e7370a12f")
    assert PARSER.decoder().feed(wire) == Packet.event("/", ["e", None, None])


def test_datetimes_are_sent_as_notepack_dates() -> None:
    moment = datetime.datetime(2024, 1, 2, 3, 4, 5, 678_000, tzinfo=datetime.UTC)
    wire = encode_one(Packet.event("/", ["d", moment, moment.replace(tzinfo=None)]))
    assert wire.hex() == (
        "83a47479706502a46461746193a164d7000000018cc820db2ed7000000018cc820db2ea36e7370a12f"
    )
    assert PARSER.decoder().feed(wire) == Packet.event("/", ["d", moment, moment])


def test_timestamps_decode_as_datetimes() -> None:
    moment = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    wire = msgpack.packb({"type": 2, "nsp": "/", "data": ["t", moment]}, datetime=True)
    assert PARSER.decoder().feed(wire) == Packet.event("/", ["t", moment])


def test_text_messages_are_refused() -> None:
    with pytest.raises(DecodeError):
        PARSER.decoder().feed('2["e"]')
    with pytest.raises(TypeError):
        PARSER.decoder().feed(None)  # type: ignore[arg-type]  # misuse on purpose


def test_limits() -> None:
    wire = encode_one(Packet.event("/", ["e", "x" * 100], 999))
    assert PARSER.decoder(Limits(max_http_buffer_size=len(wire), max_ack_id_digits=3)).feed(wire)
    with pytest.raises(PayloadTooLargeError):
        PARSER.decoder(Limits(max_http_buffer_size=len(wire) - 1)).feed(wire)
    with pytest.raises(PayloadTooLargeError):
        PARSER.decoder(Limits(max_ack_id_digits=2)).feed(wire)


def test_bytes_like_inputs_and_outputs() -> None:
    wire = encode_one(Packet.ack("/", 1, [bytearray(b"a"), memoryview(b"b")]))
    decoder = PARSER.decoder()
    for form in (wire, bytearray(wire), memoryview(wire)):
        packet = decoder.feed(form)
        assert packet == Packet.ack("/", 1, [b"a", b"b"])
        assert type(packet.data[0]) is bytes


@pytest.mark.parametrize(
    "packet",
    [Packet.event("/", ["e", 2**64]), Packet.event("/", ["e", object()])],
    ids=str,
)
def test_unserialisable_data_is_a_local_error(packet: Packet) -> None:
    with pytest.raises(LocalProtocolError):
        PARSER.encode(packet)


def test_a_failed_encode_leaves_the_parser_clean() -> None:
    parser = MsgPackParser()
    with pytest.raises(LocalProtocolError):
        parser.encode(Packet.event("/", ["e", "x" * 100, object()]))
    assert parser.encode(Packet.disconnect()) == [bytes.fromhex("82a47479706501a36e7370a12f")]


def test_each_thread_gets_its_own_packer() -> None:
    parser = MsgPackParser()
    packets = [Packet.event("/", ["e", i, b"x" * i]) for i in range(50)]
    expected = [parser.encode(p) for p in packets]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(5):
            assert list(pool.map(parser.encode, packets)) == expected


def test_protocol_conformance_and_reprs() -> None:
    parser: Parser = MsgPackParser()
    decoder: Decoder = parser.decoder()
    assert isinstance(decoder, MsgPackDecoder)
    assert not decoder.pending
    decoder.reset()
    assert (repr(parser), repr(decoder)) == ("MsgPackParser()", "MsgPackDecoder()")
    assert PacketType(decoder.feed(PARSER.encode(Packet.connect())[0]).type).name == "CONNECT"


@given(packets())
def test_round_trip(packet: Packet) -> None:
    wire = PARSER.encode(packet)
    assert len(wire) == 1 and type(wire[0]) is bytes
    assert PARSER.decoder().feed(wire[0]) == packet


@given(st.one_of(st.binary(max_size=64), st.text(max_size=20)))
def test_garbage_raises_only_decode_error(wire: bytes | str) -> None:
    try:
        result = PARSER.decoder().feed(wire)
    except DecodeError:
        return
    assert isinstance(result, Packet)


_anything = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=5)
    | st.binary(max_size=5),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3),
    max_leaves=6,
)


@given(
    st.dictionaries(
        st.sampled_from(["type", "nsp", "data", "id", "options"]),
        st.integers(-1, 7) | st.sampled_from(["/", "/a", "a", ""]) | _anything,
    )
)
def test_structured_garbage_raises_only_decode_error(obj: dict[str, object]) -> None:
    try:
        result = PARSER.decoder().feed(pack(obj))
    except DecodeError:
        return
    assert isinstance(result, Packet)


@given(packets(), st.data())
def test_corrupted_packets_raise_only_decode_error(packet: Packet, data: st.DataObject) -> None:
    wire = bytearray(encode_one(packet))
    index = data.draw(st.integers(0, len(wire) - 1))
    wire[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(wire)))
    try:
        PARSER.decoder().feed(bytes(wire[:cut]))
    except DecodeError:
        pass
