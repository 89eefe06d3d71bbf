"""Tests of plexio.socketio.client: the client's Socket.IO core, without an event loop.

Where a server is needed, the server's own sans-I/O core
(:class:`~plexio.socketio.connection.ServerConnection`) plays it: both cores share the
packet rules and the codec, so what one writes the other must read.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plexio.enums import DisconnectReason
from plexio.exceptions import LocalProtocolError
from plexio.socketio.client import NO_SID_MESSAGE, ClientConnection
from plexio.socketio.connection import ServerConnection
from plexio.socketio.events import (
    AckReceived,
    ConnectAccepted,
    ConnectionClosed,
    ConnectRefused,
    ConnectRequested,
    EventReceived,
    NamespaceClosed,
    NamespaceDisconnected,
)
from plexio.socketio.msgpack import MsgPackParser
from plexio.socketio.packets import Packet
from plexio.socketio.parser import JsonParser, Parser
from tests.socketio.strategies import json_values

PARSERS = [JsonParser(), MsgPackParser()]


@pytest.fixture(params=PARSERS, ids=repr)
def parser(request: pytest.FixtureRequest) -> Parser:
    return request.param  # type: ignore[no-any-return]  # the params above


def deliver(messages: list[str | bytes], to: ClientConnection | ServerConnection) -> Any:
    """Feed ``messages`` in order; every one but the last must report nothing."""
    for message in messages[:-1]:
        assert to.receive_message(message) is None
    return to.receive_message(messages[-1])


def joined_pair(parser: Parser, namespace: str = "/") -> tuple[ClientConnection, ServerConnection]:
    client, server = ClientConnection(parser), ServerConnection(parser)
    assert deliver(client.connect(namespace, {"token": "t"}), server) == ConnectRequested(
        namespace, {"token": "t"}
    )
    assert deliver(server.accept(namespace, "sid1"), client) == ConnectAccepted(namespace, "sid1")
    return client, server


def test_connect_then_accepted() -> None:
    client = ClientConnection(JsonParser())
    assert client.connect("/", {"token": "abc"}) == ['0{"token":"abc"}']
    assert client.connecting == {"/"}
    assert client.receive_message('0{"sid":"s1"}') == ConnectAccepted("/", "s1", None, False)
    assert client.connecting == frozenset()
    assert dict(client.namespaces) == {"/": "s1"}
    assert client.sid_of("/") == "s1"
    assert client.connect("/chat") == ["0/chat,"]
    assert client.receive_message('0/chat,{"sid":"s2"}') == ConnectAccepted("/chat", "s2")
    assert dict(client.namespaces) == {"/": "s1", "/chat": "s2"}


def test_refused_namespace_can_connect_again() -> None:
    client = ClientConnection(JsonParser())
    client.connect("/admin", {"token": "bad"})
    refused = client.receive_message('4/admin,{"message":"unauthorized","data":{"why":"token"}}')
    assert refused == ConnectRefused("/admin", "unauthorized", {"why": "token"})
    assert client.connecting == frozenset() and client.sid_of("/admin") is None
    assert client.connect("/admin", {"token": "good"}) == ['0/admin,{"token":"good"}']
    # The legacy form: a bare string
    assert client.receive_message('4/admin,"nope"') == ConnectRefused("/admin", "nope")


def test_a_connect_reply_without_sid_is_a_refusal() -> None:
    # What a Socket.IO v2 server answers; the official client reports connect_error.
    client = ClientConnection(JsonParser())
    client.connect("/")
    assert client.receive_message("0") == ConnectRefused("/", NO_SID_MESSAGE)
    assert client.sid_of("/") is None


def test_connecting_twice_is_a_local_error() -> None:
    client = ClientConnection(JsonParser())
    client.connect("/")
    with pytest.raises(LocalProtocolError):
        client.connect("/")
    client.receive_message('0{"sid":"s"}')
    with pytest.raises(LocalProtocolError):
        client.connect("/")


def test_sending_needs_a_joined_namespace() -> None:
    client = ClientConnection(JsonParser())
    with pytest.raises(LocalProtocolError):
        client.send_event("/", ["hello"])
    client.connect("/")
    with pytest.raises(LocalProtocolError):
        client.send_event("/", ["hello"])  # still connecting
    with pytest.raises(LocalProtocolError):
        client.send_ack("/", 1, [])


def test_same_mistakes_raise_the_same_error_as_on_the_server(parser: Parser) -> None:
    client, server = joined_pair(parser)
    for side in (client, server):
        with pytest.raises(LocalProtocolError, match="reserved"):
            side.send_event("/", ["disconnect", 1])
        with pytest.raises(LocalProtocolError):
            side.send_event("/", [])
        with pytest.raises(LocalProtocolError, match="not joined"):
            side.send_event("/nope", ["x"])


def test_events_and_acks_both_ways(parser: Parser) -> None:
    client, server = joined_pair(parser)
    ack_id = client.allocate_ack_id()
    sent = deliver(client.send_event("/", ["hello", 1, b"\x00\x01"], ack_id), server)
    assert sent == EventReceived("/", "sid1", "hello", [1, b"\x00\x01"], ack_id)
    assert client.awaits_ack("/", ack_id)
    answer = deliver(server.send_ack("/", ack_id, ["ok", b"\xff"]), client)
    assert answer == AckReceived("/", "sid1", ack_id, ["ok", b"\xff"])
    assert not client.awaits_ack("/", ack_id)
    # Reported once: a duplicate ACK is dropped.
    assert deliver(server.send_ack("/", ack_id, ["again"]), client) is None

    server_ack = server.allocate_ack_id()
    got = deliver(server.send_event("/", ["question", {"a": [1]}], server_ack), client)
    assert got == EventReceived("/", "sid1", "question", [{"a": [1]}], server_ack)
    assert deliver(client.send_ack("/", server_ack, [42]), server) == AckReceived(
        "/", "sid1", server_ack, [42]
    )


def test_an_ack_nobody_waits_for_is_dropped() -> None:
    client = ClientConnection(JsonParser())
    client.connect("/")
    client.receive_message('0{"sid":"s"}')
    assert client.receive_message("37[1]") is None
    ack_id = client.allocate_ack_id()
    client.send_event("/", ["x"], ack_id)
    client.forget_ack("/", ack_id)  # its deadline passed
    assert client.receive_message(f"3{ack_id}[1]") is None


def test_ack_ids_are_unique_for_the_connection_life() -> None:
    client = ClientConnection(JsonParser())
    ids = [client.allocate_ack_id() for _ in range(3)]
    client.session_ended(DisconnectReason.TRANSPORT_CLOSE)
    ids.append(client.allocate_ack_id())
    assert ids == [0, 1, 2, 3]


def test_packets_for_namespaces_not_joined_are_dropped() -> None:
    # As the official client: it routes by namespace and ignores the rest.
    client = ClientConnection(JsonParser())
    client.connect("/")
    assert client.receive_message('2["early"]') is None  # kept until the CONNECT reply
    assert client.receive_message('0/other,{"sid":"x"}') is None  # never asked for
    assert client.receive_message('4/other,{"message":"m"}') is None
    assert client.receive_message("1/other,") is None
    assert client.receive_message('2/other,["x"]') is None
    assert client.connecting == {"/"}


def test_server_disconnect_lists_unanswered_acks(parser: Parser) -> None:
    client, server = joined_pair(parser, "/chat")
    first, second = client.allocate_ack_id(), client.allocate_ack_id()
    client.send_event("/chat", ["a"], first)
    client.send_event("/chat", ["b"], second)
    deliver(server.send_ack("/chat", first, []), client)
    closed = deliver(server.send_disconnect("/chat"), client)
    assert closed == NamespaceClosed(
        "/chat", "sid1", DisconnectReason.IO_SERVER_DISCONNECT, (second,)
    )
    assert client.sid_of("/chat") is None
    assert closed.reason == "io server disconnect"  # the official client's string


def test_client_disconnect(parser: Parser) -> None:
    client, server = joined_pair(parser, "/a")
    ack_id = client.allocate_ack_id()
    client.send_event("/a", ["x"], ack_id)
    messages, closed = client.disconnect("/a")
    assert closed == NamespaceClosed("/a", "sid1", DisconnectReason.IO_CLIENT_DISCONNECT, (ack_id,))
    assert deliver(messages, server) == NamespaceDisconnected("/a", "sid1")
    # Leaving a namespace still connecting sends nothing; its late reply is dropped.
    client.connect("/b")
    assert client.disconnect("/b") == ([], None)
    late = parser.encode(Packet.connect("/b", {"sid": "late"}))
    assert deliver(late, client) is None
    assert client.disconnect("/never") == ([], None)


def test_session_end_leaves_every_namespace_in_order() -> None:
    client = ClientConnection(JsonParser())
    for ns, sid in (("/b", "s1"), ("/a", "s2")):
        client.connect(ns)
        client.receive_message(f'0{ns},{{"sid":"{sid}"}}')
    client.connect("/pending")
    ack_id = client.allocate_ack_id()
    client.send_event("/a", ["x"], ack_id)
    closed = client.session_ended(DisconnectReason.PING_TIMEOUT)
    assert closed == [
        NamespaceClosed("/b", "s1", DisconnectReason.PING_TIMEOUT, ()),
        NamespaceClosed("/a", "s2", DisconnectReason.PING_TIMEOUT, (ack_id,)),
    ]
    assert client.namespaces == {} and client.connecting == frozenset()
    assert client.connect("/pending") == ["0/pending,"]  # a new session starts over


def test_session_end_drops_a_partial_binary_packet() -> None:
    client = ClientConnection(JsonParser())
    client.connect("/")
    client.receive_message('0{"sid":"s"}')
    assert client.receive_message('51-["bin",{"_placeholder":true,"num":0}]') is None
    client.session_ended(DisconnectReason.TRANSPORT_CLOSE)
    client.connect("/")
    client.receive_message('0{"sid":"s2"}')
    # The next text message is a packet of its own, not the missing attachment.
    assert client.receive_message('2["next"]') == EventReceived("/", "s2", "next", [])


def test_undecodable_input_is_reported_as_the_server_core_does() -> None:
    # An event, never an exception: the same way ServerConnection reports a bad peer.
    client = ClientConnection(JsonParser())
    client.connect("/")
    client.receive_message('0{"sid":"s"}')
    closed = client.receive_message("9garbage")
    assert isinstance(closed, ConnectionClosed)
    assert closed.reason is DisconnectReason.PARSE_ERROR
    assert closed.reason == "parse error"  # the official client's string
    assert closed.detail
    assert client.receive_message('51-["bin",{"_placeholder":true,"num":0}]') is None
    closed = client.receive_message('2["a text message while an attachment is due"]')
    assert isinstance(closed, ConnectionClosed)
    # The partial packet was dropped: the decoder is clean again.
    assert client.receive_message('2["ok"]') == EventReceived("/", "s", "ok", [])
    assert client.session_ended(closed.reason) == [
        NamespaceClosed("/", "s", DisconnectReason.PARSE_ERROR)
    ]


# -- connection state recovery ---------------------------------------------------------


def test_recovery_sends_pid_and_last_offset_and_reports_recovered() -> None:
    client = ClientConnection(JsonParser())
    client.connect("/", {"token": "t"})
    assert client.receive_message('0{"sid":"s1","pid":"p1"}') == ConnectAccepted(
        "/", "s1", "p1", False
    )
    assert client.pid_of("/") == "p1"
    client.receive_message('2["news",1,"off-1"]')
    client.receive_message('2["news",2,"off-2"]')
    client.receive_message('2["news",3]')  # no offset: the last one stays
    client.session_ended(DisconnectReason.TRANSPORT_CLOSE)
    assert client.connect("/", {"token": "t"}) == ['0{"pid":"p1","offset":"off-2","token":"t"}']
    assert client.receive_message('0{"sid":"s1","pid":"p1"}') == ConnectAccepted(
        "/", "s1", "p1", True
    )


def test_auth_keys_win_over_recovery_keys() -> None:
    # As Object.assign({pid, offset}, auth) in the official client.
    client = ClientConnection(JsonParser())
    client.connect("/")
    client.receive_message('0{"sid":"s1","pid":"p1"}')
    client.session_ended(DisconnectReason.TRANSPORT_CLOSE)
    assert client.connect("/", {"pid": "mine"}) == ['0{"pid":"mine"}']


def test_a_new_pid_means_not_recovered() -> None:
    client = ClientConnection(JsonParser())
    client.connect("/")
    client.receive_message('0{"sid":"s1","pid":"p1"}')
    client.receive_message('2["news","off-1"]')
    client.session_ended(DisconnectReason.PING_TIMEOUT)
    client.connect("/")
    accepted = client.receive_message('0{"sid":"s2","pid":"p2"}')
    assert accepted == ConnectAccepted("/", "s2", "p2", False)
    client.session_ended(DisconnectReason.PING_TIMEOUT)
    assert client.connect("/") == ['0{"pid":"p2","offset":"off-1"}']


def test_no_recovery_keys_without_a_pid() -> None:
    client = ClientConnection(JsonParser())
    client.connect("/", {"a": 1})
    client.receive_message('0{"sid":"s1"}')
    client.receive_message('2["news","looks-like-an-offset"]')
    client.session_ended(DisconnectReason.TRANSPORT_CLOSE)
    assert client.connect("/", {"a": 1}) == ['0{"a":1}']


def test_recovery_state_is_per_namespace() -> None:
    client = ClientConnection(JsonParser())
    for ns in ("/a", "/b"):
        client.connect(ns)
    client.receive_message('0/a,{"sid":"s1","pid":"pa"}')
    client.receive_message('0/b,{"sid":"s2"}')
    client.receive_message('2/a,["x","oa"]')
    client.session_ended(DisconnectReason.TRANSPORT_CLOSE)
    assert client.connect("/a") == ['0/a,{"pid":"pa","offset":"oa"}']
    assert client.connect("/b") == ["0/b,"]


@given(
    name=st.text(min_size=1, max_size=10).filter(lambda s: s not in {"connect", "disconnect"}),
    args=st.lists(json_values, max_size=4),
)
def test_any_event_the_client_sends_reaches_the_server_unchanged(
    name: str, args: list[Any]
) -> None:
    for parser in PARSERS:
        client, server = ClientConnection(parser), ServerConnection(parser)
        deliver(client.connect("/"), server)
        deliver(server.accept("/", "s"), client)
        try:
            messages = client.send_event("/", [name, *args])
        except LocalProtocolError:
            continue  # a reserved name: refused before anything was sent
        assert deliver(messages, server) == EventReceived("/", "s", name, args)


def test_events_before_the_connect_reply_come_with_it() -> None:
    # Node's server sends a recovered session's missed events before its CONNECT reply;
    # the official client keeps them and emits them once connected.
    client = ClientConnection(JsonParser())
    client.connect("/")
    client.receive_message('0{"sid":"s1","pid":"p1"}')
    client.receive_message('2["news",1,"o1"]')
    client.session_ended(DisconnectReason.TRANSPORT_CLOSE)
    client.connect("/")
    assert client.receive_message('2["news",2,"o2"]') is None
    assert client.receive_message('21["news",3,"o3"]') is None
    assert client.receive_message('2/other,["x"]') is None  # not connecting there
    accepted = client.receive_message('0{"sid":"s1","pid":"p1"}')
    assert accepted == ConnectAccepted(
        "/",
        "s1",
        "p1",
        True,
        (
            EventReceived("/", "s1", "news", [2, "o2"]),
            EventReceived("/", "s1", "news", [3, "o3"], 1),
        ),
    )
    client.session_ended(DisconnectReason.TRANSPORT_CLOSE)
    assert client.connect("/") == ['0{"pid":"p1","offset":"o3"}']


def test_early_events_are_dropped_with_a_refusal_or_the_session() -> None:
    client = ClientConnection(JsonParser())
    client.connect("/")
    client.receive_message('2["early"]')
    client.receive_message('4{"message":"no"}')
    client.connect("/")
    assert client.receive_message('0{"sid":"s"}') == ConnectAccepted("/", "s")
    client.session_ended(DisconnectReason.TRANSPORT_CLOSE)
    client.connect("/")
    client.receive_message('2["early"]')
    client.session_ended(DisconnectReason.TRANSPORT_CLOSE)
    client.connect("/")
    assert client.receive_message('0{"sid":"s"}') == ConnectAccepted("/", "s")
