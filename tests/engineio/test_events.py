"""plexio.engineio.events: what a session reports upward, as frozen values."""

from __future__ import annotations

import dataclasses

import pytest

from plexio.engineio.events import Disconnected, DisconnectReason, MessageReceived, Upgraded


def test_events_are_frozen_values_compared_by_content() -> None:
    assert MessageReceived("a") == MessageReceived("a") != MessageReceived(b"a")
    assert Upgraded() == Upgraded()
    assert Disconnected(DisconnectReason.PARSE_ERROR).reason == "parse error"
    with pytest.raises(AttributeError):  # a named tuple's field
        MessageReceived("a").data = "b"  # type: ignore[misc]  # the point of the test
    with pytest.raises(dataclasses.FrozenInstanceError):
        Disconnected(DisconnectReason.PARSE_ERROR).reason = DisconnectReason.PING_TIMEOUT  # type: ignore[misc]  # the point of the test


def test_a_message_equals_only_a_message() -> None:
    assert MessageReceived("a") != ("a",)
    assert not MessageReceived("a") == ("a",)
    assert hash(MessageReceived("a")) == hash(MessageReceived("a"))
