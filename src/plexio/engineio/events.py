"""What an Engine.IO session reports upward (layer L1, sans-I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["DisconnectReason", "Disconnected", "Event", "MessageReceived", "Upgraded"]


class DisconnectReason(StrEnum):
    """Why a session ended; values are the reference server's reason strings."""

    TRANSPORT_CLOSE = "transport close"
    TRANSPORT_ERROR = "transport error"
    PING_TIMEOUT = "ping timeout"
    PARSE_ERROR = "parse error"
    FORCED_CLOSE = "forced close"
    SERVER_SHUTTING_DOWN = "server shutting down"
    PAYLOAD_TOO_LARGE = "payload too large"
    SLOW_CLIENT = "slow client"
    PROTOCOL_ERROR = "protocol error"


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
