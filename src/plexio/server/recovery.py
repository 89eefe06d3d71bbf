"""Connection state recovery: options and the session kept for a dropped client (layer L3).

May import: plexio L0, plexio.socketio. When recovery is on, every broadcast EVENT
without an ack id that is not volatile gets an offset string appended as its last
argument and is kept (with its targeting) by the adapter for a while; a socket that
loses its transport leaves a :class:`SavedSession` behind, and a client that reconnects with
``{pid, offset}`` in its CONNECT auth gets its id, rooms and data back plus the events
it missed (the official JavaScript client does this natively).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from plexio.enums import DisconnectReason
from plexio.socketio.packets import Packet
from plexio.typing import JSONValue

__all__ = ["RECOVERABLE_REASONS", "RecoveryOptions", "SavedSession"]

#: Disconnect reasons after which a socket's state is kept for recovery. A client or
#: server that ended the namespace on purpose, or a server shutting down, gets none.
RECOVERABLE_REASONS: Final = frozenset(
    {
        DisconnectReason.TRANSPORT_CLOSE,
        DisconnectReason.TRANSPORT_ERROR,
        DisconnectReason.PING_TIMEOUT,
    }
)


@dataclass(frozen=True, slots=True)
class RecoveryOptions:
    """Settings of connection state recovery (``Server(connection_state_recovery=...)``).

    Attributes:
        max_disconnection_duration: seconds a dropped socket's state, and each
            buffered event, are kept.
        skip_middlewares: a recovered socket skips the connection middleware.
        max_buffered_packets: most events kept per namespace (the oldest go first).
        max_sessions: most dropped sockets kept per namespace (the oldest go first).

    Raises:
        ValueError: a non-positive duration or limit.
    """

    max_disconnection_duration: float = 120.0
    skip_middlewares: bool = True
    max_buffered_packets: int = 10_000
    max_sessions: int = 100_000

    def __post_init__(self) -> None:
        if not self.max_disconnection_duration > 0:
            raise ValueError("max_disconnection_duration must be > 0")
        if self.max_buffered_packets < 1:
            raise ValueError("max_buffered_packets must be >= 1")
        if self.max_sessions < 1:
            raise ValueError("max_sessions must be >= 1")


@dataclass(slots=True)
class SavedSession:
    """What is kept of a socket whose transport dropped.

    Attributes:
        sid: the socket id, given back on recovery.
        pid: the private session id the client presents to recover.
        rooms: the rooms it was in (its own id room included).
        data: its ``socket.data``.
        missed_packets: on restore, the buffered events it should have received,
            oldest first (each ends with its offset).
    """

    sid: str
    pid: str
    rooms: set[str]
    data: dict[str, JSONValue]
    missed_packets: list[Packet] = field(default_factory=list)
