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
    with pytest.raises(AttributeError):  # a named tuple's field
        event.sid = "t"  # type: ignore[misc]  # the point of the test
    with pytest.raises(dataclasses.FrozenInstanceError):
        NamespaceDisconnected("/", "s").sid = "t"  # type: ignore[misc]  # the point of the test


def test_per_packet_events_equal_only_their_own_class() -> None:
    # EventReceived and AckReceived are named tuples: content alone must not make them
    # equal to a tuple or to each other.
    event = EventReceived("/", "s", "e", [], 1)
    ack = AckReceived("/", "s", 1, [])
    assert event != ("/", "s", "e", [], 1)
    assert ack != ("/", "s", 1, [])
    assert not event == ("/", "s", "e", [], 1)
    assert AckReceived("/", "s", 1, []) == ack
    assert not AckReceived("/", "s", 1, []) != ack
    # same fields, other class
    assert AckReceived("/", "s", 1, []) != EventReceived("/", "s", 1, [])


def test_per_packet_events_hash_like_their_fields() -> None:
    assert hash(EventReceived("/", "s", "e", (), 1)) == hash(("/", "s", "e", (), 1))  # type: ignore[arg-type]  # a hashable stand-in for args
