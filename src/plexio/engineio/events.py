"""What an Engine.IO session reports upward (layer L1, sans-I/O).

:class:`~plexio.enums.DisconnectReason` is re-exported here: the Engine.IO core
reports the transport-level members.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from plexio.enums import DisconnectReason

__all__ = ["DisconnectReason", "Disconnected", "Event", "MessageReceived", "Upgraded"]


class MessageReceived(NamedTuple):
    """A MESSAGE packet arrived: ``str`` for text, ``bytes`` for binary.

    Made for every message, it is a typed named tuple (a third of the instructions of a
    frozen dataclass), equal only to a ``MessageReceived`` with the same data; the
    other events are frozen, slotted dataclasses.
    """

    data: str | bytes

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return tuple.__hash__(self)


@dataclass(frozen=True, slots=True)
class Upgraded:
    """The session now runs over WebSocket."""


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The session is closed; nothing more will be received or sent."""

    reason: DisconnectReason


Event = MessageReceived | Upgraded | Disconnected
