"""What an Engine.IO session reports upward (layer L1, sans-I/O).

:class:`~plexio.enums.DisconnectReason` is re-exported here: the Engine.IO core
reports the transport-level members.
"""

from __future__ import annotations

from dataclasses import dataclass

from plexio.enums import DisconnectReason

__all__ = ["DisconnectReason", "Disconnected", "Event", "MessageReceived", "Upgraded"]


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A MESSAGE packet arrived: ``str`` for text, ``bytes`` for binary."""

    data: str | bytes


@dataclass(frozen=True, slots=True)
class Upgraded:
    """The session now runs over WebSocket."""


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The session is closed; nothing more will be received or sent."""

    reason: DisconnectReason


Event = MessageReceived | Upgraded | Disconnected
