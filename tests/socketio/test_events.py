"""Tests of plexio.socketio.events: the event records a connection reports."""

from __future__ import annotations

import dataclasses

import pytest

from plexio.socketio.events import (
    AckReceived,
    ConnectRequested,
    EventReceived,
    NamespaceDisconnected,
    SocketEvent,
)


def describe(event: SocketEvent) -> str:
    match event:
        case ConnectRequested(namespace, auth):
            return f"connect {namespace} {auth}"
        case EventReceived(namespace, sid, name, args, ack_id):
            return f"event {namespace} {sid} {name} {args} {ack_id}"
        case AckReceived(namespace, sid, ack_id, args):
            return f"ack {namespace} {sid} {ack_id} {args}"
        case NamespaceDisconnected(namespace, sid):
            return f"disconnect {namespace} {sid}"


def test_events_match_positionally() -> None:
    assert describe(ConnectRequested("/", {})) == "connect / {}"
    assert describe(EventReceived("/", "s", "e", [1])) == "event / s e [1] None"
    assert describe(AckReceived("/a", "s", 3, [])) == "ack /a s 3 []"
    assert describe(NamespaceDisconnected("/a", "s")) == "disconnect /a s"


def test_events_are_frozen_values() -> None:
    event = EventReceived("/", "s", "e", [], 1)
    assert event == EventReceived(namespace="/", sid="s", name="e", args=[], ack_id=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.sid = "t"  # type: ignore[misc]  # the point of the test
