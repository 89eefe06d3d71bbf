"""plexio.engineio.base: what the server and client sessions share, checked on both."""

from __future__ import annotations

import pytest

from plexio.config import EngineOptions
from plexio.engineio.base import BaseSession, SessionState
from plexio.engineio.client import ClientSession
from plexio.engineio.events import Disconnected, DisconnectReason, MessageReceived
from plexio.engineio.session import ServerSession
from plexio.enums import Transport

OPEN = '0{"sid":"s","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":100}'


def server() -> ServerSession:
    return ServerSession("s", Transport.POLLING, EngineOptions(), now=0.0)


def client() -> ClientSession:
    session = ClientSession(Transport.POLLING)
    session.receive_payload(OPEN, now=0.0)
    session.events()
    return session


@pytest.fixture(params=[server, client], ids=["server", "client"])
def session(request: pytest.FixtureRequest) -> BaseSession[object]:
    made: BaseSession[object] = request.param()
    return made


def test_both_roles_are_base_sessions(session: BaseSession[object]) -> None:
    assert isinstance(session, BaseSession)
    assert session.state is SessionState.OPEN and session.transport is Transport.POLLING


def test_messages_in_over_both_transports_then_events_drain(session: BaseSession[object]) -> None:
    session.receive_payload("4a\x1ebAQ==", now=0.1)
    session.receive_frame("4b", now=0.1)
    session.receive_frame(b"\x02", now=0.1)
    assert session.events() == [
        MessageReceived("a"),
        MessageReceived(b"\x01"),
        MessageReceived("b"),
        MessageReceived(b"\x02"),
    ]
    assert session.events() == []


@pytest.mark.parametrize("bad", ["", "9x"])
def test_undecodable_input_ends_the_session_never_raises(
    session: BaseSession[object], bad: str
) -> None:
    session.receive_frame(bad, now=0.1)
    assert session.closed and session.state is SessionState.CLOSED
    assert session.close_reason is DisconnectReason.PARSE_ERROR and session.close_detail
    assert session.events() == [Disconnected(DisconnectReason.PARSE_ERROR)]
    session.receive_frame("4late", now=0.2)  # nothing happens after the end
    session.receive_payload("4late", now=0.2)
    assert session.events() == []


def test_a_bad_polling_body_ends_the_session(session: BaseSession[object]) -> None:
    session.receive_payload("bnot base64!", now=0.1)
    assert session.close_reason is DisconnectReason.PARSE_ERROR


def test_the_client_is_opening_until_the_open_packet() -> None:
    session = ClientSession(Transport.WEBSOCKET)
    assert session.state is SessionState.OPENING
    session.receive_frame("4early", now=0.0)  # no fast path before OPEN: a protocol error
    assert session.close_reason is DisconnectReason.PROTOCOL_ERROR
