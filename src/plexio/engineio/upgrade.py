"""The transport-upgrade state machine of an Engine.IO session (layer L1, sans-I/O).

May import: plexio L0 modules only.

Theory of operation (Engine.IO v4 "Upgrade"). Two rules, as h11's ``_state.py``:
every transition of the upgrade lives in :data:`TRANSITIONS` below, and this module
does not know which role (client or server) it plays. A session that opened over
polling may move to WebSocket once::

    NONE ──BEGIN──▶ PROBING ──PROBED──▶ PAUSED ──COMPLETE──▶ UPGRADED
      ▲                │                  │
      └─────ABORT──────┴───────ABORT──────┘

* BEGIN: a probe WebSocket carrying the session id exists (the client opened it,
  the server accepted it).
* PROBED: ``2probe`` / ``3probe`` were exchanged on it. Polling is now paused: the
  server holds GETs (releasing them with noops) and keeps its queue for the
  WebSocket; the client starts no GET or POST.
* COMPLETE: ``5`` (upgrade) crossed the probe, which becomes the session's transport.
* ABORT: anything else on the probe, the probe closed, or the upgrade timed out: the
  session goes on over polling with nothing lost.

A session that opened over WebSocket has nothing to upgrade: its transport is WebSocket
from the start and every event is refused (:attr:`Upgrade.websocket_from_start`).
"""

from __future__ import annotations

from enum import Enum
from typing import Final

from plexio.enums import Transport
from plexio.exceptions import LocalProtocolError

__all__ = ["TRANSITIONS", "Upgrade", "UpgradeEvent", "UpgradeState"]


class UpgradeState(Enum):
    """Where a session is in its move from polling to WebSocket."""

    NONE = "none"
    PROBING = "probing"
    PAUSED = "paused"
    UPGRADED = "upgraded"


class UpgradeEvent(Enum):
    """What moves the upgrade along (see the module docstring)."""

    BEGIN = "begin"
    PROBED = "probed"
    COMPLETE = "complete"
    ABORT = "abort"


#: Every allowed transition: (state, event) -> next state. Anything else is refused.
TRANSITIONS: Final[dict[tuple[UpgradeState, UpgradeEvent], UpgradeState]] = {
    (UpgradeState.NONE, UpgradeEvent.BEGIN): UpgradeState.PROBING,
    (UpgradeState.PROBING, UpgradeEvent.PROBED): UpgradeState.PAUSED,
    (UpgradeState.PAUSED, UpgradeEvent.COMPLETE): UpgradeState.UPGRADED,
    (UpgradeState.PROBING, UpgradeEvent.ABORT): UpgradeState.NONE,
    (UpgradeState.PAUSED, UpgradeEvent.ABORT): UpgradeState.NONE,
}


class Upgrade:
    """The upgrade state of one session, and the transport it implies.

    Args:
        transport: the transport of the handshake.
    """

    __slots__ = ("state", "_from_websocket")

    def __init__(self, transport: Transport) -> None:
        self._from_websocket = transport is Transport.WEBSOCKET
        self.state = UpgradeState.NONE

    @property
    def transport(self) -> Transport:
        """The session's active transport."""
        if self._from_websocket or self.state is UpgradeState.UPGRADED:
            return Transport.WEBSOCKET
        return Transport.POLLING

    @property
    def websocket_from_start(self) -> bool:
        """Whether the session opened over WebSocket (nothing to upgrade)."""
        return self._from_websocket

    @property
    def in_progress(self) -> bool:
        """Whether a probe exists (PROBING or PAUSED)."""
        return self.state is UpgradeState.PROBING or self.state is UpgradeState.PAUSED

    @property
    def polling_paused(self) -> bool:
        """Whether polling is paused for the WebSocket (PAUSED)."""
        return self.state is UpgradeState.PAUSED

    def allows(self, event: UpgradeEvent) -> bool:
        """Whether ``event`` is a transition from the current state."""
        return not self._from_websocket and (self.state, event) in TRANSITIONS

    def apply(self, event: UpgradeEvent) -> UpgradeState:
        """Moves along the table.

        Returns:
            The new state.

        Raises:
            LocalProtocolError: ``event`` is not allowed now (see :meth:`allows`).
        """
        if self._from_websocket:
            raise LocalProtocolError("a session opened over WebSocket has nothing to upgrade")
        try:
            self.state = TRANSITIONS[self.state, event]
        except KeyError:
            raise LocalProtocolError(
                f"upgrade: {event.value} is not allowed in state {self.state.value}"
            ) from None
        return self.state

    def abort(self) -> bool:
        """Applies ABORT if a probe is in progress.

        Returns:
            Whether there was one to abort.
        """
        if self.allows(UpgradeEvent.ABORT):
            self.state = UpgradeState.NONE
            return True
        return False
