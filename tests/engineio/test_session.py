"""ServerSession state machine: bytes and time in, frames and events out, no event loop."""

from __future__ import annotations

import orjson
import pytest

from plexio.config import EngineOptions
from plexio.engineio.events import Disconnected, DisconnectReason, MessageReceived, Upgraded
from plexio.engineio.session import ServerSession, SessionState
from plexio.exceptions import LocalProtocolError

OPTS = EngineOptions(ping_interval=0.3, ping_timeout=0.2, upgrade_timeout=1.0)


def new(transport: str = "polling", options: EngineOptions = OPTS) -> ServerSession:
    session = ServerSession("sid1", transport, options, now=0.0)
    session.data_to_send()  # the open packet
    return session


def test_open_packet_is_queued_first() -> None:
    session = ServerSession("sid1", "polling", OPTS, now=0.0)
    payload = session.payload_to_send()
    assert payload is not None and payload.startswith("0")
    assert orjson.loads(payload[1:]) == {
        "sid": "sid1",
        "upgrades": ["websocket"],
        "pingInterval": 300,
        "pingTimeout": 200,
        "maxPayload": 1_000_000,
    }
    assert session.payload_to_send() is None


def test_websocket_handshake_offers_no_upgrades() -> None:
    session = ServerSession("s", "websocket", OPTS, now=0.0)
    (frame,) = session.data_to_send()
    assert isinstance(frame, str) and orjson.loads(frame[1:])["upgrades"] == []
    no_upgrade = EngineOptions(allow_upgrades=False)
    (frame,) = ServerSession("s", "polling", no_upgrade, now=0.0).data_to_send()
    assert isinstance(frame, str) and orjson.loads(frame[1:])["upgrades"] == []


def test_messages_in_and_out() -> None:
    session = new()
    session.receive_payload("4a\x1ebAQI=\x1e6", now=0.1)
    assert session.events() == [MessageReceived("a"), MessageReceived(b"\x01\x02")]
    assert session.events() == []
    assert session.send_message("x") and session.send_message(b"\x00")
    assert session.payload_to_send() == "4x\x1ebAA=="
    session.receive_frame("4ws", now=0.1)
    session.receive_frame(b"\x09", now=0.1)
    assert session.events() == [MessageReceived("ws"), MessageReceived(b"\x09")]


def test_heartbeat_cycle_and_timeout() -> None:
    session = new()
    assert session.next_deadline() == pytest.approx(0.3)
    session.handle_timeout(0.3)
    assert session.data_to_send() == ["2"]
    assert session.next_deadline() == pytest.approx(0.5)
    session.receive_payload("3", now=0.4)  # pong: next ping one interval later
    assert session.next_deadline() == pytest.approx(0.7)
    session.handle_timeout(0.7)
    assert session.data_to_send() == ["2"]
    session.handle_timeout(0.89)
    assert not session.closed
    session.handle_timeout(0.9)
    assert session.closed and session.events() == [Disconnected(DisconnectReason.PING_TIMEOUT)]
    assert session.next_deadline() is None and session.data_to_send() == []


def test_client_close_releases_pending_get_with_noop() -> None:
    session = new()
    session.receive_payload("1", now=0.1)
    assert session.closed and session.close_reason is DisconnectReason.TRANSPORT_CLOSE
    assert session.payload_to_send() == "6"
    assert not session.send_message("late")


def test_server_close_sends_close_after_queued() -> None:
    session = new()
    session.send_message("bye")
    session.close()
    # the close packet leaves on its own, after the frames before it (as Node does):
    # the official client would drop acks read in one payload with a close packet
    assert session.payload_to_send() == "4bye"
    assert session.has_data()
    assert session.payload_to_send() == "1"
    assert not session.has_data()
    assert session.events() == [Disconnected(DisconnectReason.FORCED_CLOSE)]
    session.close()  # idempotent
    session.fail(DisconnectReason.TRANSPORT_ERROR)
    assert session.events() == []


@pytest.mark.parametrize("body", ["abc", "b!!", "0{}", "5", "4a\x1e"])
def test_malformed_or_illegal_input_closes_with_parse_error(body: str) -> None:
    session = new()
    session.receive_payload(body, now=0.1)
    assert session.close_reason is DisconnectReason.PARSE_ERROR
    session.receive_payload("4x", now=0.2)
    session.receive_frame("4x", now=0.2)
    assert session.events() == [Disconnected(DisconnectReason.PARSE_ERROR)]


def test_bad_websocket_frame_closes() -> None:
    session = new("websocket")
    session.receive_frame("", now=0.1)
    assert session.close_reason is DisconnectReason.PARSE_ERROR


def test_ping_from_client_is_answered_and_noop_ignored() -> None:
    session = new("websocket")
    session.receive_frame("2x", now=0.1)
    session.receive_frame("6", now=0.1)
    assert session.data_to_send() == ["3x"]
    assert session.events() == []


def test_eof_closes_with_transport_close() -> None:
    session = new("websocket")
    session.receive_eof()
    session.receive_eof()
    assert session.events() == [Disconnected(DisconnectReason.TRANSPORT_CLOSE)]


def test_upgrade_sequence() -> None:
    session = new(options=EngineOptions(ping_interval=10, ping_timeout=10, upgrade_timeout=1.0))
    session.send_message("queued")
    session.begin_upgrade(now=0.1)
    assert session.upgrading and session.state is SessionState.OPEN
    assert session.receive_probe_frame("2probe", now=0.1) == ["3probe"]
    assert session.state is SessionState.UPGRADING
    # GETs during the upgrade are held, then released with a noop every
    # upgrade_noop_interval (0.1 s); the queue is kept for the WebSocket.
    assert session.payload_to_send() is None
    assert session.next_deadline() == pytest.approx(0.2)
    session.handle_timeout(0.2)
    assert session.has_data()
    assert session.payload_to_send() == "6"
    assert session.payload_to_send() is None  # the next GET waits for the next tick
    assert session.next_deadline() == pytest.approx(0.3)
    session.handle_timeout(0.31)
    assert session.payload_to_send() == "6"
    session.send_message("during")
    assert session.payload_to_send() is None
    assert session.receive_probe_frame("5", now=0.35) == []
    assert session.next_deadline() != pytest.approx(0.41)  # no more noop ticks
    # a GET still held when the session moved to WebSocket gets a noop at once
    assert session.payload_to_send() == "6"
    assert session.transport == "websocket" and not session.upgrading
    assert session.events() == [Upgraded()]
    assert session.data_to_send() == ["4queued", "4during"]
    with pytest.raises(LocalProtocolError):
        session.begin_upgrade(now=0.3)  # already upgraded: a second WebSocket is refused


def test_upgrade_twice_at_once_is_refused() -> None:
    session = new()
    session.begin_upgrade(now=0.1)
    with pytest.raises(LocalProtocolError):
        session.begin_upgrade(now=0.1)


def test_bad_probe_frame_aborts_upgrade() -> None:
    session = new()
    session.begin_upgrade(now=0.1)
    assert session.receive_probe_frame("4hello", now=0.1) == []
    assert not session.upgrading and session.transport == "polling"
    assert session.receive_probe_frame("2probe", now=0.1) == []
    session.begin_upgrade(now=0.2)  # a new attempt is allowed
    session.receive_probe_frame("2probe", now=0.2)
    assert session.receive_probe_frame("2probe", now=0.2) == []
    assert session.state is SessionState.OPEN and not session.upgrading


def test_upgrade_timeout() -> None:
    options = EngineOptions(ping_interval=10, ping_timeout=10, upgrade_timeout=0.5)
    session = new(options=options)
    session.begin_upgrade(now=1.0)
    session.receive_probe_frame("2probe", now=1.0)
    assert session.next_deadline() == pytest.approx(1.1)  # the first noop tick
    session.handle_timeout(1.5)
    assert not session.upgrading and session.state is SessionState.OPEN
    assert session.payload_to_send() is None


def test_upgrade_disabled_or_wrong_state() -> None:
    with pytest.raises(LocalProtocolError):
        new(options=EngineOptions(allow_upgrades=False)).begin_upgrade(now=0)
    with pytest.raises(LocalProtocolError):
        new("websocket").begin_upgrade(now=0)
    closed = new()
    closed.close()
    with pytest.raises(LocalProtocolError):
        closed.begin_upgrade(now=0)


def test_volatile_dropped_when_buffer_full_and_slow_client_closed() -> None:
    options = EngineOptions(
        ping_interval=100, ping_timeout=100, max_buffered_bytes=10, slow_client_grace=1.0
    )
    session = new("websocket", options)
    assert session.send_message("x" * 20)
    assert not session.send_message("v", volatile=True)
    assert not session.send_frames(["4v"], volatile=True)
    assert session.send_frames(["4a", "4b"])
    assert session.buffered_size == 21 + 4
    session.handle_timeout(5.0)
    assert session.next_deadline() == pytest.approx(6.0)
    session.handle_timeout(6.0)
    assert session.close_reason is DisconnectReason.SLOW_CLIENT


def test_draining_resets_slow_client_clock() -> None:
    options = EngineOptions(
        ping_interval=100, ping_timeout=100, max_buffered_bytes=10, slow_client_grace=1.0
    )
    session = new("websocket", options)
    session.send_message("x" * 20)
    session.handle_timeout(5.0)
    session.data_to_send()
    session.handle_timeout(6.0)
    assert not session.closed
    session.send_message("y" * 20)
    session.handle_timeout(6.5)
    session.send_message("z")
    session.data_to_send()
    session.handle_timeout(7.6)
    assert not session.closed


def test_closed_session_ignores_everything() -> None:
    session = new()
    session.close()
    session.data_to_send()
    session.handle_timeout(100.0)
    session.abort_upgrade()
    assert session.receive_probe_frame("2probe", now=1) == []
    assert not session.send_frames(["4x"])
    assert session.payload_to_send() is None


def test_timers_changed_flag_marks_deadline_changes_only() -> None:
    session = new()
    assert session.timers_changed
    session.timers_changed = False
    session.receive_frame("4msg", now=0.1)
    session.send_message("x")
    assert not session.timers_changed  # messages do not move deadlines
    session.handle_timeout(0.3)  # ping sent: a pong deadline appears
    assert session.timers_changed
    session.timers_changed = False
    session.receive_frame("3", now=0.35)
    assert session.timers_changed and session.next_deadline() == pytest.approx(0.65)
    session.timers_changed = False
    session.begin_upgrade(now=0.4)
    assert session.timers_changed
    session.timers_changed = False
    session.abort_upgrade()
    assert session.timers_changed
    session.timers_changed = False
    session.close()
    assert session.timers_changed and session.next_deadline() is None


def test_going_over_the_buffer_limit_asks_for_an_immediate_timeout() -> None:
    options = EngineOptions(
        ping_interval=100, ping_timeout=100, max_buffered_bytes=10, slow_client_grace=2.0
    )
    session = new("websocket", options)
    session.timers_changed = False
    session.send_message("small")
    assert not session.timers_changed
    session.send_frames(["4" + "x" * 20])
    assert session.timers_changed and session.next_deadline() == 0.0
    session.handle_timeout(3.0)  # the grace period starts now
    assert session.next_deadline() == pytest.approx(5.0)
    session.send_message("more")
    assert session.next_deadline() == pytest.approx(5.0)
    session.handle_timeout(5.0)
    assert session.close_reason is DisconnectReason.SLOW_CLIENT


def test_client_close_over_websocket_sends_nothing_back() -> None:
    session = new("websocket")
    session.receive_frame("1", now=0.1)
    assert session.closed and session.data_to_send() == []


def test_send_messages_frames_a_packet_and_its_attachments_together() -> None:
    session = new("websocket", EngineOptions(max_buffered_bytes=10))
    session.data_to_send()
    assert session.send_messages(['51-["e",{"_placeholder":true,"num":0}]', b"\x01"])
    assert session.data_to_send() == ['451-["e",{"_placeholder":true,"num":0}]', b"\x01"]
    session.send_message("x" * 20)
    assert not session.send_messages(["2", b"\x02"], volatile=True)  # all or none
    assert session.data_to_send() == ["4" + "x" * 20]


def test_text_that_is_not_utf8_is_refused_and_the_session_goes_on() -> None:
    session = ServerSession("s", "websocket", OPTS, now=0.0)
    session.data_to_send()  # the OPEN packet
    with pytest.raises(LocalProtocolError, match="valid UTF-8"):
        session.send_message("\udc80 lone")
    assert session.send_message("ok é")
    assert session.data_to_send() == ["4ok é"]
    assert session.state is SessionState.OPEN


def test_a_send_finding_the_backlog_over_the_hard_limit_closes_the_session() -> None:
    options = EngineOptions(
        ping_interval=100, ping_timeout=100, max_buffered_bytes=10, max_buffered_bytes_hard=30
    )
    session = new("websocket", options)
    assert session.send_message("x" * 40)  # one big message into an empty backlog is taken
    assert not session.send_message("y")  # the next one finds 41 bytes unsent
    assert session.close_reason is DisconnectReason.SLOW_CLIENT
    assert session.close_detail == "41 bytes unsent, over max_buffered_bytes_hard=30"
    assert session.events() == [Disconnected(DisconnectReason.SLOW_CLIENT)]
    assert session.data_to_send() == []  # what was queued is dropped, not sent


def test_bytes_held_by_the_transport_count_against_the_limits() -> None:
    options = EngineOptions(
        ping_interval=100, ping_timeout=100, max_buffered_bytes=10, max_buffered_bytes_hard=30
    )
    session = new("websocket", options)
    session.send_message("x" * 5)
    session.data_to_send()
    session.set_transport_backlog(12)  # written, but the peer is not reading
    assert session.backlog == 12
    assert not session.send_message("v", volatile=True)
    assert session.next_deadline() == 0.0  # the slow-client clock starts
    session.handle_timeout(1.0)
    session.set_transport_backlog(31)
    assert not session.send_message("z")
    assert session.close_reason is DisconnectReason.SLOW_CLIENT


def test_a_transport_that_drains_stops_the_slow_client_clock() -> None:
    options = EngineOptions(
        ping_interval=100, ping_timeout=100, max_buffered_bytes=10, slow_client_grace=1.0
    )
    session = new("websocket", options)
    session.set_transport_backlog(20)
    session.handle_timeout(1.0)
    assert session.next_deadline() == pytest.approx(2.0)
    session.set_transport_backlog(0)
    session.handle_timeout(2.5)
    assert not session.closed


def test_drained_to_transport_reports_the_backlog_and_whether_timers_changed() -> None:
    options = EngineOptions(ping_interval=100, ping_timeout=100, max_buffered_bytes=10)
    session = new("websocket", options)
    session.timers_changed = False
    session.send_message("x" * 5)
    session.data_to_send()
    assert not session.drained_to_transport(0)  # nothing held, nothing changed
    assert session.drained_to_transport(20)  # over the limit: the slow-client clock
    assert session.backlog == 20 and session.next_deadline() == 0.0
    session.handle_timeout(1.0)
    session.timers_changed = False
    assert session.drained_to_transport(0)  # drained: the clock stops
    assert session.backlog == 0 and session.transport_backlog == 0


def test_hard_limit_below_the_soft_one_uses_the_soft_one() -> None:
    options = EngineOptions(
        ping_interval=100, ping_timeout=100, max_buffered_bytes=50, max_buffered_bytes_hard=10
    )
    session = new("websocket", options)
    assert session.send_message("x" * 45)
    assert session.send_message("y")  # 46 unsent: under 50
    assert not session.closed


def test_a_broadcast_list_queued_on_many_sessions_is_shared_never_changed() -> None:
    """The frames of one broadcast are queued without a copy per session; what a
    session adds afterwards (a ping, a pong, its close packet, more frames) goes to a
    list of its own, and the drained queues stay apart."""
    shared = ["4news"]
    first, second, third = new("websocket"), new("websocket"), new("websocket")
    for session in (first, second, third):
        assert session.queue_frames(shared, 5)
    first.handle_timeout(0.3)  # its ping comes due
    second.receive_frame("2probe", 0.0)  # a client's ping: the pong is queued
    assert second.queue_frames(["4more"], 5)
    third.close()
    assert shared == ["4news"]
    assert first.data_to_send() == ["4news", "2"]
    assert second.data_to_send() == ["4news", "3probe", "4more"]
    assert third.data_to_send() == ["4news"]  # its close packet leaves on its own
    assert third.data_to_send() == ["1"]
    assert shared == ["4news"]
    # drained: the next frames start a queue of their own again
    assert first.data_to_send() == []
    first.receive_frame("2again", 0.0)
    assert first.data_to_send() == ["3again"]
    assert first.queue_frames(shared, 5) and first.queue_frames(shared, 5)
    assert first.data_to_send() == ["4news", "4news"]
    assert shared == ["4news"]
