"""What the client and server Engine.IO sessions share (layer L1, sans-I/O).

May import: plexio L0 modules and plexio.engineio.packets/payload/events/upgrade.

:class:`BaseSession` owns the parts of a session that do not depend on its role: the
events list and its drain, the decoding of polling bodies and WebSocket frames (a
malformed one ends the session with ``parse error``, never an exception), the
upgrade state (:mod:`plexio.engineio.upgrade`) and the active transport it implies,
and the close record. The roles (:class:`plexio.engineio.session.ServerSession`, server;
:class:`plexio.engineio.client.ClientSession`) add what a packet means to them,
their outgoing queue and their timers.
"""

from __future__ import annotations

from enum import Enum
from typing import Generic, TypeVar

from plexio.config import Limits
from plexio.engineio.events import DisconnectReason, MessageReceived
from plexio.engineio.packets import MESSAGE_PREFIX, Packet, decode_frame
from plexio.engineio.payload import decode_payload
from plexio.engineio.upgrade import Upgrade
from plexio.enums import Transport
from plexio.exceptions import DecodeError

__all__ = ["BaseSession", "SessionState"]

EventT = TypeVar("EventT")


class SessionState(Enum):
    """Where a session is in its life, as one value (both roles).

    OPENING only on the client, until the server's OPEN packet; UPGRADING while
    polling is paused for a WebSocket probe (see :mod:`plexio.engineio.upgrade`).
    """

    OPENING = "opening"
    OPEN = "open"
    UPGRADING = "upgrading"
    CLOSED = "closed"


class BaseSession(Generic[EventT]):
    """Role-independent part of an Engine.IO session.

    Args:
        transport: the transport of the handshake.
        opened: whether the session is usable from the start (server) or waits for
            the OPEN packet (client).
    """

    __slots__ = ("upgrade", "close_reason", "close_detail", "_events", "_closed", "_opened")

    def __init__(self, transport: Transport, *, opened: bool) -> None:
        self.upgrade = Upgrade(transport)
        self.close_reason: DisconnectReason | None = None
        #: What went wrong, for the log, when the session ended on bad input.
        self.close_detail: str | None = None
        self._events: list[EventT] = []
        self._closed = False
        self._opened = opened

    # ------------------------------------------------------------------ status

    @property
    def transport(self) -> Transport:
        """The active transport."""
        return self.upgrade.transport

    @property
    def closed(self) -> bool:
        """Whether the session has ended (its queue may still hold a last frame)."""
        return self._closed

    @property
    def state(self) -> SessionState:
        """The session's life and upgrade state as one value."""
        if self._closed:
            return SessionState.CLOSED
        if not self._opened:
            return SessionState.OPENING
        if self.upgrade.polling_paused:
            return SessionState.UPGRADING
        return SessionState.OPEN

    # ------------------------------------------------------------------ incoming

    def receive_payload(self, body: str, now: float) -> None:
        """Feeds one polling body (a POST on the server, a GET response on the client).

        A malformed body ends the session with ``parse error`` (Engine.IO v4: an
        undecodable packet terminates it). After this, call :meth:`events` and flush.
        """
        if self._closed:
            return
        try:
            packets = decode_payload(body, self._payload_limits())
        except DecodeError as exc:
            self.close_detail = str(exc)
            self._fail(DisconnectReason.PARSE_ERROR)
            return
        for packet in packets:
            self._receive_packet(packet, now)
            if self._closed:
                return

    def receive_frame(self, frame: str | bytes, now: float) -> None:
        """Feeds one frame received on the session's active WebSocket.

        After this, call :meth:`events` and flush (a ping may be answered).
        """
        if self._closed:
            return
        if isinstance(frame, str) and frame[:1] == MESSAGE_PREFIX and self._opened:
            # Fast path: the overwhelming majority of frames are text messages.
            self._events.append(MessageReceived(frame[1:]))  # type: ignore[arg-type]  # every role's events include MessageReceived
            return
        try:
            packet = decode_frame(frame)
        except DecodeError as exc:
            self.close_detail = str(exc)
            self._fail(DisconnectReason.PARSE_ERROR)
            return
        self._receive_packet(packet, now)

    # ------------------------------------------------------------------ events

    def events(self) -> list[EventT]:
        """Drains what happened since the last call, in order."""
        events = self._events
        if events:
            self._events = []
        return events

    # ------------------------------------------------------------------ role hooks

    def _payload_limits(self) -> Limits | None:
        """The limits a received polling body is decoded under (``None``: defaults)."""
        return None

    def _receive_packet(self, packet: Packet, now: float) -> None:
        """What one received packet means to this role."""
        raise NotImplementedError

    def _fail(self, reason: DisconnectReason) -> None:
        """Ends the session because the peer sent something undecodable."""
        raise NotImplementedError
