"""The per-connection input budget: token buckets, and the session that enforces them."""

from __future__ import annotations

from plexio.config import EngineOptions, RateLimit
from plexio.engineio.events import Disconnected, DisconnectReason, MessageReceived
from plexio.engineio.ratelimit import TokenBucket
from plexio.engineio.session import ServerSession


def test_bucket_allows_a_second_worth_then_refills_at_its_rate() -> None:
    bucket = TokenBucket(10, now=0.0)
    assert all(bucket.take(1, 0.0) for _ in range(10))
    assert not bucket.take(1, 0.0)
    assert bucket.take(1, 0.1)  # one token back after 0.1 s
    assert not bucket.take(1, 0.1)
    assert all(bucket.take(1, 5.0) for _ in range(10))  # never more than a second's worth
    assert not bucket.take(1, 5.0)


def test_bucket_lets_one_charge_bigger_than_its_capacity_through_when_full() -> None:
    bucket = TokenBucket(100, now=0.0)
    assert bucket.take(250, 0.0)
    assert not bucket.take(1, 1.0)  # in debt until 1.5 s
    assert bucket.take(1, 1.6)


def _session(limit: RateLimit | None) -> ServerSession:
    session = ServerSession("s", "websocket", EngineOptions(rate_limit=limit), now=0.0)
    session.data_to_send()
    return session


def test_a_flood_of_frames_closes_the_session_before_parsing_them() -> None:
    session = _session(RateLimit(packets_per_second=5, bytes_per_second=10_000))
    for n in range(8):
        session.receive_frame(f"4m{n}", now=0.0)
    events = session.events()
    assert events[:5] == [MessageReceived(f"m{n}") for n in range(5)]
    assert events[5:] == [Disconnected(DisconnectReason.RATE_LIMITED)]
    assert session.close_detail == "over rate_limit (5 packets/s, 10000 bytes/s)"


def test_bytes_count_too_and_polling_bodies_count_one_packet_per_record() -> None:
    session = _session(RateLimit(packets_per_second=1000, bytes_per_second=100))
    session.receive_frame("4" + "x" * 99, now=0.0)
    session.receive_frame("4y", now=0.0)
    assert session.close_reason is DisconnectReason.RATE_LIMITED
    polling = ServerSession("p", "polling", EngineOptions(rate_limit=RateLimit(3, 10_000)), now=0.0)
    polling.receive_payload("4a\x1e4b\x1e4c", now=0.0)
    assert not polling.closed
    polling.receive_payload("4d", now=0.0)
    assert polling.close_reason is DisconnectReason.RATE_LIMITED


def test_a_client_within_its_budget_is_never_limited() -> None:
    session = _session(RateLimit(packets_per_second=10, bytes_per_second=1000))
    for n in range(100):
        session.receive_frame("4ok", now=n * 0.1)
    assert not session.closed and len(session.events()) == 100


def test_off_by_default() -> None:
    session = _session(None)
    for _ in range(10_000):
        session.receive_frame("4x", now=0.0)
    assert not session.closed
