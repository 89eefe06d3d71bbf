"""plexio.engineio.events: what a session reports upward, as frozen values."""

from __future__ import annotations

import dataclasses

import pytest

from plexio.engineio.events import Disconnected, DisconnectReason, MessageReceived, Upgraded


def test_events_are_frozen_values_compared_by_content() -> None:
    assert MessageReceived("a") == MessageReceived("a") != MessageReceived(b"a")
    assert Upgraded() == Upgraded()
    assert Disconnected(DisconnectReason.PARSE_ERROR).reason == "parse error"
    with pytest.raises(dataclasses.FrozenInstanceError):
        MessageReceived("a").data = "b"  # type: ignore[misc]  # the point of the test
