"""Client-side Engine.IO v4 session state machine (layer L1, sans-I/O).

May import: plexio L0 modules and plexio.engineio.packets/payload/events. No asyncio, no
clock: every method that depends on time takes ``now`` (seconds, any monotonic origin)
and the caller asks :meth:`ClientSession.next_deadline` when to call
:meth:`ClientSession.handle_timeout`.

Theory of operation
-------------------
A session starts OPENING. The first packet the server sends, over polling (the body of
the handshake GET) or over WebSocket (the first frame), must be OPEN: its JSON gives
the sid, the transports the session may upgrade to, ``pingInterval``, ``pingTimeout``
and ``maxPayload`` (Engine.IO v4 "Handshake"). The session is then OPEN and reports
:class:`Opened`.

Heartbeat (Engine.IO v4 "Heartbeat", PROTOCOL.md items 31 and 33): the server pings,
the client answers every ``2`` with ``3`` at once. If no ping arrives within
``pingInterval + pingTimeout`` of the open or of the previous ping, the server is
considered gone and the session closes with ``ping timeout``.

Outgoing traffic is a queue of wire frames. Over WebSocket the I/O layer drains it
with :meth:`ClientSession.data_to_send` (one frame each); over polling with
:meth:`ClientSession.payload_to_send`, which takes as many frames as fit in one POST
under the server's ``maxPayload`` (PROTOCOL.md item 23) and leaves the rest for the
next POST (only one POST may be in flight, item 11).

Upgrade from the client side (Engine.IO v4 "Upgrade", PROTOCOL.md item 43): the I/O
layer opens a WebSocket with the sid and sends :meth:`begin_upgrade`'s ``2probe``;
the server's ``3probe`` goes to :meth:`receive_probe_frame`, which *pauses* polling
(state UPGRADING: no new GET, no new POST; the transitions are the table of
:mod:`plexio.engineio.upgrade`, shared with the server). Once the in-flight GET and POST have
finished, :meth:`finish_upgrade` queues ``5`` ahead of the buffered frames and
switches the session to WebSocket: drain :meth:`data_to_send` into it. If the probe
fails, :meth:`abort_upgrade` resumes polling with nothing lost.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final

from plexio.engineio.base import BaseSession, SessionState
from plexio.engineio.events import Disconnected, DisconnectReason, MessageReceived, Upgraded
from plexio.engineio.packets import (
    CLOSE_FRAME,
    PONG_FRAME,
    Frame,
    OpenInfo,
    Packet,
    PacketType,
    frame_message,
)
from plexio.engineio.payload import SEPARATOR, encode_payload
from plexio.engineio.upgrade import UpgradeEvent, UpgradeState
from plexio.enums import Transport
from plexio.exceptions import DecodeError, LocalProtocolError

__all__ = [
    "PROBE_PING",
    "PROBE_PONG",
    "ClientEvent",
    "ClientSession",
    "ClientState",
    "Opened",
]

PROBE_PING: Final = "2probe"
PROBE_PONG: Final = "3probe"
UPGRADE_FRAME: Final = "5"


#: The client's states are the shared :class:`~plexio.engineio.base.SessionState`.
ClientState = SessionState


@dataclass(frozen=True, slots=True)
class Opened:
    """The server's OPEN packet arrived; the session is usable."""

    info: OpenInfo


ClientEvent = Opened | MessageReceived | Upgraded | Disconnected


def _frame_size(frame: Frame) -> int:
    """Bytes ``frame`` takes in a polling body (UTF-8, or ``b`` + base64)."""
    if isinstance(frame, str):
        return len(frame.encode()) if not frame.isascii() else len(frame)
    return 1 + 4 * ((len(frame) + 2) // 3)


class ClientSession(BaseSession[ClientEvent]):
    """One Engine.IO session, client side.

    Args:
        transport: ``"polling"`` or ``"websocket"``, the transport of the handshake.
        now: the current time (the open deadline counts from here).
        open_timeout: seconds the server may take to send OPEN (``None``: no limit).
    """

    __slots__ = ("info", "_out", "_ping_deadline")

    def __init__(
        self,
        transport: Transport | str = Transport.POLLING,
        *,
        now: float = 0.0,
        open_timeout: float | None = None,
    ) -> None:
        if transport not in (Transport.POLLING, Transport.WEBSOCKET):
            raise ValueError(f"unknown transport {transport!r}")
        super().__init__(Transport(transport), opened=False)
        self.info: OpenInfo | None = None
        self._out: deque[Frame] = deque()
        self._ping_deadline: float | None = None if open_timeout is None else now + open_timeout

    # ------------------------------------------------------------------ status

    @property
    def sid(self) -> str | None:
        """The session id, once open."""
        return None if self.info is None else self.info.sid

    @property
    def polling_paused(self) -> bool:
        """Whether polling must stop (upgrade under way, or closed): no new GET or POST."""
        return self._closed or self.upgrade.polling_paused

    @property
    def can_upgrade(self) -> bool:
        """Whether the server offers a WebSocket upgrade to this polling session."""
        return (
            not self._closed
            and self.info is not None
            and self.upgrade.allows(UpgradeEvent.BEGIN)
            and Transport.WEBSOCKET in self.info.upgrades
        )

    @property
    def max_payload(self) -> int:
        """The server's ``maxPayload`` (bytes of one POST body), once open."""
        return 1_000_000 if self.info is None else self.info.max_payload

    # ------------------------------------------------------------------ incoming

    def receive_eof(self, reason: DisconnectReason = DisconnectReason.TRANSPORT_CLOSE) -> None:
        """The active transport failed or closed under us (connection lost, HTTP error)."""
        if not self._closed:
            self._close(reason)

    def _fail(self, reason: DisconnectReason) -> None:
        self._close(reason)

    def _receive_packet(self, packet: Packet, now: float) -> None:
        ptype = packet.type
        if self.info is None:
            if ptype is not PacketType.OPEN or not isinstance(packet.data, str):
                self._close(DisconnectReason.PROTOCOL_ERROR)
                return
            try:
                info = OpenInfo.from_json(packet.data)
            except DecodeError:
                self._close(DisconnectReason.PARSE_ERROR)
                return
            self.info = info
            self._opened = True
            self._reset_ping_deadline(now)
            self._events.append(Opened(info))
            return
        if ptype is PacketType.MESSAGE:
            self._events.append(MessageReceived(packet.data))
        elif ptype is PacketType.PING:
            # Answer at once (PROTOCOL.md item 33) and expect the next ping in time.
            self._out.append(PONG_FRAME + str(packet.data))
            self._reset_ping_deadline(now)
        elif ptype is PacketType.CLOSE:
            self._close(DisconnectReason.TRANSPORT_CLOSE)
        elif ptype is PacketType.NOOP or ptype is PacketType.PONG:
            pass
        else:  # a second OPEN, or UPGRADE from the server
            self._close(DisconnectReason.PROTOCOL_ERROR)

    def _reset_ping_deadline(self, now: float) -> None:
        assert self.info is not None
        self._ping_deadline = now + (self.info.ping_interval_ms + self.info.ping_timeout_ms) / 1000

    # ------------------------------------------------------------------ upgrade

    def begin_upgrade(self) -> str:
        """Starts probing a WebSocket opened with this session's sid.

        Returns:
            The frame to send on the probe WebSocket (``2probe``). Polling goes on
            until :meth:`receive_probe_frame` accepts the server's answer.

        Raises:
            LocalProtocolError: the session cannot upgrade now (see :attr:`can_upgrade`).
        """
        if not self.can_upgrade:
            raise LocalProtocolError("session cannot upgrade now")
        self.upgrade.apply(UpgradeEvent.BEGIN)
        return PROBE_PING

    def receive_probe_frame(self, frame: str | bytes) -> bool:
        """Feeds one frame received on the probe WebSocket.

        Returns:
            True when it was the expected ``3probe``: polling is now paused; wait for
            the in-flight GET and POST to finish, then call :meth:`finish_upgrade`.
            False otherwise: the upgrade is aborted (polling goes on); close the probe.
        """
        if not self._closed and self.upgrade.state is UpgradeState.PROBING and frame == PROBE_PONG:
            self.upgrade.apply(UpgradeEvent.PROBED)
            return True
        self.abort_upgrade()
        return False

    def finish_upgrade(self) -> None:
        """Completes the upgrade once polling is idle.

        Queues ``5`` ahead of every buffered frame and makes WebSocket the active
        transport (an :class:`Upgraded` event). After this, drain :meth:`data_to_send`
        into the WebSocket.

        Raises:
            LocalProtocolError: no accepted probe.
        """
        if self._closed or self.upgrade.state is not UpgradeState.PAUSED:
            raise LocalProtocolError("no upgrade to finish")
        self.upgrade.apply(UpgradeEvent.COMPLETE)
        self._out.appendleft(UPGRADE_FRAME)
        self._events.append(Upgraded())

    def abort_upgrade(self) -> None:
        """Gives up a probe: the session goes on over polling, nothing is lost."""
        self.upgrade.abort()

    # ------------------------------------------------------------------ outgoing

    def send_message(self, data: str | bytes) -> None:
        """Queues a MESSAGE (``str`` text or ``bytes`` binary); then flush.

        Messages may be queued before the session is open; they leave once it is.

        Raises:
            LocalProtocolError: the session is closed, or a text message contains the
                record separator ``\x1e`` (it would split the polling payload;
                Engine.IO v4 assumes it never occurs in data, PROTOCOL.md item 18).
        """
        if self.closed:
            raise LocalProtocolError("session is closed")
        if isinstance(data, str) and SEPARATOR in data:
            raise LocalProtocolError("a text message may not contain the separator \\x1e")
        self._out.append(frame_message(data))

    def close(self) -> None:
        """Client-initiated close: queues ``1`` after what is queued, then CLOSED.

        Flush once more (:meth:`data_to_send` / :meth:`payload_to_send` still
        return the queue) before closing the transport.
        """
        if not self.closed:
            self._out.append(CLOSE_FRAME)
            self._close(DisconnectReason.FORCED_CLOSE, keep_output=True)

    def has_data(self) -> bool:
        """Whether a flush would send something now."""
        if not self._out or self._opening:
            return False
        return self.transport is Transport.WEBSOCKET or not self.upgrade.polling_paused

    @property
    def _opening(self) -> bool:
        return not self._opened and not self._closed

    def data_to_send(self) -> list[Frame]:
        """Drains the queue as WebSocket frames (nothing before the session is open)."""
        if self._opening or not self._out:
            return []
        out = list(self._out)
        self._out.clear()
        return out

    def payload_to_send(self) -> str | None:
        """Takes the next polling POST body, or ``None`` when there is nothing to send.

        Frames are taken in order while the body stays within the server's
        ``maxPayload``; a single frame larger than that is sent alone (the server
        will refuse it). Call again until ``None`` (one POST at a time).
        While polling is paused for an upgrade, nothing is returned.
        """
        if self._opening or self.upgrade.polling_paused:
            return None
        if self.transport is not Transport.POLLING and not self._closed:
            return None
        out = self._out
        if not out:
            return None
        limit = self.max_payload
        taken: list[Frame] = [out.popleft()]
        size = _frame_size(taken[0])
        while out:
            extra = len(SEPARATOR) + _frame_size(out[0])
            if size + extra > limit:
                break
            size += extra
            taken.append(out.popleft())
        return encode_payload(taken)

    # ------------------------------------------------------------------ time

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timeout` must next be called, or ``None``."""
        return None if self.closed else self._ping_deadline

    def handle_timeout(self, now: float) -> None:
        """Closes the session with ``ping timeout`` if the server has gone quiet.

        Before the open, the deadline is the open timeout (also ``ping timeout``
        as reason: the server never answered). After this, call :meth:`events`.
        """
        if self.closed or self._ping_deadline is None:
            return
        if now >= self._ping_deadline:
            self._close(DisconnectReason.PING_TIMEOUT)

    def _close(self, reason: DisconnectReason, *, keep_output: bool = False) -> None:
        if not keep_output:
            self._out.clear()
        self._closed = True
        self.close_reason = reason
        self.upgrade.abort()
        self._ping_deadline = None
        self._events.append(Disconnected(reason))
