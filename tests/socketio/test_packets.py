"""Tests of plexio.socketio.packets: construction rules, named constructors, __str__."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given

from plexio.exceptions import LocalProtocolError
from plexio.socketio.packets import RESERVED_EVENTS, Packet, PacketType
from tests.socketio.strategies import packets


def test_packet_type_values_match_the_wire() -> None:
    assert [(t.name, int(t)) for t in PacketType] == [
        ("CONNECT", 0),
        ("DISCONNECT", 1),
        ("EVENT", 2),
        ("ACK", 3),
        ("CONNECT_ERROR", 4),
        ("BINARY_EVENT", 5),
        ("BINARY_ACK", 6),
    ]


def test_reserved_events_are_the_reference_list() -> None:
    assert RESERVED_EVENTS == {
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
    }


def test_named_constructors_fill_the_fields() -> None:
    assert Packet.connect() == Packet(PacketType.CONNECT, "/", None, None)
    assert Packet.connect("/a", {"token": "t"}).data == {"token": "t"}
    assert Packet.disconnect("/a") == Packet(PacketType.DISCONNECT, "/a")
    assert Packet.event("/", ["e", 1], 7) == Packet(PacketType.EVENT, "/", ["e", 1], 7)
    assert Packet.ack("/b", 3, []) == Packet(PacketType.ACK, "/b", [], 3)
    assert Packet.connect_error("/c", "nope").data == {"message": "nope"}
    assert Packet.connect_error("/c", "nope", {"x": 1}).data == {
        "message": "nope",
        "data": {"x": 1},
    }


def test_plain_ints_become_packet_type_members() -> None:
    for kind, data, ack_id in [(0, None, None), (1, None, None), (2, ["e"], None), (3, [], 1)]:
        packet = Packet(kind, "/", data, ack_id)
        assert type(packet.type) is PacketType
        assert packet.type == kind
    assert type(Packet(4, "/", "legacy").type) is PacketType


def test_packets_are_frozen_and_hashable_when_data_is() -> None:
    packet = Packet.disconnect("/x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        packet.namespace = "/y"  # type: ignore[misc]  # the point of the test
    assert hash(packet) == hash(Packet.disconnect("/x"))
    assert dataclasses.replace(packet, namespace="/y") == Packet.disconnect("/y")


@pytest.mark.parametrize("name", [1, -2, 0.5, "", "message", "connect ", "Connect"], ids=repr)
def test_valid_event_names(name: object) -> None:
    assert Packet.event("/", [name]).data == [name]


@pytest.mark.parametrize(
    "name",
    [*sorted(RESERVED_EVENTS), True, None, [], {}, b"x", float("nan"), float("inf")],
    ids=repr,
)
def test_invalid_event_names(name: object) -> None:
    with pytest.raises(LocalProtocolError):
        Packet.event("/", [name, 1])


@pytest.mark.parametrize(
    ("kind", "data", "ack_id"),
    [
        (PacketType.EVENT, [], None),
        (PacketType.EVENT, None, None),
        (PacketType.EVENT, ("e",), None),
        (PacketType.EVENT, {"e": 1}, None),
        (PacketType.EVENT, ["e"], -1),
        (PacketType.EVENT, ["e"], True),
        (PacketType.ACK, [], None),
        (PacketType.ACK, None, 1),
        (PacketType.ACK, (), 1),
        (PacketType.CONNECT, [], None),
        (PacketType.CONNECT, "auth", None),
        (PacketType.CONNECT, {}, 1),
        (PacketType.DISCONNECT, {}, None),
        (PacketType.DISCONNECT, None, 0),
        (PacketType.CONNECT_ERROR, None, None),
        (PacketType.CONNECT_ERROR, ["x"], None),
        (PacketType.CONNECT_ERROR, "x", 2),
        (PacketType.BINARY_EVENT, ["e", b""], None),
        (PacketType.BINARY_ACK, [b""], 1),
        (7, None, None),
    ],
    ids=repr,
)
def test_invalid_payloads_are_refused(kind: PacketType, data: object, ack_id: object) -> None:
    with pytest.raises(LocalProtocolError):
        Packet(kind, "/", data, ack_id)  # type: ignore[arg-type]  # invalid on purpose


#: A field of the wrong Python type: InvalidPacketError from the pure-Python build,
#: TypeError from the argument check of the mypyc-compiled one (README, "Compiled cores").
WRONG_TYPE = (LocalProtocolError, TypeError)


@pytest.mark.parametrize(
    ("kind", "namespace", "ack_id"),
    [
        (PacketType.EVENT, "/", "1"),
        (PacketType.ACK, "/", 1.0),
        ("2", "/", None),
        (PacketType.DISCONNECT, 1, None),
        (PacketType.DISCONNECT, None, None),
        (PacketType.DISCONNECT, b"/", None),
    ],
    ids=repr,
)
def test_fields_of_the_wrong_python_type_are_refused(
    kind: object, namespace: object, ack_id: object
) -> None:
    data = ["e"] if kind == PacketType.EVENT else [] if kind == PacketType.ACK else None
    with pytest.raises(WRONG_TYPE):
        Packet(kind, namespace, data, ack_id)  # type: ignore[arg-type]  # invalid on purpose


def test_valid_payload_per_type() -> None:
    Packet(PacketType.CONNECT, "/", {}, None)
    Packet(PacketType.CONNECT_ERROR, "/", "legacy string form", None)
    Packet(PacketType.CONNECT_ERROR, "/", {"message": "m"}, None)
    Packet(PacketType.ACK, "/", [b"\x00", {"k": [b""]}], 0)
    Packet(PacketType.EVENT, "/", ["e", b"\x00"], None)


@pytest.mark.parametrize("namespace", ["", "admin", "/a,b", ",", "/a\x1eb"], ids=repr)
def test_invalid_namespaces(namespace: object) -> None:
    with pytest.raises(LocalProtocolError):
        Packet.disconnect(namespace)  # type: ignore[arg-type]  # invalid on purpose


def test_str_is_short_and_informative() -> None:
    assert str(Packet.connect()) == "CONNECT"
    assert str(Packet.disconnect("/admin")) == "DISCONNECT /admin"
    assert str(Packet.event("/", ["chat", 1], 12)) == "EVENT #12 ['chat', 1]"
    big = Packet.event("/" + "n" * 100, ["x" * 10_000, b"\x00" * 1_000_000, list(range(1000))])
    text = str(big)
    assert len(text) < 150
    assert text.endswith("…")
    assert " /" + "n" * 38 + "… " in text
    binary = str(Packet.ack("/", 1, [b"ab", bytearray(3), memoryview(b"abcd")]))
    assert binary == "ACK #1 [<2 bytes>, <3 bytes>, <4 bytes>]"


@given(packets())
def test_generated_packets_rebuild_equal(packet: Packet) -> None:
    again = Packet(packet.type, packet.namespace, packet.data, packet.ack_id)
    assert again == packet
    assert str(again) == str(packet)


def test_str_subclass_event_names_follow_the_str_rules() -> None:
    class Name(str):
        __slots__ = ()

    assert Packet.event("/", [Name("chat")]).data == ["chat"]
    with pytest.raises(LocalProtocolError):
        Packet.event("/", [Name("disconnect")])
