"""Client session state machine: strings and time in, frames and events out, no event loop.

Pair tests connect a client :class:`ClientSession` to a server :class:`Session` in
memory, so both sides of the handshake, heartbeat and upgrade are exercised together.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plexio.config import EngineOptions, Limits
from plexio.engineio.client import ClientSession, ClientState, Opened
from plexio.engineio.events import Disconnected, DisconnectReason, MessageReceived, Upgraded
from plexio.engineio.packets import OpenInfo
from plexio.engineio.payload import decode_payload
from plexio.engineio.session import ServerSession
from plexio.exceptions import LocalProtocolError

INFO = OpenInfo(
    sid="s1",
    upgrades=("websocket",),
    ping_interval_ms=300,
    ping_timeout_ms=200,
    max_payload=1000,
)
OPEN = "0" + INFO.to_json()


def opened(transport: str = "polling", info: OpenInfo = INFO, now: float = 0.0) -> ClientSession:
    client = ClientSession(transport)
    if transport == "polling":
        client.receive_payload("0" + info.to_json(), now)
    else:
        client.receive_frame("0" + info.to_json(), now)
    assert client.events() == [Opened(info)]
    return client


def test_open_packet_makes_the_session_open() -> None:
    client = ClientSession("polling")
    assert client.state is ClientState.OPENING and client.sid is None
    assert client.max_payload == 1_000_000  # the default until the server says
    client.receive_payload(OPEN + "\x1e4hello", 0.0)
    assert client.events() == [Opened(INFO), MessageReceived("hello")]
    assert client.state is ClientState.OPEN
    assert client.sid == "s1" and client.max_payload == 1000
    assert client.can_upgrade


def test_open_over_websocket() -> None:
    info = OpenInfo("w", (), 300, 200, 1000)
    client = opened("websocket", info)
    assert client.transport == "websocket" and not client.can_upgrade
    client.receive_frame("4text", 0.1)
    client.receive_frame(b"\x01\x02", 0.1)
    assert client.events() == [MessageReceived("text"), MessageReceived(b"\x01\x02")]


@pytest.mark.parametrize("first", ["4hello", "2", "0not json", "0{}", "6"])
def test_anything_but_a_valid_open_first_closes(first: str) -> None:
    client = ClientSession("polling")
    client.receive_payload(first, 0.0)
    (event,) = client.events()
    assert isinstance(event, Disconnected)
    assert event.reason in (DisconnectReason.PROTOCOL_ERROR, DisconnectReason.PARSE_ERROR)
    assert client.closed and client.polling_paused


def test_unknown_transport_is_refused() -> None:
    with pytest.raises(ValueError):
        ClientSession("carrier-pigeon")


def test_malformed_payload_closes_with_parse_error() -> None:
    client = opened()
    client.receive_payload("4ok\x1ebnot-base64!", 1.0)
    assert client.events() == [Disconnected(DisconnectReason.PARSE_ERROR)]
    client.receive_payload("4late", 1.1)  # ignored once closed
    client.receive_frame("4late", 1.1)
    assert client.events() == []


def test_bad_websocket_frame_closes_with_parse_error() -> None:
    client = opened("websocket")
    client.receive_frame("9", 0.1)
    assert client.events() == [Disconnected(DisconnectReason.PARSE_ERROR)]


def test_ping_is_answered_at_once() -> None:
    client = opened()
    client.receive_payload("2", 0.3)
    assert client.has_data()
    assert client.payload_to_send() == "3"
    assert client.payload_to_send() is None


def test_ping_with_data_is_echoed_over_websocket() -> None:
    client = opened("websocket")
    client.receive_frame("2x", 0.1)
    assert client.data_to_send() == ["3x"]


def test_no_ping_within_interval_plus_timeout_closes() -> None:
    client = opened(now=10.0)
    assert client.next_deadline() == pytest.approx(10.5)
    client.handle_timeout(10.49)
    assert not client.closed
    client.receive_payload("2", 10.4)  # a ping pushes the deadline
    assert client.next_deadline() == pytest.approx(10.9)
    client.handle_timeout(10.6)
    assert not client.closed
    client.handle_timeout(10.9)
    assert client.events() == [Disconnected(DisconnectReason.PING_TIMEOUT)]
    assert client.next_deadline() is None
    client.handle_timeout(11.0)  # nothing more happens
    assert client.events() == []


def test_open_timeout_applies_before_the_open() -> None:
    client = ClientSession("polling", now=5.0, open_timeout=2.0)
    assert client.next_deadline() == 7.0
    client.handle_timeout(7.0)
    assert client.events() == [Disconnected(DisconnectReason.PING_TIMEOUT)]


def test_no_deadline_without_open_timeout() -> None:
    client = ClientSession("polling")
    assert client.next_deadline() is None
    client.handle_timeout(100.0)
    assert not client.closed


def test_server_close_packet_ends_the_session() -> None:
    client = opened()
    client.send_message("queued")
    client.receive_payload("1", 0.2)
    assert client.events() == [Disconnected(DisconnectReason.TRANSPORT_CLOSE)]
    assert client.payload_to_send() is None  # nothing left to send
    with pytest.raises(LocalProtocolError):
        client.send_message("too late")


@pytest.mark.parametrize("frame", ["0{}", "5"])
def test_open_or_upgrade_from_the_server_is_a_protocol_error(frame: str) -> None:
    client = opened()
    client.receive_payload(frame, 0.1)
    assert client.events() == [Disconnected(DisconnectReason.PROTOCOL_ERROR)]


def test_noop_and_pong_are_ignored() -> None:
    client = opened()
    client.receive_payload("6\x1e3", 0.1)
    assert client.events() == [] and not client.closed


def test_receive_eof_closes_once() -> None:
    client = opened()
    client.receive_eof(DisconnectReason.TRANSPORT_ERROR)
    client.receive_eof()
    assert client.events() == [Disconnected(DisconnectReason.TRANSPORT_ERROR)]
    assert client.close_reason is DisconnectReason.TRANSPORT_ERROR


def test_messages_wait_for_the_open() -> None:
    client = ClientSession("polling")
    client.send_message("early")
    client.send_message(b"\x00")
    assert not client.has_data()
    assert client.payload_to_send() is None and client.data_to_send() == []
    client.receive_payload(OPEN, 0.0)
    assert client.payload_to_send() == "4early\x1ebAA=="


def test_client_close_queues_the_close_packet_last() -> None:
    client = opened()
    client.send_message("bye")
    client.close()
    assert client.closed
    assert client.events() == [Disconnected(DisconnectReason.FORCED_CLOSE)]
    assert client.payload_to_send() == "4bye\x1e1"
    client.close()  # idempotent
    assert client.events() == []


def test_polling_posts_are_split_under_max_payload() -> None:
    client = opened()  # maxPayload 1000
    messages = [f"{i:03d}" + "x" * 196 for i in range(12)]  # 201 bytes each as "4..."
    for m in messages:
        client.send_message(m)
    bodies = []
    while (body := client.payload_to_send()) is not None:
        bodies.append(body)
    assert all(len(b.encode()) <= 1000 for b in bodies)
    assert len(bodies) == 3  # 4 frames (4*201+3 = 807) fit, a fifth does not
    received = [p.data for b in bodies for p in decode_payload(b)]
    assert received == messages


def test_multibyte_and_binary_sizes_count_as_sent() -> None:
    info = OpenInfo("s", (), 300, 200, 20)
    client = opened(info=info)
    client.send_message("é" * 5)  # "4" + 10 bytes of UTF-8 = 11
    client.send_message("é" * 5)  # 11 + 1 + 11 > 20: next body
    client.send_message(b"\x00" * 3)  # "b" + 4 base64 chars = 5
    assert client.payload_to_send() == "4" + "é" * 5
    assert client.payload_to_send() == "4" + "é" * 5 + "\x1ebAAAA"


def test_the_record_separator_is_refused_in_text() -> None:
    client = opened()
    with pytest.raises(LocalProtocolError, match="separator"):
        client.send_message("a\x1eb")
    client.send_message(b"a\x1eb")  # binary is base64-encoded: no problem
    assert client.payload_to_send() == "bYR5i"


def test_a_frame_larger_than_max_payload_travels_alone() -> None:
    info = OpenInfo("s", (), 300, 200, 10)
    client = opened(info=info)
    client.send_message("a" * 50)
    client.send_message("b")
    assert client.payload_to_send() == "4" + "a" * 50
    assert client.payload_to_send() == "4b"


def _utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


@given(
    st.lists(
        st.one_of(
            # lone surrogates included on purpose: such text cannot be sent
            st.text(st.characters(exclude_characters="\x1e", codec=None), max_size=60),
            st.text(st.sampled_from("a\ud800\udfff\u00e9"), max_size=5),
            st.binary(max_size=60),
        ),
        max_size=30,
    ),
    st.integers(min_value=1, max_value=400),
)
def test_split_payloads_keep_order_and_limit(messages: list[str | bytes], limit: int) -> None:
    info = OpenInfo("s", (), 300, 200, limit)
    client = opened(info=info)
    sent: list[str | bytes] = []
    for m in messages:
        if isinstance(m, str) and not _utf8(m):
            # refused with a clear error, nothing queued, the session goes on
            with pytest.raises(LocalProtocolError, match="valid UTF-8"):
                client.send_message(m)
            continue
        client.send_message(m)
        sent.append(m)
    received: list[str | bytes] = []
    while (body := client.payload_to_send()) is not None:
        packets = decode_payload(body, Limits(max_packets_per_payload=100))
        if len(packets) > 1:
            assert len(body.encode()) <= limit
        received.extend(p.data for p in packets)
    assert received == sent
    assert not client.closed


def test_text_that_is_not_utf8_is_refused_and_nothing_is_lost() -> None:
    client = opened()
    client.send_message("before")
    with pytest.raises(LocalProtocolError, match="surrogates not allowed at position 3"):
        client.send_message("abc\ud800def")
    client.send_message("after")
    assert client.payload_to_send() == "4before\x1e4after"
    assert client.state is ClientState.OPEN


def test_upgrade_sequence() -> None:
    client = opened()
    client.send_message("before")
    assert client.begin_upgrade() == "2probe"
    assert not client.can_upgrade  # one probe at a time
    with pytest.raises(LocalProtocolError):
        client.begin_upgrade()
    # Polling goes on during the probe...
    assert client.payload_to_send() == "4before"
    client.send_message("during")
    assert client.receive_probe_frame("3probe")
    # ...and pauses once the server answered: nothing new is posted.
    assert client.state is ClientState.UPGRADING and client.polling_paused
    assert client.payload_to_send() is None and not client.has_data()
    client.receive_payload("6", 0.1)  # the server releases the pending GET
    client.finish_upgrade()
    assert client.transport == "websocket" and client.state is ClientState.OPEN
    assert client.events() == [Upgraded()]
    assert client.data_to_send() == ["5", "4during"]
    with pytest.raises(LocalProtocolError):
        client.finish_upgrade()


def test_failed_probe_resumes_polling() -> None:
    client = opened()
    client.begin_upgrade()
    client.send_message("kept")
    assert not client.receive_probe_frame("3nope")
    assert client.state is ClientState.OPEN and client.transport == "polling"
    assert client.payload_to_send() == "4kept"
    assert client.can_upgrade  # may try again later


def test_abort_after_probe_answer_resumes_polling() -> None:
    client = opened()
    client.begin_upgrade()
    client.send_message("kept")
    assert client.receive_probe_frame("3probe")
    client.abort_upgrade()
    assert client.payload_to_send() == "4kept"


def test_no_upgrade_when_not_offered() -> None:
    info = OpenInfo("s", (), 300, 200, 1000)
    client = opened(info=info)
    assert not client.can_upgrade
    with pytest.raises(LocalProtocolError):
        client.begin_upgrade()


def test_probe_frame_without_probe_is_refused() -> None:
    client = opened()
    assert not client.receive_probe_frame("3probe")
    assert client.state is ClientState.OPEN


# ---------------------------------------------------------------- pair with the server core


def test_pair_handshake_heartbeat_and_messages_over_polling() -> None:
    opts = EngineOptions(ping_interval=0.3, ping_timeout=0.2)
    server = ServerSession("pair", "polling", opts, now=0.0)
    client = ClientSession("polling")
    body = server.payload_to_send()
    assert body is not None
    client.receive_payload(body, 0.0)
    (event,) = client.events()
    assert isinstance(event, Opened) and event.info.sid == "pair"
    assert event.info.ping_interval_ms == 300
    for step in range(1, 6):  # five ping cycles
        now = step * 0.3
        server.handle_timeout(now)
        ping = server.payload_to_send()
        assert ping == "2"
        client.receive_payload(ping, now)
        answer = client.payload_to_send()
        assert answer == "3"
        server.receive_payload(answer, now)
        client.handle_timeout(now)
        assert not client.closed and not server.closed
    client.send_message("hi")
    client.send_message(b"\x01")
    body = client.payload_to_send()
    assert body is not None
    server.receive_payload(body, 2.0)
    assert server.events() == [MessageReceived("hi"), MessageReceived(b"\x01")]


def test_pair_upgrade() -> None:
    opts = EngineOptions(ping_interval=10, ping_timeout=5)
    server = ServerSession("pair", "polling", opts, now=0.0)
    client = ClientSession("polling")
    client.receive_payload(server.payload_to_send() or "", 0.0)
    client.events()
    client.send_message("queued")
    server.begin_upgrade(0.1)
    answer = server.receive_probe_frame(client.begin_upgrade(), 0.1)
    assert answer == ["3probe"]
    assert client.receive_probe_frame(answer[0])
    assert server.payload_to_send() is None  # the pending GET is held...
    server.handle_timeout(0.1 + opts.upgrade_noop_interval)
    assert server.payload_to_send() == "6"  # ...and released with a noop
    client.receive_payload("6", 0.1)
    client.finish_upgrade()
    frames = client.data_to_send()
    assert frames[0] == "5"
    assert server.receive_probe_frame(frames[0], 0.2) == []
    for frame in frames[1:]:
        server.receive_frame(frame, 0.2)
    assert server.events() == [Upgraded(), MessageReceived("queued")]
    assert server.transport == "websocket" == client.transport
