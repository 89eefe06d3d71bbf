"""asyncio Engine.IO v4 server: session table, timers, polling and WebSocket glue (layer L3).

May import: plexio L0, plexio.engineio, plexio.transports. Protocol decisions live in
:class:`plexio.engineio.ServerSession`; this module only moves bytes, owns timers (one
deadline per session in the server's :class:`~plexio.aio.deadlines.Deadlines`,
no task) and calls the :class:`EngineHandler`.

The HTTP side is framework independent: :meth:`EngineServer.handle_request` takes an
:class:`~plexio.transports.base.HttpRequest` and a body reader and returns an
:class:`~plexio.transports.base.HttpResponse`. A WebSocket is checked with
:meth:`EngineServer.prepare_websocket`, then given to the server as a push-based
:class:`~plexio.transports.base.FrameSink`; the shell feeds received frames to
:meth:`EngineSocket.ws_received`. No task per connection or per message: writes are
coalesced per loop tick into one ``write`` per socket. The ASGI application
(``plexio.asgi``) and the native listener (``plexio.native``) both call these.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from enum import Enum
from typing import Generic, Protocol, TypeVar

import orjson

from plexio.aio.deadlines import Deadline, Deadlines
from plexio.aio.handlers import TaskOwner, call_handler
from plexio.config import EngineOptions
from plexio.engineio import handshake
from plexio.engineio.events import Disconnected, DisconnectReason, MessageReceived, Upgraded
from plexio.engineio.packets import Frame, frame_message, frame_messages
from plexio.engineio.session import ServerSession
from plexio.engineio.sid import generate_sid
from plexio.enums import Transport
from plexio.exceptions import HandshakeError, LocalProtocolError
from plexio.transports.base import FrameSink, HttpRequest, HttpResponse, uncompressed
from plexio.transports.compression import choose_encoding, compress_body

__all__ = [
    "AllowRequest",
    "CorsOrigins",
    "EngineEndpoint",
    "EngineHandler",
    "EngineServer",
    "EngineSocket",
    "StateT",
    "WebSocketVerdict",
]

logger = logging.getLogger(__name__)

#: ``allow_request(request)`` returns (or resolves to) whether a handshake may proceed.
AllowRequest = Callable[[HttpRequest], bool | Awaitable[bool]]
#: ``"*"``, a list of allowed origins, a predicate, or ``None`` for no CORS headers.
CorsOrigins = str | Sequence[str] | Callable[[str], bool] | None

#: What the layer above keeps per session in :attr:`EngineSocket.state` (the Socket.IO
#: server keeps its :class:`~plexio.server.connection.Connection`).
StateT = TypeVar("StateT")

_TEXT = "text/plain; charset=UTF-8"
#: Server-side closes whose last frames a polling client still fetches.
_DELIVER_ON_CLOSE = frozenset(
    {DisconnectReason.FORCED_CLOSE, DisconnectReason.SERVER_SHUTTING_DOWN}
)
#: Ordinary ends of a session, logged at DEBUG; every other reason is logged at INFO.
_QUIET_REASONS = frozenset(
    {
        DisconnectReason.TRANSPORT_CLOSE,
        DisconnectReason.FORCED_CLOSE,
        DisconnectReason.SERVER_SHUTTING_DOWN,
    }
)


class WebSocketVerdict(Enum):
    """What :meth:`EngineServer.prepare_websocket` answers besides a session."""

    DUPLICATE = "duplicate"
    """One more WebSocket for a session that is upgrading or upgraded: the shell
    accepts it and closes it at once (code 1000)."""


class EngineHandler(Protocol[StateT]):
    """What the layer above (the Socket.IO server, or an app) implements.

    ``on_message`` and ``on_disconnect`` are called on the event loop for every message
    and must not block. Each of the three may be a plain function or a coroutine
    function: a coroutine handler runs as a task of its own, started at once (so
    handlers start in message order; one that waits lets the next start).
    """

    async def on_connect(self, socket: EngineSocket[StateT]) -> None:
        """A session opened; messages sent now follow the OPEN packet."""
        ...

    def on_message(self, socket: EngineSocket[StateT], data: str | bytes) -> None:
        """A message arrived (``str`` text, ``bytes`` binary), in order."""
        ...

    def on_disconnect(self, socket: EngineSocket[StateT], reason: DisconnectReason) -> None:
        """The session ended; ``socket`` can no longer send."""
        ...


class WebSocketTarget(Protocol):
    """What an accepted upgrade WebSocket feeds: the session it upgrades
    (:class:`EngineSocket`), or a relay to the worker that holds it."""

    def attach(self, sink: FrameSink) -> None:
        """Takes the accepted WebSocket ``sink`` (the upgrade probe)."""
        ...

    def ws_received(self, sink: FrameSink, frames: list[str | bytes]) -> None:
        """Frames arrived on ``sink``."""
        ...

    def ws_closed(self, sink: FrameSink) -> None:
        """``sink`` closed (the peer went away)."""
        ...

    def ws_failed(self, sink: FrameSink, reason: DisconnectReason, detail: str) -> None:
        """``sink`` is being closed because of bad input."""
        ...

    def abort_upgrade(self) -> None:
        """The WebSocket could not be accepted after all (the client went away)."""
        ...


class RequestForwarder(Protocol):
    """Reaches the sessions of the other workers of one machine (``plexio.workers``).

    The worker that opened a session owns it; its session ids say which worker that is.
    A long-polling request for a session owned elsewhere is handed to its owner.
    """

    def new_sid(self) -> str:
        """A new session id naming this worker."""
        ...

    def elsewhere(self, sid: str) -> bool:
        """Whether ``sid`` names another worker of this machine."""
        ...

    async def forward(self, sid: str, request: HttpRequest, body: bytes) -> HttpResponse:
        """Has the owner of ``sid`` answer the request (``body`` already read)."""
        ...

    async def websocket(self, sid: str, request: HttpRequest) -> WebSocketTarget:
        """Asks the owner of ``sid`` to take an upgrade WebSocket, relayed from here.

        Raises:
            HandshakeError: the owner refuses it (or is gone).
        """
        ...


class EngineSocket(Generic[StateT]):
    """The asyncio side of one Engine.IO session.

    Attributes:
        sid: the Engine.IO session id.
        request: the handshake request (headers, query, client address).
        state: the layer above's slot, ``None`` until it sets it (the Socket.IO server
            keeps its per-connection state here, set in ``on_connect``).
    """

    __slots__ = (
        "sid",
        "request",
        "state",
        "session",
        "_server",
        "_poll_waiter",
        "_post_busy",
        "_sink",
        "_probe",
        "_flush_pending",
        "_timer",
        "_closed",
        "_input_paused",
        "_held",
        "_compressible",
        "_close_after",
        "_close_deadline",
    )

    def __init__(
        self, server: EngineServer[StateT], session: ServerSession, request: HttpRequest
    ) -> None:
        self.sid = session.sid
        self.request = request
        self.state: StateT | None = None
        self.session = session
        self._server = server
        self._poll_waiter: asyncio.Future[None] | None = None
        self._post_busy = False
        self._sink: FrameSink | None = None
        self._probe: FrameSink | None = None
        self._flush_pending = False
        self._timer: Deadline | None = None
        self._closed = False
        self._input_paused: asyncio.Future[None] | None = None
        # messages read before input was paused (a list made when first needed)
        self._held: list[str | bytes] | None = None
        self._compressible = False  # a message queued since the last poll may be compressed
        self._close_after: DisconnectReason | None = None  # see close_after_delivery
        self._close_deadline: asyncio.TimerHandle | None = None

    @property
    def transport(self) -> Transport:
        """The active transport (equal to its name, ``"polling"`` or ``"websocket"``)."""
        return self.session.transport

    @property
    def closed(self) -> bool:
        """Whether the session has ended."""
        return self._closed

    @property
    def get_held(self) -> bool:
        """Whether a long-polling GET of this session is being held right now."""
        return self._poll_waiter is not None

    @property
    def post_in_flight(self) -> bool:
        """Whether a long-polling POST body of this session is being read right now."""
        return self._post_busy

    # ------------------------------------------------------------ sending

    def send(self, data: str | bytes, *, volatile: bool = False, compress: bool = True) -> bool:
        """Queues a message and schedules its delivery.

        Args:
            data: ``str`` for a text message, ``bytes`` for binary.
            volatile: drop it when the client is not ready for it.
            compress: whether the transport may compress it (``False``: never).

        Returns:
            False if it was dropped (closed session, or volatile and the client is behind).
        """
        return self.send_frames([frame_message(data)], volatile=volatile, compress=compress)

    def send_messages(
        self, messages: Sequence[str | bytes], *, volatile: bool = False, compress: bool = True
    ) -> bool:
        """Queues messages that travel together (a Socket.IO packet and its attachments).

        Returns:
            False if they were dropped.
        """
        return self.send_frames(frame_messages(messages), volatile=volatile, compress=compress)

    def send_frames(
        self, frames: list[Frame], *, volatile: bool = False, compress: bool = True
    ) -> bool:
        """Queues wire frames framed once by :func:`~plexio.engineio.packets.frame_messages`
        (the encode-once broadcast path: the same list goes to every recipient).

        ``compress=False`` keeps them out of compression: WebSocket frames are marked
        (:func:`~plexio.transports.base.uncompressed`), and a polling response is
        compressed only when one of its messages may be (as Node decides).
        """
        if volatile and not self.writable:
            return False  # volatile packets need a transport that keeps up
        if compress:
            self._compressible = True
        elif frames and type(frames[0]) in (str, bytes):
            frames = [uncompressed(f) for f in frames]  # not marked by the broadcast yet
        session = self.session
        ok = session.send_frames(frames, volatile=volatile)
        if ok:
            if session.timers_changed:
                self._arm_timer()  # the client fell behind: start its grace period
            if self._sink is None:
                self._wake()
            elif not self._flush_pending:  # what _wake does for a WebSocket, inline:
                self._flush_pending = True  # once per recipient on the fan-out path
                self._server.schedule_flush(self)
        elif session.closed and not self._closed:
            # Over max_buffered_bytes_hard: the session ended. Its disconnect runs on
            # the next loop step, not inside the broadcast that is sending right now
            # (which may be iterating over the rooms the disconnect changes).
            self._server.loop.call_soon(self.process_events)
        return ok

    @staticmethod
    def queue_on_all(
        sockets: Iterable[EngineSocket[StateT]],
        frames: list[Frame],
        size: int,
        volatile: bool,
        dirty: list[EngineSocket[StateT]],
    ) -> None:
        """:meth:`send_frames` of one broadcast's frames for each of ``sockets``, in one
        loop (the fan-out path: no per-recipient call but the session's queueing).

        ``frames`` are already marked for compression (see :meth:`send_frames`) and
        ``size`` is their length in bytes. A WebSocket session that was not yet waiting
        for the end-of-tick flush is appended to ``dirty`` (the caller schedules it);
        everything else (polling, a closing session) takes :meth:`send_frames`.
        """
        # The function taken once: a method looked up on each (mypyc-compiled) session
        # from this interpreted loop goes through CPython's generic attribute lookup.
        queue_frames = ServerSession.queue_frames
        for socket in sockets:
            sink = socket._sink
            if sink is None or socket._closed or volatile:
                # polling, or a volatile frame: it needs a ready transport (writable)
                socket.send_frames(
                    frames, volatile=volatile, compress=type(frames[0]) in (str, bytes)
                )
                continue
            session = socket.session
            if queue_frames(session, frames, size):
                # A client that fell behind (timers changed) gets its timer re-armed by
                # the flush at the end of this tick, which every socket here gets.
                if not socket._flush_pending:
                    socket._flush_pending = True
                    dirty.append(socket)
            elif session.closed:
                # over max_buffered_bytes_hard: as in send_frames, the disconnect runs
                # on the next loop step, not inside this broadcast
                socket._server.loop.call_soon(socket.process_events)

    @property
    def writable(self) -> bool:
        """Whether a volatile frame sent now is kept: a WebSocket that keeps up (its
        sink not paused), or a polling GET waiting for data.

        Frames queued for a WebSocket earlier in this loop turn do not count: they
        leave at its end, and the client is not behind. (The reference server drops a
        volatile packet while its previous write is unfinished, which it is only until
        the same turn ends; here frames are written once per turn, and an ASGI
        server's ``send`` takes a turn or two more, so counting them lost volatile
        packets that arrived from Redis just after a client's other traffic.)
        """
        sink = self._sink
        if sink is not None:
            return not sink.paused
        return self._poll_waiter is not None and not self._poll_waiter.done()

    def pause_input(self) -> None:
        """Backpressure: takes no more input from the client (its WebSocket is not
        read, its next POST waits) until :meth:`resume_input`. The session's timers
        go on (a client whose pong waits behind its own flood times out)."""
        if self._input_paused is None:
            self._input_paused = self._server.loop.create_future()
            if self._sink is not None:
                self._sink.pause_reading()

    def resume_input(self) -> None:
        """Takes input from the client again (first the messages already read)."""
        paused, self._input_paused = self._input_paused, None
        if paused is None:
            return
        if not paused.done():
            paused.set_result(None)  # a POST waiting on it looks again
        held = self._held
        handler = self._server.handler
        while held and self._input_paused is None and not self._closed:
            data = held.pop(0)
            try:
                handler.on_message(self, data)
            except Exception:
                logger.exception("engine.io message handler failed (sid %s)", self.sid)
        if self._input_paused is None and self._sink is not None:
            self._sink.resume_reading()  # (unless a held message paused it again)

    def close(
        self, reason: DisconnectReason = DisconnectReason.FORCED_CLOSE, *, packet: bool = True
    ) -> None:
        """Closes the session after the frames already queued, sending ``1``
        (``packet=False``: over WebSocket, the close frame alone)."""
        self.session.close(reason, packet=packet or self.transport is Transport.POLLING)
        self.process_events()
        self._wake()

    def close_after_delivery(self, reason: DisconnectReason, grace: float) -> None:
        """Closes the session once what is queued now has been handed to the client,
        or after ``grace`` seconds at the latest.

        Over long-polling it also waits for the client's next GET, so that the close
        packet reaches it (rather than "unknown session"), and so that packets
        queued before it are handled first: a JS client that got a close in the same
        response as a Socket.IO DISCONNECT would report "transport close".
        """
        if self._closed or self._close_after is not None:
            return
        self._close_after = reason
        self._close_deadline = self._server.loop.call_later(grace, self._close_now)
        self._close_if_delivered()

    def _close_if_delivered(self) -> None:
        reason = self._close_after
        if reason is None or self._closed:
            return
        if self.session.has_data():
            return
        if self._sink is None and self._poll_waiter is None:
            return  # polling: wait for the client's next GET
        self._close_now()

    def _close_now(self) -> None:
        reason = self._close_after
        if self._close_deadline is not None:
            self._close_deadline.cancel()
            self._close_deadline = None
        if reason is not None and not self._closed:
            self.close(reason)

    # ------------------------------------------------------------ internals

    def _wake(self) -> None:
        if self._sink is not None:
            # Coalesce: everything queued for this socket in this loop tick leaves in
            # one write (one syscall) when the server flushes its dirty sockets.
            if not self._flush_pending:
                self._flush_pending = True
                self._server.schedule_flush(self)
            return
        waiter = self._poll_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def output_pending(self) -> bool:
        """Whether frames are still on their way: queued here, or held by the active
        WebSocket (a polling session's last frames wait for its next GET)."""
        sink = self._sink
        if sink is None:  # polling: the last frames wait for the client's next GET
            return self.session.has_data() and self._server.sockets.get(self.sid) is self
        return self.session.has_data() or sink.buffered_size > 0

    def flush(self) -> None:
        """Writes queued frames to the active WebSocket while it accepts them (the
        server calls it once per loop tick for the sockets that queued something;
        the sink calls it when it drains)."""
        EngineSocket.flush_all((self,))

    @staticmethod
    def flush_all(sockets: Iterable[EngineSocket[StateT]]) -> None:
        """:meth:`flush` for each of ``sockets`` in one loop (the end-of-tick flush of
        a broadcast's recipients: no call per socket but the session's drain and the
        sink's write). A socket whose flush fails is logged and the others go on."""
        data_to_send = ServerSession.data_to_send  # taken once, as in queue_on_all
        drained = ServerSession.drained_to_transport
        for socket in sockets:
            try:
                socket._flush_pending = False
                sink = socket._sink
                if sink is None:
                    continue
                session = socket.session
                if sink.paused:
                    session.set_transport_backlog(sink.buffered_size)
                    timers_changed = session.timers_changed
                else:
                    frames = data_to_send(session)
                    size = sink.write(frames) if frames else None
                    if size is None:
                        size = sink.buffered_size
                    timers_changed = drained(session, size)
                if timers_changed or socket._closed or socket._close_after is not None:
                    socket._after_flush(sink)
            except Exception:
                logger.exception("websocket write failed (sid %s)", socket.sid)

    def _after_flush(self, sink: FrameSink) -> None:
        # the rare end of a flush: timers to re-arm, a close to finish
        session = self.session
        if session.timers_changed and not self._closed:
            self._arm_timer()
        if self._closed:
            if not session.has_data():
                self._sink = None
                sink.close(1000)
            elif not sink.paused and not self._flush_pending:
                self._flush_pending = True  # the close packet, in a write of its own
                self._server.schedule_flush(self)
        elif self._close_after is not None:
            self._close_if_delivered()

    # ------------------------------------------------------------ long-polling

    async def answer_get(self) -> tuple[str, bool]:
        """Answers one polling GET: holds it until there is something to say.

        Returns:
            The body, and whether it may be compressed.

        Raises:
            HandshakeError: a second GET while one is held (the session closes; the
                held one gets the close packet).
            asyncio.CancelledError: the client went away while its GET was held (the
                session ends with ``transport error``, as Node does).
        """
        if self._poll_waiter is not None:
            # At most one outstanding GET (Engine.IO v4).
            self.session.fail(DisconnectReason.PROTOCOL_ERROR, "overlapping GET")
            self.process_events()
            self._wake()
            raise handshake.bad_request()
        session = self.session
        payload = session.payload_to_send()
        # Hold the GET until there is something to say (a wake-up may find nothing:
        # e.g. a POST whose packets needed no answer).
        while payload is None and not self._closed:
            waiter = self._server.loop.create_future()
            self._poll_waiter = waiter
            if self._close_after is not None:
                self._close_if_delivered()  # the close waited for this GET
            try:
                await waiter
            except asyncio.CancelledError:
                # Rather than write what comes next into a dead connection.
                if not self._closed:
                    session.fail(DisconnectReason.TRANSPORT_ERROR, "held GET aborted by the client")
                    self.process_events()
                raise
            finally:
                self._poll_waiter = None
            payload = session.payload_to_send()
        if payload is None:
            payload = "1"  # the session ended with nothing left to say: tell the client
        compressible, self._compressible = self._compressible, False
        return payload, compressible

    async def receive_post(
        self, body: Callable[[int], Awaitable[bytes | None]], max_size: int
    ) -> None:
        """Reads and feeds one polling POST.

        Args:
            body: reads the whole body up to ``max_size``; ``None`` if it is larger.
            max_size: the largest body accepted.

        Raises:
            HandshakeError: an overlapping POST, a body over ``max_size`` (413), not
                UTF-8, or that does not decode: the session has ended.
        """
        session = self.session
        if self._post_busy:
            session.fail(DisconnectReason.PROTOCOL_ERROR, "overlapping POST")
            self.process_events()
            raise handshake.bad_request()
        self._post_busy = True
        try:
            while self._input_paused is not None:
                # Backpressure: the client's handlers are busy; its POST waits.
                await asyncio.shield(self._input_paused)
            raw = await body(max_size)
        finally:
            self._post_busy = False
        if raw is None:
            session.fail(DisconnectReason.PAYLOAD_TOO_LARGE, "POST body over max_http_buffer_size")
            self.process_events()
            raise HandshakeError(3, "Payload too large", 413)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            session.fail(DisconnectReason.PARSE_ERROR, "POST body is not UTF-8")
            self.process_events()
            raise handshake.bad_request() from None
        session.receive_payload(text, self._server.loop.time())
        self.process_events()
        self._wake()
        if session.close_reason in (DisconnectReason.PARSE_ERROR, DisconnectReason.PROTOCOL_ERROR):
            raise handshake.bad_request()

    # ------------------------------------------------------------ WebSocket attach

    def begin_upgrade(self) -> None:
        """A WebSocket for this polling session arrived: the upgrade starts.

        Raises:
            LocalProtocolError: the session cannot upgrade now.
        """
        self.session.begin_upgrade(self._server.loop.time())
        self._arm_timer()

    def attach_transport(self, sink: FrameSink) -> None:
        """Makes the accepted WebSocket ``sink`` the transport of a new session."""
        if not self._closed or self.session.has_data():
            self._sink = sink
            sink.on_drain = self.flush
            self._wake()
        else:
            sink.close(1000)

    # ------------------------------------------------------------ WebSocket input

    def ws_received(self, sink: FrameSink, frames: list[str | bytes]) -> None:
        """The serving shell got frames on ``sink`` (the active WebSocket or a probe)."""
        session = self.session
        now = self._server.loop.time()
        if sink is self._sink:
            for frame in frames:
                session.receive_frame(frame, now)
            self.process_events()
            if not self._flush_pending and session.has_data():
                self._wake()  # e.g. the pong answering a client's ping
            return
        if sink is not self._probe:
            return
        for index, frame in enumerate(frames):
            replies = session.receive_probe_frame(frame, now)
            if replies:
                sink.write(replies)
            if session.transport is Transport.WEBSOCKET:
                # Upgrade complete: the probe becomes the active transport.
                self._probe = None
                self._release_poll()
                self._sink = sink
                sink.on_drain = self.flush
                if self._input_paused is not None:
                    sink.pause_reading()
                self.process_events()
                self._wake()
                rest = frames[index + 1 :]
                if rest:
                    self.ws_received(sink, rest)
                return
        # A GET held now is released with a noop by the session's timer (as Node), not
        # at once: the client would poll in a tight loop until it reads 3probe.
        self.process_events()

    def attach(self, sink: FrameSink) -> None:
        """Makes the accepted WebSocket ``sink`` this session's upgrade probe."""
        if self._closed or not self.session.upgrading:
            sink.close(1000)
            return
        self._probe = sink

    def abort_upgrade(self) -> None:
        """The upgrade WebSocket could not be accepted after all."""
        self.session.abort_upgrade()

    def ws_closed(self, sink: FrameSink) -> None:
        """The serving shell saw ``sink`` close (the peer went away)."""
        if sink is self._sink:
            self._sink = None
            self.session.receive_eof()
            self.process_events()
        elif sink is self._probe:
            self._probe = None
            self.session.abort_upgrade()
            self.process_events()

    def ws_failed(self, sink: FrameSink, reason: DisconnectReason, detail: str) -> None:
        """The serving shell is closing ``sink`` because of bad input (an oversized or
        malformed frame): the session ends with ``reason``, logged with ``detail``."""
        if sink is self._sink:
            self._sink = None
            self.session.fail(reason, detail)
            self.process_events()
        elif sink is self._probe:
            logger.info("session %s: upgrade probe failed (%s: %s)", self.sid, reason, detail)
            self._probe = None
            self.session.abort_upgrade()
            self.process_events()

    def _release_poll(self) -> None:
        waiter = self._poll_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def process_events(self) -> None:
        """Processes session events and re-arms the timer. Call after feeding the session."""
        events = self.session.events()
        if events:
            handler = self._server.handler
            held = self._held
            for event in events:
                if type(event) is MessageReceived:
                    if held or self._input_paused is not None:
                        # input paused (backpressure) by an earlier message of this
                        # batch: the rest waits, in order, for resume_input
                        if held is None:
                            held = self._held = []
                        held.append(event.data)
                        continue
                    try:
                        handler.on_message(self, event.data)
                    except Exception:
                        logger.exception("engine.io message handler failed (sid %s)", self.sid)
                elif type(event) is Disconnected:
                    self._on_closed(event.reason)
                elif type(event) is Upgraded:
                    logger.debug("session %s upgraded to websocket", self.sid)
        if self._probe is not None and not self.session.upgrading:
            if self.session.transport is not Transport.WEBSOCKET:  # aborted or timed out
                probe, self._probe = self._probe, None
                probe.close(1000)
        if not self._closed and self.session.timers_changed:
            self._arm_timer()

    def _arm_timer(self) -> None:
        session = self.session
        if not session.timers_changed:
            return
        session.timers_changed = False
        deadline = session.next_deadline()
        timer = self._timer
        if timer is not None:
            if timer.when == deadline:
                return
            timer.cancel()
            self._timer = None
        if deadline is not None:
            self._timer = self._server.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.session.handle_timeout(self._server.loop.time())
        self.process_events()
        self._wake()

    def _on_closed(self, reason: DisconnectReason) -> None:
        if self._closed:
            return
        self._closed = True
        detail = self.session.close_detail
        if reason in _QUIET_REASONS:
            logger.debug("session %s closed: %s", self.sid, reason)
        elif detail:
            logger.info("session %s closed: %s (%s)", self.sid, reason, detail)
        else:
            logger.info("session %s closed: %s", self.sid, reason)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._close_deadline is not None:
            self._close_deadline.cancel()
            self._close_deadline = None
        if (
            reason in _DELIVER_ON_CLOSE
            and self._sink is None
            and self.session.transport is Transport.POLLING
            and self.session.has_data()
        ):
            # The server closed the session: its last frames (acks, then the close
            # packet in a response of its own) need GETs, so the session stays findable
            # by its sid until they are taken, for at most close_timeout.
            loop = self._server.loop
            loop.call_later(self._server.options.close_timeout, self._server.forget, self)
        else:
            self._server.forget(self)
        if self._probe is not None:
            probe, self._probe = self._probe, None
            probe.close(1000)
        self._release_poll()
        self._wake()
        try:
            self._server.handler.on_disconnect(self, reason)
        except Exception:
            logger.exception("engine.io disconnect handler failed (sid %s)", self.sid)


def _polling_headers(request: HttpRequest, cors: list[tuple[str, str]]) -> list[tuple[str, str]]:
    headers = [("Cache-Control", "no-store"), *cors]
    agent = request.headers.get("user-agent", "")
    if ";MSIE" in agent or "Trident/" in agent:
        headers.append(("X-XSS-Protection", "0"))  # as Node, for old Internet Explorers
    return headers


class EngineEndpoint(Protocol):
    """What the shells that carry requests (the native listener, the ASGI app, the
    worker relay) use of an :class:`EngineServer`, whatever state its sessions keep."""

    @property
    def options(self) -> EngineOptions:
        """Protocol options and limits."""
        ...

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the server runs on."""
        ...

    def use_forwarder(self, forwarder: RequestForwarder) -> None:
        """Serves as one worker of several (see :meth:`EngineServer.use_forwarder`)."""
        ...

    def stop_accepting(self) -> None:
        """Refuses new sessions."""
        ...

    async def shutdown(self, deadline: float | None = None) -> None:
        """Closes every session and waits for its output to leave."""
        ...

    async def handle_request(
        self, request: HttpRequest, body: Callable[[int], Awaitable[bytes | None]]
    ) -> HttpResponse:
        """Answers one long-polling HTTP request."""
        ...

    async def prepare_websocket(
        self, request: HttpRequest
    ) -> WebSocketTarget | WebSocketVerdict | None:
        """Checks a WebSocket request before the shell accepts it."""
        ...

    async def open_websocket(self, request: HttpRequest, sink: FrameSink) -> WebSocketTarget:
        """Opens a session whose transport is the accepted WebSocket ``sink``."""
        ...

    def attach_probe(self, socket: WebSocketTarget, sink: FrameSink) -> None:
        """Makes the accepted WebSocket ``sink`` the upgrade probe of ``socket``."""
        ...


class EngineServer(Generic[StateT]):
    """The Engine.IO v4 server.

    Args:
        handler: receives connects, messages and disconnects.
        options: protocol options and limits.
        cors_allowed_origins: ``"*"``, a list of origins, a predicate, or ``None``
            (no CORS headers, the default: same-origin only).
        cors_credentials: send ``Access-Control-Allow-Credentials: true`` (the request
            origin is then echoed instead of ``*``).
        cors_allowed_headers: headers allowed in a preflight.
        allow_request: hook deciding whether a handshake may proceed (403 when not).
        sid_generator: session id factory (tests pass a deterministic one).
    """

    def __init__(
        self,
        handler: EngineHandler[StateT],
        options: EngineOptions | None = None,
        *,
        cors_allowed_origins: CorsOrigins = None,
        cors_credentials: bool = False,
        cors_allowed_headers: Sequence[str] = ("content-type", "authorization"),
        allow_request: AllowRequest | None = None,
        sid_generator: Callable[[], str] = generate_sid,
    ) -> None:
        self.handler = _adapt_handler(handler)
        self.options = options or EngineOptions()
        self.sockets: dict[str, EngineSocket[StateT]] = {}
        self._cors_origins = cors_allowed_origins
        self._cors_credentials = cors_credentials
        self._cors_headers = ", ".join(cors_allowed_headers)
        self._allow_request = allow_request
        self._new_sid = sid_generator
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dirty: list[EngineSocket[StateT]] = []
        self._flush_handle: asyncio.Handle | None = None
        self._deadlines: Deadlines | None = None
        self._forwarder: RequestForwarder | None = None
        self._stopping = False

    def use_forwarder(self, forwarder: RequestForwarder) -> None:
        """Serves as one worker of several (``plexio.run(..., workers=N)``): new session
        ids name this worker, and polling requests for another worker's sessions are
        answered by that worker through ``forwarder``."""
        self._forwarder = forwarder
        self._new_sid = forwarder.new_sid

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the server runs on (bound at first use)."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def call_at(self, when: float, callback: Callable[[], None]) -> Deadline:
        """Calls ``callback()`` at loop time ``when`` (or up to 10 ms later, batched with
        the other deadlines of those 10 ms: one loop timer for every session)."""
        deadlines = self._deadlines
        if deadlines is None:
            deadlines = self._deadlines = Deadlines(self.loop)
        return deadlines.call_at(when, callback)

    def schedule_flush(self, socket: EngineSocket[StateT]) -> None:
        """``socket`` queued frames: flush it once at the end of this loop tick."""
        self._dirty.append(socket)
        if self._flush_handle is None:
            loop = self._loop
            if loop is None:
                loop = self.loop
            self._flush_handle = loop.call_soon(self._flush_dirty)

    def send_frames_to(
        self,
        sockets: Iterable[EngineSocket[StateT]],
        frames: list[Frame],
        *,
        volatile: bool = False,
        compress: bool = True,
    ) -> None:
        """Queues the same frames (one broadcast, framed once) for each of ``sockets``,
        as :meth:`EngineSocket.send_frames` does for one; the WebSocket ones leave in the
        end-of-tick flush, each socket's frames of the tick in one ``write``.
        """
        if not frames:
            return
        if not compress and type(frames[0]) in (str, bytes):
            frames = [uncompressed(f) for f in frames]  # not marked by the broadcast yet
        size = len(frames[0]) if len(frames) == 1 else sum(map(len, frames))
        dirty = self._dirty
        EngineSocket.queue_on_all(sockets, frames, size, volatile, dirty)
        if dirty and self._flush_handle is None:
            self._flush_handle = self.loop.call_soon(self._flush_dirty)

    def _flush_dirty(self) -> None:
        self._flush_handle = None
        dirty, self._dirty = self._dirty, []
        EngineSocket.flush_all(dirty)

    def forget(self, socket: EngineSocket[StateT]) -> None:
        """``socket``'s session ended: it leaves the session table."""
        if self.sockets.get(socket.sid) is socket:
            del self.sockets[socket.sid]

    def stop_accepting(self) -> None:
        """Shutting down: new sessions are refused (503), the others go on."""
        self._stopping = True

    async def shutdown(self, deadline: float | None = None) -> None:
        """Closes every session with ``server shutting down``, after what each has
        queued, and waits (until ``deadline``, a loop time) for that output to leave.

        On the wire as the reference server's ``io.close()``: no Socket.IO DISCONNECT;
        a WebSocket gets its close frame alone (no Engine.IO ``1``), a polling session
        the ``1`` in the answer to its GET (held, or the next one). The official client
        reports ``"transport close"`` and reconnects.

        Args:
            deadline: loop time to stop waiting; ``shutdown_timeout`` from now by default.
        """
        loop = self.loop
        if deadline is None:
            deadline = loop.time() + self.options.shutdown_timeout
        self._stopping = True
        sockets = list(self.sockets.values())
        for socket in sockets:
            socket.close(DisconnectReason.SERVER_SHUTTING_DOWN, packet=False)
        await asyncio.sleep(0)
        while loop.time() < deadline and any(s.output_pending for s in sockets):
            await asyncio.sleep(0.02)

    # ------------------------------------------------------------ HTTP (polling)

    async def handle_request(
        self, request: HttpRequest, body: Callable[[int], Awaitable[bytes | None]]
    ) -> HttpResponse:
        """Answers one long-polling HTTP request.

        Args:
            request: the request.
            body: reads the whole body up to the given size; returns ``None`` if it is larger.
        """
        cors = self._cors_headers_for(request)
        if request.method == "OPTIONS":
            headers = [*cors, ("Access-Control-Allow-Methods", "GET, POST, OPTIONS")]
            if cors:
                headers.append(("Access-Control-Allow-Headers", self._cors_headers))
            return HttpResponse(204, b"", headers)
        try:
            params = handshake.parse_params(request.query, self.options.transports)
            # Answers to the polling transport itself carry Node's headers: proxies
            # and browsers must not cache them.
            polling = _polling_headers(request, cors)
            if params.sid is None:
                if request.method != "GET":
                    raise handshake.bad_handshake_method()
                if params.transport is not Transport.POLLING:
                    raise handshake.bad_request()
                return await self._polling_handshake(request, polling)
            socket = self.sockets.get(params.sid)
            if socket is None:
                forwarder = self._forwarder
                if forwarder is not None and forwarder.elsewhere(params.sid):
                    return await self._forward(forwarder, params.sid, request, body, cors)
                raise handshake.unknown_sid()
            if (
                params.transport is not Transport.POLLING
                or socket.transport is not Transport.POLLING
            ):
                raise handshake.bad_request()
            if request.method == "GET":
                return await self._polling_get(socket, polling, request)
            if request.method == "POST":
                return await self._polling_post(socket, body, polling)
            raise handshake.bad_request()
        except HandshakeError as exc:
            return self._error_response(exc, cors)

    async def _forward(
        self,
        forwarder: RequestForwarder,
        sid: str,
        request: HttpRequest,
        body: Callable[[int], Awaitable[bytes | None]],
        cors: list[tuple[str, str]],
    ) -> HttpResponse:
        raw = b""
        if request.method == "POST":
            read = await body(self.options.limits.max_http_buffer_size)
            if read is None:
                return self._error_response(HandshakeError(3, "Payload too large", 413), cors)
            raw = read
        try:
            return await forwarder.forward(sid, request, raw)
        except OSError as exc:
            # the owner is gone (restarted, or stopped): its sessions went with it
            logger.debug("session %s: its worker did not answer (%s)", sid, exc)
            return self._error_response(handshake.unknown_sid(), cors)

    async def _check_allowed(self, request: HttpRequest) -> None:
        if self._stopping:
            raise handshake.shutting_down()
        if self._allow_request is None:
            return
        verdict = self._allow_request(request)
        if not isinstance(verdict, bool):
            verdict = await verdict
        if not verdict:
            raise handshake.forbidden()

    async def _open(self, request: HttpRequest, transport: Transport) -> EngineSocket[StateT]:
        session = ServerSession(self._new_sid(), transport, self.options, self.loop.time())
        socket = EngineSocket(self, session, request)
        self.sockets[socket.sid] = socket
        try:
            await self.handler.on_connect(socket)
        except Exception:
            logger.exception("engine.io connect handler failed")
            socket.close(DisconnectReason.FORCED_CLOSE)
        socket.process_events()
        return socket

    async def _polling_handshake(
        self, request: HttpRequest, cors: list[tuple[str, str]]
    ) -> HttpResponse:
        await self._check_allowed(request)
        socket = await self._open(request, Transport.POLLING)
        payload = socket.session.payload_to_send() or ""
        headers = [("Content-Type", _TEXT), *cors]
        if self.options.cookie:
            headers.append(
                (
                    "Set-Cookie",
                    f"{self.options.cookie}={socket.sid}; Path=/; HttpOnly; SameSite=Lax",
                )
            )
        return HttpResponse(200, payload.encode(), headers)

    async def _polling_get(
        self, socket: EngineSocket[StateT], cors: list[tuple[str, str]], request: HttpRequest
    ) -> HttpResponse:
        payload, compressible = await socket.answer_get()
        body = payload.encode()
        headers = [("Content-Type", _TEXT), *cors]
        options = self.options
        if (
            compressible
            and options.http_compression
            and len(body) >= options.http_compression_threshold
        ):
            encoding = choose_encoding(request.headers.get("accept-encoding"))
            if encoding is not None:
                body = compress_body(body, encoding)
                headers.append(("Content-Encoding", encoding))
        if socket.closed and not socket.session.has_data():
            self.forget(socket)  # its last frames are on their way
        return HttpResponse(200, body, headers)

    async def _polling_post(
        self,
        socket: EngineSocket[StateT],
        body: Callable[[int], Awaitable[bytes | None]],
        cors: list[tuple[str, str]],
    ) -> HttpResponse:
        await socket.receive_post(body, self.options.limits.max_http_buffer_size)
        return HttpResponse(200, b"ok", [("Content-Type", "text/html"), *cors])

    # ------------------------------------------------------------ WebSocket

    async def prepare_websocket(
        self, request: HttpRequest
    ) -> WebSocketTarget | WebSocketVerdict | None:
        """Checks a WebSocket request before the shell accepts it.

        Returns:
            ``None`` for a new WebSocket session (then accept and call
            :meth:`open_websocket`), the polling session to upgrade, or a relay to the
            worker holding it (then accept and call :meth:`attach_probe`), or
            :attr:`WebSocketVerdict.DUPLICATE` for one more WebSocket of a session that
            is upgrading or upgraded (then accept and close it at once with 1000, as Node
            does; the first one goes on).

        Raises:
            HandshakeError: refuse the WebSocket (the shell answers with a close/HTTP error).
        """
        params = handshake.parse_params(request.query, self.options.transports)
        if params.transport is not Transport.WEBSOCKET:
            raise handshake.bad_request()
        if params.sid is None:
            await self._check_allowed(request)
            return None
        socket = self.sockets.get(params.sid)
        if socket is None:
            forwarder = self._forwarder
            if forwarder is not None and forwarder.elsewhere(params.sid):
                return await forwarder.websocket(params.sid, request)
            raise handshake.unknown_sid()
        session = socket.session
        if session.upgrading or session.transport is Transport.WEBSOCKET:
            # Node accepts it (101) and closes it: clients built on ``ws`` see a close
            # rather than an error event. The session keeps its first WebSocket.
            return WebSocketVerdict.DUPLICATE
        try:
            socket.begin_upgrade()
        except LocalProtocolError:
            # upgrades disabled, or the session is closing: refuse it
            raise handshake.bad_request() from None
        return socket

    async def open_websocket(self, request: HttpRequest, sink: FrameSink) -> EngineSocket[StateT]:
        """Opens a session whose transport is the accepted WebSocket ``sink``."""
        socket = await self._open(request, Transport.WEBSOCKET)
        socket.attach_transport(sink)
        return socket

    def attach_probe(self, socket: WebSocketTarget, sink: FrameSink) -> None:
        """Makes the accepted WebSocket ``sink`` the upgrade probe of ``socket``."""
        socket.attach(sink)

    # ------------------------------------------------------------ helpers

    def _cors_headers_for(self, request: HttpRequest) -> list[tuple[str, str]]:
        allowed = self._cors_origins
        if allowed is None:
            return []
        origin = request.headers.get("origin")
        if allowed == "*" and not self._cors_credentials:
            return [("Access-Control-Allow-Origin", "*")]
        if origin is None:
            return []
        if allowed == "*":
            ok = True
        elif isinstance(allowed, str):
            ok = origin == allowed
        elif callable(allowed):
            ok = bool(allowed(origin))
        else:
            ok = origin in allowed
        if not ok:
            return []
        headers = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
        if self._cors_credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        return headers

    @staticmethod
    def _error_response(exc: HandshakeError, cors: list[tuple[str, str]]) -> HttpResponse:
        body = orjson.dumps({"code": exc.code, "message": exc.message})
        return HttpResponse(exc.status, body, [("Content-Type", "application/json"), *cors])


class _AdaptedHandler(Generic[StateT]):
    """An :class:`EngineHandler` some of whose methods are not of the kind the server
    calls (an ``async def on_message``, a plain ``def on_connect``): each is run the
    way it needs, its tasks owned here."""

    def __init__(self, handler: EngineHandler[StateT]) -> None:
        self._handler = handler
        self.tasks = TaskOwner()

    async def on_connect(self, socket: EngineSocket[StateT]) -> None:
        result = self._handler.on_connect(socket)
        if inspect.isawaitable(result):
            await result

    def on_message(self, socket: EngineSocket[StateT], data: str | bytes) -> None:
        call_handler(self._handler.on_message, (socket, data), None, self.tasks, "message")

    def on_disconnect(self, socket: EngineSocket[StateT], reason: DisconnectReason) -> None:
        call_handler(self._handler.on_disconnect, (socket, reason), None, self.tasks, "disconnect")


def _adapt_handler(handler: EngineHandler[StateT]) -> EngineHandler[StateT]:
    """Checks the handler when the server is made; adapts sync/async methods to the
    kind the server calls (the Socket.IO server, of the right kinds, is used as is).

    Raises:
        TypeError: a method is missing, or cannot take the arguments it will get.
    """
    shapes = {
        "on_connect": ("on_connect(socket)", 1),
        "on_message": ("on_message(socket, data)", 2),
        "on_disconnect": ("on_disconnect(socket, reason)", 2),
    }
    for name, (right, count) in shapes.items():
        method = getattr(handler, name, None)
        if not callable(method):
            raise TypeError(
                f"an Engine.IO handler needs {right} (plain or async def); "
                f"{type(handler).__name__} has no {name}"
            )
        try:
            inspect.signature(method).bind(*([None] * count))
        except TypeError:
            raise TypeError(
                f"{type(handler).__name__}.{name}{inspect.signature(method)} cannot be "
                f"called as {right}"
            ) from None
        except ValueError:
            pass  # no signature to read (a C callable)
    if (
        inspect.iscoroutinefunction(handler.on_connect)
        and not inspect.iscoroutinefunction(handler.on_message)
        and not inspect.iscoroutinefunction(handler.on_disconnect)
    ):
        return handler
    return _AdaptedHandler(handler)
