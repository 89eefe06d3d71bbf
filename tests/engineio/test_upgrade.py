"""plexio.engineio.upgrade: the upgrade table, the one place its transitions live."""

from __future__ import annotations

import itertools

import pytest

from plexio.engineio.upgrade import TRANSITIONS, Upgrade, UpgradeEvent, UpgradeState
from plexio.enums import Transport
from plexio.exceptions import LocalProtocolError


def test_the_happy_path_moves_polling_to_websocket() -> None:
    upgrade = Upgrade(Transport.POLLING)
    assert upgrade.state is UpgradeState.NONE and upgrade.transport is Transport.POLLING
    assert upgrade.apply(UpgradeEvent.BEGIN) is UpgradeState.PROBING
    assert upgrade.in_progress and not upgrade.polling_paused
    assert upgrade.apply(UpgradeEvent.PROBED) is UpgradeState.PAUSED
    assert upgrade.in_progress and upgrade.polling_paused
    assert upgrade.transport is Transport.POLLING  # until the upgrade packet crossed
    assert upgrade.apply(UpgradeEvent.COMPLETE) is UpgradeState.UPGRADED
    assert upgrade.transport is Transport.WEBSOCKET and not upgrade.in_progress
    assert not upgrade.abort()  # nothing left to abort


@pytest.mark.parametrize(
    ("state", "event"), list(itertools.product(UpgradeState, UpgradeEvent)), ids=str
)
def test_every_pair_outside_the_table_is_refused(state: UpgradeState, event: UpgradeEvent) -> None:
    upgrade = Upgrade(Transport.POLLING)
    upgrade.state = state
    if (state, event) in TRANSITIONS:
        assert upgrade.allows(event)
        assert upgrade.apply(event) is TRANSITIONS[state, event]
    else:
        assert not upgrade.allows(event)
        with pytest.raises(LocalProtocolError, match=event.value):
            upgrade.apply(event)
        assert upgrade.state is state  # a refused event changes nothing


@pytest.mark.parametrize("reached", [UpgradeState.PROBING, UpgradeState.PAUSED])
def test_abort_goes_back_to_polling_from_either_probe_state(reached: UpgradeState) -> None:
    upgrade = Upgrade(Transport.POLLING)
    upgrade.apply(UpgradeEvent.BEGIN)
    if reached is UpgradeState.PAUSED:
        upgrade.apply(UpgradeEvent.PROBED)
    assert upgrade.abort()
    assert upgrade.state is UpgradeState.NONE and upgrade.transport is Transport.POLLING
    assert upgrade.allows(UpgradeEvent.BEGIN)  # a later probe may try again


def test_a_websocket_session_has_nothing_to_upgrade() -> None:
    upgrade = Upgrade(Transport.WEBSOCKET)
    assert upgrade.websocket_from_start and upgrade.transport is Transport.WEBSOCKET
    assert not any(upgrade.allows(event) for event in UpgradeEvent)
    with pytest.raises(LocalProtocolError):
        upgrade.apply(UpgradeEvent.BEGIN)
    assert not upgrade.abort()
