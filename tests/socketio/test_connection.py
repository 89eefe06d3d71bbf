"""Tests of plexio.socketio.connection: namespace joins and the rules of PROTOCOL.md 56-68."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plexio.config import Limits
from plexio.enums import DisconnectReason
from plexio.exceptions import LocalProtocolError
from plexio.socketio.connection import DEFAULT_MAX_NAMESPACES, ServerConnection
from plexio.socketio.events import (
    AckReceived,
    ConnectionClosed,
    ConnectRequested,
    EventReceived,
    NamespaceDisconnected,
)
from plexio.socketio.msgpack import MsgPackParser
from plexio.socketio.packets import Packet, PacketType
from plexio.socketio.parser import JsonParser, Parser

PARSERS = [JsonParser(), MsgPackParser()]


def client_sends(conn: ServerConnection, packet: Packet) -> object:
    """Encode ``packet`` as a client would and feed every message; return the last result."""
    messages = conn.parser.encode(packet)
    for message in messages[:-1]:
        assert conn.receive_message(message) is None
    return conn.receive_message(messages[-1])


def assert_failed(
    result: object,
    reason: DisconnectReason = DisconnectReason.PROTOCOL_ERROR,
    match: str = "",
) -> None:
    """The peer broke the protocol: reported as an event, never raised (the connection
    is closed)."""
    assert isinstance(result, ConnectionClosed), result
    assert result.reason is reason
    assert match in result.detail


def joined(parser: Parser, *namespaces: str) -> ServerConnection:
    conn = ServerConnection(parser)
    for namespace in namespaces:
        assert client_sends(conn, Packet.connect(namespace)) == ConnectRequested(namespace, {})
        conn.accept(namespace, "sid" + namespace)
    return conn


@pytest.mark.parametrize("namespace", ["/", "/custom", "/é"])
@pytest.mark.parametrize("pid", [None, "p1"])
def test_accept_reply_is_the_encoded_connect_packet(
    parser: Parser, namespace: str, pid: str | None
) -> None:
    # JsonParser's reply is built without a Packet: it must be what encoding one gives
    conn = ServerConnection(parser)
    conn.receive_message(parser.encode(Packet.connect(namespace))[0])
    reply: dict[str, object] = {"sid": "s1"} if pid is None else {"sid": "s1", "pid": pid}
    assert conn.accept(namespace, "s1", pid=pid) == parser.encode(
        Packet.connect(namespace, reply)  # type: ignore[arg-type]  # JSON values
    )


@pytest.fixture(params=PARSERS, ids=repr)
def parser(request: pytest.FixtureRequest) -> Parser:
    return request.param  # type: ignore[no-any-return]  # the params above


def test_connect_accept_and_reply() -> None:
    conn = ServerConnection(JsonParser())
    assert not conn.joined_any
    assert conn.receive_message('0{"token":"123"}') == ConnectRequested("/", {"token": "123"})
    assert conn.pending == {"/"}
    assert conn.accept("/", "abc") == ['0{"sid":"abc"}']
    assert conn.pending == frozenset()
    assert dict(conn.namespaces) == {"/": "abc"}
    assert conn.sid_of("/") == "abc"
    assert conn.sid_of("/other") is None
    assert conn.joined_any
    assert conn.receive_message("0/custom") == ConnectRequested("/custom", {})
    assert conn.accept("/custom", "xyz") == ['0/custom,{"sid":"xyz"}']
    assert repr(conn) == "ServerConnection(open, namespaces=['/', '/custom'])"


def test_refused_namespace_keeps_the_connection() -> None:
    conn = ServerConnection(JsonParser())
    assert conn.receive_message("0/random,") == ConnectRequested("/random", {})
    assert conn.refuse("/random", "Invalid namespace") == [
        '4/random,{"message":"Invalid namespace"}'
    ]
    assert not conn.closed and not conn.pending and not conn.joined_any
    # The client may try again; a refusal with details carries them.
    conn.receive_message("0/random,")
    assert conn.refuse("/random", "not authorized", {"retry": False}) == [
        '4/random,{"message":"not authorized","data":{"retry":false}}'
    ]


def test_events_acks_and_disconnect(parser: Parser) -> None:
    conn = joined(parser, "/", "/chat")
    assert client_sends(conn, Packet.event("/", ["hello", 1, {"a": [True]}])) == EventReceived(
        "/", "sid/", "hello", [1, {"a": [True]}], None
    )
    assert client_sends(conn, Packet.event("/chat", [42, b"\x00\x01", [b""]], 7)) == (
        EventReceived("/chat", "sid/chat", 42, [b"\x00\x01", [b""]], 7)
    )
    assert client_sends(conn, Packet.ack("/chat", 3, [b"x"])) == AckReceived(
        "/chat", "sid/chat", 3, [b"x"]
    )
    assert client_sends(conn, Packet.disconnect("/chat")) == NamespaceDisconnected(
        "/chat", "sid/chat"
    )
    assert dict(conn.namespaces) == {"/": "sid/"}
    # The session stays usable for the namespaces still joined (item 67).
    assert isinstance(client_sends(conn, Packet.event("/", ["still"])), EventReceived)


def test_binary_event_waits_for_attachments() -> None:
    conn = joined(JsonParser(), "/")
    assert conn.receive_message('51-["up",{"_placeholder":true,"num":0}]') is None
    assert conn.receive_message(b"data") == EventReceived("/", "sid/", "up", [b"data"])


@pytest.mark.parametrize(
    "first",
    [
        Packet.event("/", ["e"]),
        Packet.ack("/", 1, []),
        Packet.disconnect("/"),
        Packet.connect_error("/", "client may not send this"),
    ],
    ids=str,
)
def test_first_packet_must_be_connect(parser: Parser, first: Packet) -> None:
    conn = ServerConnection(parser)
    assert_failed(client_sends(conn, first))
    assert conn.closed
    with pytest.raises(LocalProtocolError):
        client_sends(conn, Packet.connect())


def test_first_packet_error_names_the_rule() -> None:
    assert_failed(
        ServerConnection(JsonParser()).receive_message('2["e"]'),
        match="first packet must be CONNECT",
    )


def test_a_pending_namespace_is_not_joined(parser: Parser) -> None:
    conn = ServerConnection(parser)
    client_sends(conn, Packet.connect("/"))
    assert_failed(client_sends(conn, Packet.event("/", ["too early"])))


@pytest.mark.parametrize(
    "packet",
    [
        Packet.event("/other", ["e"]),
        Packet.ack("/other", 1, []),
        Packet.disconnect("/other"),
        Packet.connect("/"),  # second CONNECT for a joined namespace
        Packet.connect_error("/", "never from a client"),
    ],
    ids=str,
)
def test_item_63_violations_close_the_connection(parser: Parser, packet: Packet) -> None:
    conn = joined(parser, "/")
    assert_failed(client_sends(conn, packet))
    assert conn.closed
    assert conn.close() == {"/": "sid/"}


def test_not_joined_error_names_the_namespace() -> None:
    conn = joined(JsonParser(), "/")
    assert_failed(
        conn.receive_message('2/other,["e"]'), match="'/other', which the client has not joined"
    )


def test_second_connect_while_pending(parser: Parser) -> None:
    conn = ServerConnection(parser)
    client_sends(conn, Packet.connect("/a"))
    assert_failed(client_sends(conn, Packet.connect("/a")), match="second CONNECT")


def test_event_after_leaving_is_an_error(parser: Parser) -> None:
    conn = joined(parser, "/", "/a")
    client_sends(conn, Packet.disconnect("/a"))
    assert_failed(client_sends(conn, Packet.event("/a", ["e"])))


def test_decode_errors_close_the_connection() -> None:
    conn = joined(JsonParser(), "/")
    conn.receive_message('51-["e",{"_placeholder":true,"num":0}]')
    assert_failed(conn.receive_message('2{"not":"an array"}'), DisconnectReason.PARSE_ERROR)
    assert conn.closed
    with pytest.raises(LocalProtocolError):
        conn.receive_message(b"late buffer")


def test_namespace_limit(parser: Parser) -> None:
    conn = ServerConnection(parser, max_namespaces=2)
    client_sends(conn, Packet.connect("/a"))
    conn.accept("/a", "1")
    client_sends(conn, Packet.connect("/b"))  # pending counts too
    assert_failed(client_sends(conn, Packet.connect("/c")), match="more than 2 namespaces")
    assert DEFAULT_MAX_NAMESPACES >= 1
    with pytest.raises(ValueError):
        ServerConnection(parser, max_namespaces=0)


def test_server_side_sends(parser: Parser) -> None:
    conn = joined(parser, "/", "/a")
    assert conn.send_event("/a", ["news", b"\x01"], 5) == parser.encode(
        Packet.event("/a", ["news", b"\x01"], 5)
    )
    assert conn.send_ack("/", 9, ["ok"]) == parser.encode(Packet.ack("/", 9, ["ok"]))
    assert conn.send_disconnect("/a") == parser.encode(Packet.disconnect("/a"))
    assert "/a" not in conn.namespaces
    sends: list[Callable[[], object]] = [
        lambda: conn.send_event("/a", ["e"]),
        lambda: conn.send_ack("/a", 1, []),
        lambda: conn.send_disconnect("/a"),
        lambda: conn.send_event("/", ["disconnect"]),  # reserved name: invalid packet
    ]
    for send in sends:
        with pytest.raises(LocalProtocolError):
            send()


def test_late_packets_for_a_namespace_the_server_left_are_dropped(parser: Parser) -> None:
    conn = joined(parser, "/", "/a")
    conn.send_disconnect("/a")
    # Sent before the client saw the DISCONNECT: dropped, the connection stays.
    assert client_sends(conn, Packet.event("/a", ["late", b"\x00"])) is None
    assert client_sends(conn, Packet.ack("/a", 1, [])) is None
    assert client_sends(conn, Packet.disconnect("/a")) is None
    assert not conn.closed
    # A CONNECT_ERROR is never excused.
    assert_failed(client_sends(conn, Packet.connect_error("/a", "no")))


def test_reconnecting_ends_the_grace(parser: Parser) -> None:
    conn = joined(parser, "/a")
    conn.send_disconnect("/a")
    assert client_sends(conn, Packet.connect("/a")) == ConnectRequested("/a", {})
    conn.refuse("/a", "no")
    assert_failed(client_sends(conn, Packet.event("/a", ["e"])))  # item 63 again


def test_the_left_set_is_bounded() -> None:
    conn = ServerConnection(JsonParser(), max_namespaces=2)
    for name in ("/1", "/2", "/3"):
        conn.receive_message(f"0{name},")
        conn.accept(name, "s")
        conn.send_disconnect(name)
    assert conn.receive_message('2/3,["e"]') is None
    assert conn.receive_message('2/2,["e"]') is None
    assert_failed(conn.receive_message('2/1,["e"]'))  # "/1" was forgotten first


def test_accept_and_refuse_need_a_pending_connect(parser: Parser) -> None:
    conn = joined(parser, "/")
    with pytest.raises(LocalProtocolError):
        conn.accept("/", "again")
    with pytest.raises(LocalProtocolError):
        conn.refuse("/nothing", "no")
    client_sends(conn, Packet.connect("/late"))
    conn.close()
    with pytest.raises(LocalProtocolError):
        conn.accept("/late", "x")


def test_ack_ids_count_up_and_wrap() -> None:
    conn = ServerConnection(JsonParser(), Limits(max_ack_id_digits=1))
    assert [conn.allocate_ack_id() for _ in range(12)] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]


def test_ack_ids_skip_ahead_for_a_shared_broadcast_id() -> None:
    conn = ServerConnection(JsonParser(), Limits(max_ack_id_digits=1))
    assert conn.next_ack_id == 0
    assert conn.allocate_ack_id(at_least=7) == 7
    assert conn.next_ack_id == 8
    assert conn.allocate_ack_id(at_least=3) == 8  # never goes back to ids in use
    assert conn.allocate_ack_id(at_least=12) == 0  # past the digit limit: wraps
    assert conn.allocate_ack_id() == 1


def test_accept_with_a_recovery_pid() -> None:
    conn = ServerConnection(JsonParser())
    conn.receive_message("0")
    assert conn.accept("/", "abc", pid="p1") == ['0{"sid":"abc","pid":"p1"}']


def test_nothing_is_raised_into_the_caller_for_any_input() -> None:
    conn = ServerConnection(JsonParser())
    assert_failed(conn.receive_message("9"), DisconnectReason.PARSE_ERROR)
    assert conn.closed


def test_close_leaves_nothing_behind(parser: Parser) -> None:
    conn = joined(parser, "/", "/a")
    view = conn.namespaces
    client_sends(conn, Packet.connect("/pending"))
    assert conn.close() == {"/": "sid/", "/a": "sid/a"}
    assert conn.closed and not conn.pending and not view
    assert conn.close() == {}
    assert repr(conn) == "ServerConnection(closed, namespaces=[])"
    closed_sends: list[Callable[[], object]] = [
        lambda: conn.send_event("/", ["e"]),
        lambda: conn.send_disconnect("/"),
    ]
    for send in closed_sends:
        with pytest.raises(LocalProtocolError):
            send()


_namespace = st.sampled_from(["/", "/a", "/b"])
_client_packets = st.one_of(
    st.builds(Packet.connect, _namespace),
    st.builds(Packet.disconnect, _namespace),
    st.builds(
        lambda ns, ack: Packet.event(ns, ["e", b"\x00"], ack),
        _namespace,
        st.none() | st.integers(0, 9),
    ),
    st.builds(lambda ns, ack: Packet.ack(ns, ack, []), _namespace, st.integers(0, 9)),
    st.builds(Packet.connect_error, _namespace, st.just("m")),
)


@given(st.lists(st.tuples(_client_packets, st.booleans()), max_size=12), st.sampled_from(PARSERS))
def test_any_client_sequence_follows_the_model(
    steps: list[tuple[Packet, bool]], parser: Parser
) -> None:
    """Against a model of the rules: the server accepts or refuses each CONNECT at once."""
    conn = ServerConnection(parser)
    model: set[str] = set()
    for packet, accept in steps:
        ns = packet.namespace
        allowed = (
            ns not in model
            if packet.type == PacketType.CONNECT
            else packet.type != PacketType.CONNECT_ERROR and ns in model
        )
        if not allowed:
            assert_failed(client_sends(conn, packet))
            assert conn.closed
            return
        event = client_sends(conn, packet)
        if isinstance(event, ConnectRequested):
            if accept:
                conn.accept(ns, "s" + ns)
                model.add(ns)
            else:
                conn.refuse(ns, "no")
        elif isinstance(event, NamespaceDisconnected):
            model.discard(ns)
        else:
            assert isinstance(event, EventReceived | AckReceived)
            assert event.sid == "s" + ns
        assert set(conn.namespaces) == model
    assert conn.close() == {ns: "s" + ns for ns in model}
