"""Server-side Engine.IO v4 session state machine (layer L1, sans-I/O).

May import: plexio.config, plexio.exceptions, plexio.engineio.*. No asyncio, no clock:
every method that depends on time takes ``now`` (seconds, any monotonic origin) and
the caller asks :meth:`ServerSession.next_deadline` when to call
:meth:`ServerSession.handle_timeout`.

Theory of operation
-------------------
A session starts OPEN on the transport of its handshake with the OPEN packet queued.
Outgoing traffic is a queue of *wire frames* (``str`` text packets such as ``"4hi"``,
``bytes`` binary messages), so a frame encoded once for a broadcast is shared by every
recipient. The I/O layer drains the queue with :meth:`ServerSession.data_to_send` (WebSocket,
one frame each) or :meth:`ServerSession.payload_to_send` (a polling GET body).

Heartbeat (Engine.IO v4 "Heartbeat"): ``ping_interval`` after the handshake, and
``ping_interval`` after each pong, the server queues ``2``; if no ``3`` arrives within
``ping_timeout`` the session closes with ``ping timeout``.

Upgrade (Engine.IO v4 "Upgrade"; the states and transitions are the table of
:mod:`plexio.engineio.upgrade`): :meth:`ServerSession.begin_upgrade` when a WebSocket with
this sid arrives, then its frames go to :meth:`ServerSession.receive_probe_frame`: ``2probe``
is answered ``3probe`` and the session enters UPGRADING, where a polling GET is held and
released with a ``6`` (noop), and nothing else, every ``upgrade_noop_interval`` (as Node);
``5`` completes the upgrade and the queue flushes over the WebSocket (a GET still held
then gets a noop at once). Anything else on the probe, or ``upgrade_timeout``, aborts the
upgrade and the session goes on over polling.

Bounded output: the backlog of a session is what it has queued plus what its
transport holds unsent (the I/O layer reports that with
:meth:`ServerSession.set_transport_backlog`). Past ``max_buffered_bytes`` of backlog,
volatile frames are dropped, and a session that stays over it for
``slow_client_grace`` seconds is closed with ``slow client``; a send that finds the
backlog already over ``max_buffered_bytes_hard`` closes it at once. Memory per slow
reader is thus bounded by the hard limit plus one message, and the healthy sessions
beside it never wait for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from plexio.config import EngineOptions, Limits
from plexio.engineio.base import BaseSession, SessionState
from plexio.engineio.events import (
    Disconnected,
    DisconnectReason,
    Event,
    MessageReceived,
    Upgraded,
)
from plexio.engineio.packets import (
    CLOSE_FRAME,
    NOOP_FRAME,
    PING_FRAME,
    Frame,
    Packet,
    PacketType,
    frame_message,
    frame_messages,
    open_frame,
)
from plexio.engineio.payload import SEPARATOR, encode_payload
from plexio.engineio.ratelimit import TokenBucket
from plexio.engineio.upgrade import UpgradeEvent, UpgradeState
from plexio.enums import Transport
from plexio.exceptions import LocalProtocolError

__all__ = ["ServerSession", "SessionState"]

#: The queue of a session with nothing queued after a drain: shared, never changed
#: (a session copies it before adding to it, as any list it does not own).
_NOTHING: Final[list[Frame]] = []


class ServerSession(BaseSession[Event]):
    """One Engine.IO session, server side.

    Args:
        sid: the session id.
        transport: the handshake's transport.
        options: server options (times in seconds, limits).
        now: the current time.
    """

    __slots__ = (
        "sid",
        "_options",
        "_max_buffered",
        "_out",
        "_out_owned",
        "_out_size",
        "transport_backlog",
        "_next_ping",
        "_pong_deadline",
        "_upgrade_deadline",
        "_over_since",
        "timers_changed",
        "_over_pending",
        "_noop_at",
        "_noop_due",
        "_packet_budget",
        "_byte_budget",
    )

    def __init__(
        self, sid: str, transport: Transport | str, options: EngineOptions, now: float
    ) -> None:
        if type(transport) is not Transport:
            transport = Transport(transport)
        super().__init__(transport, opened=True)
        self.sid = sid
        self._options = options
        # read on every send and drain: kept as a native int (the options are frozen;
        # reading them from a compiled module is a generic attribute lookup)
        self._max_buffered = options.max_buffered_bytes
        limit = options.rate_limit
        self._packet_budget: TokenBucket | None = None
        self._byte_budget: TokenBucket | None = None
        if limit is not None:
            self._packet_budget = TokenBucket(limit.packets_per_second, now)
            self._byte_budget = TokenBucket(limit.bytes_per_second, now)
        upgrades = (
            (Transport.WEBSOCKET.value,)
            if transport is Transport.POLLING
            and options.allow_upgrades
            and Transport.WEBSOCKET in options.transports
            else ()
        )
        self._out: list[Frame] = [
            open_frame(
                sid,
                upgrades,
                round(options.ping_interval * 1000),
                round(options.ping_timeout * 1000),
                options.limits.max_http_buffer_size,
            )
        ]
        # False while ``_out`` is a list the session does not own (the frames of the
        # one send queued since the last drain, often a broadcast's list shared by
        # every recipient, or ``_NOTHING``): it is copied before anything is added.
        self._out_owned = True
        self._out_size = 0
        #: Bytes the transport holds unsent, as last reported with
        #: :meth:`set_transport_backlog` (read it; set it only through that method).
        self.transport_backlog = 0
        self._next_ping: float | None = now + options.ping_interval
        self._pong_deadline: float | None = None
        self._upgrade_deadline: float | None = None
        self._over_since: float | None = None
        #: Set whenever :meth:`next_deadline` may have changed; the I/O layer clears it
        #: after re-arming its timer (saves recomputing deadlines per message).
        self.timers_changed = True
        self._over_pending = False
        self._noop_at: float | None = None  # next release of a GET held during an upgrade
        self._noop_due = False  # a held GET may be released with a noop now

    # ------------------------------------------------------------------ status

    @property
    def upgrading(self) -> bool:
        """Whether a WebSocket probe is in progress (from :meth:`begin_upgrade` on)."""
        return self.upgrade.in_progress

    @property
    def buffered_size(self) -> int:
        """Approximate size in bytes of the queued outgoing frames."""
        return self._out_size

    @property
    def backlog(self) -> int:
        """Bytes not yet sent: the queue plus what the transport holds."""
        return self._out_size + self.transport_backlog

    def set_transport_backlog(self, size: int) -> None:
        """The I/O layer reports how many bytes its transport holds unsent."""
        self.transport_backlog = size
        if self._out_size + size > self._max_buffered:
            self._note_over_limit()
        elif self._over_since is not None or self._over_pending:
            self._over_since = None
            self._over_pending = False
            self.timers_changed = True

    def drained_to_transport(self, size: int) -> bool:
        """After writing what :meth:`data_to_send` drained: the transport now holds
        ``size`` bytes unsent (:meth:`set_transport_backlog`, skipped while it holds
        nothing before and after).

        Returns:
            :attr:`timers_changed` (the I/O layer re-arms its timer).
        """
        if size or self.transport_backlog:
            self.set_transport_backlog(size)
        return self.timers_changed

    # ------------------------------------------------------------------ incoming

    def receive_frame(self, frame: str | bytes, now: float) -> None:
        """Feeds one frame of the active WebSocket (charged to ``rate_limit`` first)."""
        if self._packet_budget is not None and not self._admit(1, len(frame), now):
            return
        super().receive_frame(frame, now)

    def receive_payload(self, body: str, now: float) -> None:
        """Feeds one polling body (charged to ``rate_limit`` first)."""
        if self._packet_budget is not None:
            if not self._admit(body.count(SEPARATOR) + 1, len(body), now):
                return
        super().receive_payload(body, now)

    def _admit(self, packets: int, size: int, now: float) -> bool:
        # The input budget, before any parsing: a flood costs a subtraction per frame.
        packet_budget, byte_budget = self._packet_budget, self._byte_budget
        assert packet_budget is not None and byte_budget is not None
        if self._closed or (packet_budget.take(packets, now) and byte_budget.take(size, now)):
            return True
        limit = self._options.rate_limit
        assert limit is not None
        self.close_detail = (
            f"over rate_limit ({limit.packets_per_second:g} packets/s, "
            f"{limit.bytes_per_second:g} bytes/s)"
        )
        self._close(DisconnectReason.RATE_LIMITED, send_close=True)
        return False

    def _payload_limits(self) -> Limits:
        return self._options.limits

    def _fail(self, reason: DisconnectReason) -> None:
        self._close(reason, send_close=False)

    def receive_eof(self) -> None:
        """The active transport closed under us (socket closed, request aborted)."""
        if not self._closed:
            self._close(DisconnectReason.TRANSPORT_CLOSE, send_close=False)

    def fail(self, reason: DisconnectReason, detail: str | None = None) -> None:
        """Closes the session because of a transport-level fault the I/O layer detected.

        Queues a ``1`` (close) frame so a pending GET learns about it.

        Args:
            reason: why the session ends.
            detail: what went wrong, for the log.
        """
        if not self._closed:
            self.close_detail = detail
            self._close(reason, send_close=True)

    def _receive_packet(self, packet: Packet, now: float) -> None:
        ptype = packet.type
        if ptype is PacketType.MESSAGE:
            self._events.append(MessageReceived(packet.data))
        elif ptype is PacketType.PONG:
            if self._pong_deadline is not None:
                self._pong_deadline = None
                self._next_ping = now + self._options.ping_interval
                self.timers_changed = True
        elif ptype is PacketType.CLOSE:
            # A GET pending at that time is completed with a noop (Engine.IO v4 "Close").
            if self.transport is Transport.POLLING:
                self._append(NOOP_FRAME)
            self._close(DisconnectReason.TRANSPORT_CLOSE, send_close=False, keep_output=True)
        elif ptype is PacketType.PING:
            # v4 clients do not ping, but answering costs nothing and helps old tools.
            self._append("3" + str(packet.data))
        elif ptype is PacketType.NOOP:
            pass
        else:  # OPEN or UPGRADE on the active transport
            self.close_detail = f"unexpected {ptype.name} packet"
            self._close(DisconnectReason.PARSE_ERROR, send_close=False)

    # ------------------------------------------------------------------ upgrade

    def begin_upgrade(self, now: float) -> None:
        """A WebSocket with this sid arrived to upgrade a polling session.

        Raises:
            LocalProtocolError: the session cannot be upgraded now (not polling,
                upgrades disabled, already upgrading or closed); refuse that WebSocket.
        """
        if (
            self._closed
            or not self._options.allow_upgrades
            or Transport.WEBSOCKET not in self._options.transports
        ):
            raise LocalProtocolError("session cannot upgrade now")
        self.upgrade.apply(UpgradeEvent.BEGIN)  # refuses a second probe or an upgraded session
        self._upgrade_deadline = now + self._options.upgrade_timeout
        self.timers_changed = True

    def receive_probe_frame(self, frame: str | bytes, now: float) -> list[Frame]:
        """Feeds one frame received on the probe WebSocket.

        Returns:
            Frames to write on the probe WebSocket. If :attr:`upgrading` is false
            afterwards and :attr:`transport` is still polling, the upgrade failed:
            close the probe WebSocket. If :attr:`transport` became WebSocket (an
            :class:`Upgraded` event), the probe is now the active transport: drain
            :meth:`data_to_send` into it.
        """
        if self._closed or not self.upgrade.in_progress:
            return []
        state = self.upgrade.state
        if frame == "2probe" and state is UpgradeState.PROBING:
            self.upgrade.apply(UpgradeEvent.PROBED)
            # As Node: a GET held from now on is released with a noop by a timer, not
            # at once, or the client would poll in a tight loop until it reads 3probe.
            self._noop_at = now + self._options.upgrade_noop_interval
            self.timers_changed = True
            return ["3probe"]
        if frame == "5" and state is UpgradeState.PAUSED:
            self.upgrade.apply(UpgradeEvent.COMPLETE)
            self._end_upgrade_timers()
            self._events.append(Upgraded())
            return []
        self.abort_upgrade()
        return []

    def abort_upgrade(self) -> None:
        """Gives up an upgrade in progress; the session goes on over polling."""
        if self.upgrade.abort():
            self._end_upgrade_timers()

    def _end_upgrade_timers(self) -> None:
        self._upgrade_deadline = None
        self._noop_at = None
        self._noop_due = False
        self.timers_changed = True

    # ------------------------------------------------------------------ outgoing

    def send_message(self, data: str | bytes, *, volatile: bool = False) -> bool:
        """Queues a MESSAGE (``str`` text or ``bytes`` binary).

        Returns:
            False when the frame was dropped (closed session, or a volatile frame
            while the queue is over ``max_buffered_bytes``).
        """
        return self.send_frames([frame_message(data)], volatile=volatile)

    def send_messages(self, messages: Sequence[str | bytes], *, volatile: bool = False) -> bool:
        """Queues MESSAGEs that must stay together (a Socket.IO packet and its
        attachments): all or none.

        Returns:
            False when they were dropped.
        """
        return self.send_frames(frame_messages(messages), volatile=volatile)

    def send_frame(self, frame: Frame, *, volatile: bool = False) -> bool:
        """Queues an already-encoded wire frame (``"4…"`` text or binary bytes).

        This is the encode-once path: the same frame object may be queued on many
        sessions. After this, the I/O layer should flush.

        Returns:
            False when the frame was dropped.
        """
        return self.send_frames([frame], volatile=volatile)

    def _note_over_limit(self) -> None:
        # Start the slow-client clock at the next handle_timeout (which knows ``now``).
        if self._over_since is None and not self._over_pending:
            self._over_pending = True
            self.timers_changed = True

    def send_frames(self, frames: list[Frame], *, volatile: bool = False) -> bool:
        """Queues several pre-encoded frames that must stay together (all or none).

        A send that finds the backlog over ``max_buffered_bytes_hard`` closes the
        session (``slow client``) instead: check :attr:`closed` and :meth:`events`.
        ``frames`` is queued as it is (see :meth:`queue_frames`): do not change it after.
        """
        if volatile and self._out_size + self.transport_backlog >= self._max_buffered:
            return False
        return self.queue_frames(
            frames, len(frames[0]) if len(frames) == 1 else sum(map(len, frames))
        )

    def queue_frames(self, frames: list[Frame], size: int) -> bool:
        """:meth:`send_frames` (not volatile) with the frames' size in bytes given: the
        fan-out path calls it for every recipient of one broadcast's frames.

        ``frames`` is queued as it is, not copied (:meth:`data_to_send` may return it):
        the caller must not change the list afterwards."""
        if self._closed:
            return False
        backlog = self._out_size + self.transport_backlog
        if backlog >= self._max_buffered:
            options = self._options
            hard = max(options.max_buffered_bytes_hard, options.max_buffered_bytes)
            if backlog > hard:
                self.close_detail = f"{backlog} bytes unsent, over max_buffered_bytes_hard={hard}"
                self._close(DisconnectReason.SLOW_CLIENT, send_close=False)
                return False
        out = self._out
        if not out:
            # Nothing queued: the list itself is kept (no copy per recipient of a
            # broadcast); it is copied if more comes before the next drain.
            self._out = frames
            self._out_owned = False
        elif self._out_owned:
            out += frames
        else:
            self._out = out + frames
            self._out_owned = True
        self._out_size += size
        if backlog + size > self._max_buffered:
            self._note_over_limit()
        return True

    def close(
        self, reason: DisconnectReason = DisconnectReason.FORCED_CLOSE, *, packet: bool = True
    ) -> None:
        """Server-initiated close: queues ``1`` after what is already queued.

        With ``packet=False`` nothing is queued after it (what is queued still
        leaves): over WebSocket the I/O layer's close frame alone ends the session,
        which is how the reference server shuts down (``io.close()`` sends no ``1``).
        """
        if not self._closed:
            self._close(reason, send_close=packet, keep_output=True)

    def has_data(self) -> bool:
        """Whether something is queued, or a held polling GET may be released now."""
        return bool(self._out) or self._noop_due

    def data_to_send(self) -> list[Frame]:
        """Drains the queue as WebSocket frames, one frame each, in order (a list the
        caller must not change: it may be the one a broadcast queued on every session).

        A closed session's close packet is never drained together with frames before
        it: those leave first, the close packet at the next drain (its own polling
        response or WebSocket write), as the reference server does. The official
        client handles the messages of one read after a close packet read with them,
        so acknowledgements queued just before a close would be lost.
        """
        out = self._out
        if not out:
            return out
        if self._closed and len(out) > 1 and out[-1] == CLOSE_FRAME:
            self._out = [CLOSE_FRAME]
            self._out_owned = True
            out = out[:-1]
        else:
            self._out = _NOTHING
            self._out_owned = False
        self._out_size = 0
        if (
            self._over_since is not None or self._over_pending
        ) and self.transport_backlog <= self._max_buffered:
            self._over_since = None
            self._over_pending = False
            self.timers_changed = True
        return out

    def payload_to_send(self) -> str | None:
        """Drains the queue as one polling body, or returns ``None`` if there is
        nothing to say yet (hold the GET).

        While an upgrade is in progress the queue is kept for the WebSocket (Engine.IO
        v4 "Upgrade"): a GET is held, and released with a lone ``6`` (noop) every
        ``upgrade_noop_interval`` seconds (as Node). A GET still held once the session
        has moved to WebSocket gets a noop at once.
        """
        if self.transport is not Transport.POLLING:
            return NOOP_FRAME
        if self.upgrade.polling_paused:
            if self._noop_due:
                self._noop_due = False
                return NOOP_FRAME
            return None
        if not self._out:
            return None
        return encode_payload(self.data_to_send())

    # ------------------------------------------------------------------ time

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timeout` must next be called, or ``None``."""
        if self._closed:
            return None
        deadlines = [
            d
            for d in (self._next_ping, self._pong_deadline, self._upgrade_deadline, self._noop_at)
            if d is not None
        ]
        if self._over_pending:
            return 0.0  # as soon as possible: start the slow-client clock
        if self._over_since is not None:
            deadlines.append(self._over_since + self._options.slow_client_grace)
        return min(deadlines) if deadlines else None

    def handle_timeout(self, now: float) -> None:
        """Runs what is due at ``now``: ping, ping timeout, upgrade timeout, slow client.

        After this, call :meth:`events` and flush.
        """
        if self._closed:
            return
        self.timers_changed = True
        if self._pong_deadline is not None and now >= self._pong_deadline:
            self._close(DisconnectReason.PING_TIMEOUT, send_close=False)
            return
        self._over_pending = False
        if self._out_size + self.transport_backlog > self._max_buffered:
            if self._over_since is None:
                self._over_since = now
            elif now >= self._over_since + self._options.slow_client_grace:
                self.close_detail = (
                    f"over max_buffered_bytes={self._options.max_buffered_bytes} "
                    f"for slow_client_grace={self._options.slow_client_grace:g}s"
                )
                self._close(DisconnectReason.SLOW_CLIENT, send_close=False)
                return
        else:
            self._over_since = None
        if self._upgrade_deadline is not None and now >= self._upgrade_deadline:
            self.abort_upgrade()
        if self._noop_at is not None and now >= self._noop_at:
            self._noop_due = True
            self._noop_at = now + self._options.upgrade_noop_interval
        if self._next_ping is not None and now >= self._next_ping:
            self._next_ping = None
            self._pong_deadline = now + self._options.ping_timeout
            self._append(PING_FRAME)
            self._out_size += 1

    def _append(self, frame: Frame) -> None:
        # adds one frame to the queue, copying it first if it is not the session's own
        if self._out_owned:
            self._out.append(frame)
        else:
            self._out = [*self._out, frame]
            self._out_owned = True

    def _close(
        self, reason: DisconnectReason, *, send_close: bool, keep_output: bool = False
    ) -> None:
        if send_close:
            self._append(CLOSE_FRAME)
        elif not keep_output:
            self._out = _NOTHING
            self._out_owned = False
        self._out_size = 0
        self._closed = True
        self.close_reason = reason
        self.upgrade.abort()
        self._next_ping = self._pong_deadline = self._upgrade_deadline = self._noop_at = None
        self._noop_due = False
        self._over_since = None
        self._over_pending = False
        self.timers_changed = True
        self._events.append(Disconnected(reason))
