"""ClientSocket: one namespace of a client connection (layer L3).

Names follow the JavaScript client's ``Socket`` in snake_case, so its documentation
carries over: ``emit``, ``emit_with_ack``, ``timeout``, ``volatile``, ``on``,
``once``, ``off``, ``on_any``, ``on_any_outgoing``, ``connect``, ``disconnect``.

Delivery rules, as in the JavaScript client:

* an event emitted while the socket is not connected is buffered and sent once the
  namespace is (re)connected, in order; a *volatile* event is dropped instead;
* with ``retries``, every emit goes through a queue: one event at a time, each
  waiting for its acknowledgement up to ``ack_timeout`` and sent again (up to
  ``retries`` more times) when none came — at-least-once delivery, the server may
  see duplicates;
* the value a handler returns acknowledges the server's event (a tuple for several
  arguments), as on plexio's server.

Differences from the JavaScript client: an :meth:`ClientSocket.emit_with_ack` pending
when the connection drops fails with :class:`~plexio.exceptions.DisconnectedError`
instead of waiting forever.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, overload

from plexio.aio.handlers import TaskOwner, ack_args, call_handler
from plexio.aio.listeners import Listeners
from plexio.enums import DisconnectReason, Transport
from plexio.exceptions import (
    AckTimeoutError,
    ClientConnectionError,
    ConnectRefusedError,
    DisconnectedError,
    LocalProtocolError,
    PayloadTooLargeError,
)
from plexio.socketio.client import ClientConnection
from plexio.socketio.events import (
    AckReceived,
    ClientNamespaceEvent,
    ConnectAccepted,
    ConnectRefused,
    EventReceived,
    NamespaceClosed,
)
from plexio.socketio.packets import Packet
from plexio.typing import EventName, HandlerT, JSONValue, UserCallback

__all__ = ["Auth", "ClientSocket", "SocketHost"]

logger = logging.getLogger(__name__)

#: The CONNECT payload: a dict, or a callable (sync or async) asked on every connection.
Auth = (
    dict[str, JSONValue]
    | Callable[[], dict[str, JSONValue] | None | Awaitable[dict[str, JSONValue] | None]]
    | None
)
_OnResult = Callable[[BaseException | None, list[JSONValue]], None]


class SocketHost(Protocol):
    """The manager as its sockets see it (:class:`~plexio.client.manager.Manager`).

    Sockets depend on this interface, never on the manager's module, so the two
    modules import each other in one direction only.
    """

    @property
    def tasks(self) -> TaskOwner:
        """Owns the tasks of suspended handlers."""
        ...

    @property
    def connection(self) -> ClientConnection:
        """The Socket.IO core: namespaces, acknowledgements, the encoder."""
        ...

    @property
    def engine_open(self) -> bool:
        """Whether the Engine.IO connection is open now."""
        ...

    @property
    def engine_id(self) -> str | None:
        """The Engine.IO session id while connected."""
        ...

    @property
    def transport(self) -> Transport | None:
        """The Engine.IO transport in use while connected."""
        ...

    @property
    def closed(self) -> bool:
        """Whether the manager was closed."""
        ...

    @overload
    def on(self, event: str) -> Callable[[HandlerT], HandlerT]: ...

    @overload
    def on(self, event: str, handler: HandlerT) -> HandlerT: ...

    def on(self, event: str, handler: UserCallback | None = None) -> object:
        """Registers a manager event handler (``reconnect``, ``close``, ...)."""
        ...

    def write(self, messages: list[str | bytes]) -> None:
        """Hands encoded Engine.IO messages to the connection (dropped when closed)."""
        ...

    def activate(self, sock: ClientSocket) -> None:
        """A socket wants to be connected: open the connection or send its CONNECT."""
        ...

    def release(self, sock: ClientSocket) -> None:
        """A socket stopped being active: close the connection if it was the last."""
        ...

    async def deactivate(self, sock: ClientSocket) -> None:
        """Like :meth:`release`, waiting until the connection is closed."""
        ...

    async def close(self) -> None:
        """Closes the connection and every socket."""
        ...


@dataclass(slots=True)
class _Ack:
    on_result: _OnResult
    timer: asyncio.TimerHandle | None
    with_error: bool


@dataclass(slots=True, frozen=True)
class _Buffered:
    """An event emitted while the namespace was not joined."""

    data: list[JSONValue]
    ack_id: int | None


@dataclass(slots=True)
class _Queued:
    event: EventName
    args: list[JSONValue]
    on_result: _OnResult | None
    tries: int = 0
    pending: bool = False
    ack_id: int | None = None


class ClientSocket(Listeners):
    """One namespace of a :class:`~plexio.client.manager.Manager`'s connection.

    Get one with :meth:`Manager.socket` or :func:`plexio.client.connect`.

    Attributes:
        io: the manager (its Engine.IO connection may be shared by several sockets).
        namespace: the namespace name.
        id: the socket id the server gave on CONNECT, while connected.
        connected: whether the namespace is joined now.
        recovered: whether the last CONNECT restored the previous session (the server
            has connection state recovery on): same :attr:`id`, and the events missed
            while away were delivered.
        active: whether the socket wants to be connected (it reconnects with the manager).
        auth: the CONNECT payload: a dict, or a callable (maybe async) returning one,
            called again for every (re)connection.
        retries: how many times an unacknowledged event is sent again (``None``: no queue).
        ack_timeout: seconds to wait for each acknowledgement of a queued event.

    Reserved events for :meth:`on`: ``connect`` (no argument), ``connect_error`` (the
    exception: :class:`ConnectRefusedError` with ``message``/``data`` when the server
    refused, :class:`ClientConnectionError` when it could not be reached) and
    ``disconnect`` (the reason, a
    :class:`~plexio.enums.DisconnectReason` whose value is the official
    client's string: ``"io server disconnect"``, ``"io client disconnect"``,
    ``"transport close"``, ``"transport error"``, ``"ping timeout"``, ``"parse error"``).
    """

    def __init__(
        self,
        manager: SocketHost,
        namespace: str = "/",
        *,
        auth: Auth = None,
        retries: int | None = None,
        ack_timeout: float | None = None,
    ) -> None:
        if not namespace.startswith("/"):
            namespace = "/" + namespace
        self.io = manager
        self.namespace = namespace
        self.id: str | None = None
        self.connected = False
        self.recovered = False
        self.active = False
        self.auth = auth
        self.retries = retries
        self.ack_timeout = ack_timeout
        self._init_listeners()
        self._acks: dict[int, _Ack] = {}
        self._buffer: list[_Buffered] = []
        self._queue: deque[_Queued] = deque()
        self._waiters: list[asyncio.Future[None]] = []

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"<ClientSocket {self.namespace} {self.id or '-'} {state}>"

    @property
    def retries(self) -> int | None:
        """How many times an unacknowledged event is sent again (``None``: no queue)."""
        return self._retries

    @retries.setter
    def retries(self, value: int | None) -> None:
        if value is not None and value < 0:
            raise ValueError("retries must be >= 0")
        self._retries = value

    @property
    def ack_timeout(self) -> float | None:
        """Seconds each try of a queued event waits for its acknowledgement."""
        return self._ack_timeout

    @ack_timeout.setter
    def ack_timeout(self, value: float | None) -> None:
        if value is not None and value <= 0:
            raise ValueError("ack_timeout must be > 0")
        self._ack_timeout = value

    @property
    def pending_acks(self) -> int:
        """How many acknowledgements of the server are still awaited."""
        return len(self._acks)

    # ------------------------------------------------------------ listeners

    def _fire(self, event: str, *args: JSONValue) -> None:
        for handler in list(self._handlers.get(event, ())):
            call_handler(handler, args, None, self.io.tasks, f"{self.namespace} {event}")

    # ------------------------------------------------------------ connection

    async def connect(self, *, wait: bool = True, timeout: float | None = None) -> ClientSocket:
        """Joins the namespace, opening the manager's connection if needed.

        Args:
            wait: wait until the server accepted (or refused) the CONNECT.
            timeout: seconds to wait (``None``: as long as the manager keeps trying).

        Returns:
            This socket.

        Raises:
            ConnectRefusedError: the server refused the namespace (its middleware
                raised, or the namespace does not exist).
            ClientConnectionError: the manager gave up reconnecting (the error says
                why, and its ``__cause__`` is the last failure).
            TimeoutError: ``timeout`` elapsed first.
        """
        if self.connected:
            return self
        future: asyncio.Future[None] | None = None
        if wait:
            future = asyncio.get_running_loop().create_future()
            self._waiters.append(future)
        self.open()
        if future is None:
            return self
        try:
            async with asyncio.timeout(timeout):
                await future
        finally:
            if future in self._waiters:
                self._waiters.remove(future)
        return self

    def open(self) -> ClientSocket:
        """Starts joining the namespace without waiting (like the JS ``socket.open()``)."""
        if not self.active:
            self.active = True
            self.io.activate(self)
        return self

    async def disconnect(self) -> None:
        """Leaves the namespace; the manager closes its connection if no socket is left."""
        messages, closed = self.io.connection.disconnect(self.namespace)
        self.io.write(messages)
        self.active = False
        if closed is not None:
            self._on_closed(closed)
        self._resolve_waiters(DisconnectedError("disconnected by the client"))
        await self.io.deactivate(self)

    close = disconnect

    def engine_opened(self) -> None:
        """Sends CONNECT with the current auth (the manager calls it once open)."""
        auth = self.auth
        if callable(auth):
            try:
                result = auth()
            except Exception as exc:
                logger.exception("auth callable of %s failed", self.namespace)
                self._connect_failed(exc)
                return
            if inspect.isawaitable(result):
                self.io.tasks.spawn(self._send_connect_later(result))
                return
            auth = result
        self._write_connect(auth)

    async def _send_connect_later(self, pending: Awaitable[object]) -> None:
        try:
            auth = await pending
        except Exception as exc:
            logger.exception("auth callable of %s failed", self.namespace)
            self._connect_failed(exc)
            return
        self._write_connect(auth)

    def _write_connect(self, auth: object) -> None:
        if not self.active or self.connected or not self.io.engine_open:
            return
        if auth is not None and not isinstance(auth, dict):
            self._connect_failed(TypeError("auth must be a dict or None"))
            return
        self.io.write(self.io.connection.connect(self.namespace, auth))

    def _connect_failed(self, exc: BaseException) -> None:
        self._fire("connect_error", exc)
        self._resolve_waiters(exc)

    def _resolve_waiters(self, exc: BaseException | None) -> None:
        waiters, self._waiters = self._waiters, []
        for future in waiters:
            if not future.done():
                if exc is None:
                    future.set_result(None)
                else:
                    future.set_exception(exc)

    # ------------------------------------------------------------ incoming

    def handle(self, event: ClientNamespaceEvent) -> None:
        """Acts on what the Socket.IO core reported for this namespace (the manager calls it)."""
        if isinstance(event, EventReceived):
            self._on_event(event.name, event.args, event.ack_id)
        elif isinstance(event, AckReceived):
            ack = self._acks.pop(event.ack_id, None)
            if ack is None:
                return
            if ack.timer is not None:
                ack.timer.cancel()
            ack.on_result(None, event.args)
        elif isinstance(event, ConnectAccepted):
            self._on_connect(event)
        elif isinstance(event, ConnectRefused):
            # Refused: no automatic retry for this namespace (as the JS client).
            self.active = False
            self._connect_failed(ConnectRefusedError(event.message, event.data))
            self.io.release(self)
        else:
            self._on_closed(event)
            if not self.active:
                return
            if event.reason == DisconnectReason.IO_SERVER_DISCONNECT:
                self.active = False
                self.io.release(self)

    def _on_connect(self, accepted: ConnectAccepted) -> None:
        # The official client's order: joined, events that came before the reply (a
        # recovered session's missed ones), buffered emits, the retry queue, "connect".
        self.id = accepted.sid
        self.recovered = accepted.recovered
        self.connected = True
        for early in accepted.events:
            self._on_event(early.name, early.args, early.ack_id)
        buffered, self._buffer = self._buffer, []
        for item in buffered:
            try:
                self._send_event(item.data, item.ack_id)
            except (PayloadTooLargeError, LocalProtocolError) as exc:
                # Buffered while offline, not sendable now: fail it, not the rest.
                logger.warning("%s: buffered %r dropped: %s", self.namespace, item.data[0], exc)
                self._fail_ack(item.ack_id, exc)
        self._drain_queue(force=True)
        self._fire("connect")
        self._resolve_waiters(None)

    def _on_event(self, event: EventName, args: list[JSONValue], ack_id: int | None) -> None:
        tasks = self.io.tasks
        for listener in list(self._any):
            call_handler(listener, (event, *args), None, tasks, f"{self.namespace} any")
        handlers = self._handlers.get(event)
        if not handlers:
            return
        done = None if ack_id is None else self._acker(ack_id)
        for i, handler in enumerate(list(handlers)):
            call_handler(
                handler, tuple(args), done if i == 0 else None, tasks, f"{self.namespace} {event}"
            )

    def _acker(self, ack_id: int) -> Callable[[object], None]:
        def done(result: object) -> None:
            if self.connected:
                connection = self.io.connection
                self.io.write(connection.send_ack(self.namespace, ack_id, ack_args(result)))

        return done

    def _on_closed(self, closed: NamespaceClosed) -> None:
        """The namespace is no longer joined: fail what will never be answered."""
        self.connected = False
        self.id = None
        for ack_id in closed.unanswered:
            ack = self._acks.pop(ack_id, None)
            if ack is None:
                continue
            if ack.timer is not None:
                ack.timer.cancel()
            if ack.with_error:
                error = DisconnectedError(f"socket has been disconnected ({closed.reason})")
                ack.on_result(error, [])
        self._fire("disconnect", closed.reason)

    # ------------------------------------------------------------ outgoing

    def emit(
        self, event: EventName, *args: JSONValue, callback: UserCallback | None = None
    ) -> None:
        """Sends an event (buffered while disconnected).

        Args:
            event: the event name.
            *args: JSON values or bytes.
            callback: called with the server's acknowledgement arguments (with
                ``retries`` set: ``callback(err, *args)``, ``err`` being ``None`` or
                the final :class:`AckTimeoutError`).

        Raises:
            LocalProtocolError: a reserved event name or unserialisable data.
            PayloadTooLargeError: the event is larger than the server's ``maxPayload``
                (nothing was sent; the connection is unharmed).
        """
        if self.retries is not None:
            on_result = None if callback is None else self._timed_callback(callback)
            self._enqueue(event, list(args), on_result)
            return
        on_result = None
        if callback is not None:
            cb = callback

            def on_result(err: BaseException | None, ack: list[JSONValue]) -> None:
                call_handler(cb, tuple(ack), None, self.io.tasks, "ack")

        self._emit(event, list(args), on_result, None, volatile=False, with_error=False)

    def send(self, *args: JSONValue, callback: UserCallback | None = None) -> None:
        """Emits a ``message`` event."""
        self.emit("message", *args, callback=callback)

    async def emit_with_ack(
        self, event: EventName, *args: JSONValue, timeout: float | None = None
    ) -> JSONValue:
        """Sends an event and waits for its acknowledgement.

        Args:
            event: the event name.
            *args: JSON values or bytes.
            timeout: seconds to wait (``None``: no limit; with ``retries`` set, each
                try waits ``ack_timeout``).

        Returns:
            The first acknowledgement argument (``None`` if there was none).

        Raises:
            AckTimeoutError: no acknowledgement in time (after every retry).
            DisconnectedError: the connection dropped before the acknowledgement.
        """
        future: asyncio.Future[JSONValue] = asyncio.get_running_loop().create_future()

        def on_result(err: BaseException | None, ack: list[JSONValue]) -> None:
            if future.done():
                return
            if err is not None:
                future.set_exception(err)
            else:
                future.set_result(ack[0] if ack else None)

        if self.retries is not None and timeout is None:
            self._enqueue(event, list(args), on_result)
        else:
            ack_id = self._emit(event, list(args), on_result, timeout, volatile=False)
            future.add_done_callback(lambda f: self._forget_ack(ack_id) if f.cancelled() else None)
        return await future

    def timeout(self, seconds: float) -> TimedEmitter:
        """An emitter whose acknowledgements fail with :class:`AckTimeoutError` after ``seconds``.

        ``sock.timeout(5).emit("ev", x, callback=cb)`` calls ``cb(err, *args)``;
        ``await sock.timeout(5).emit_with_ack("ev", x)`` raises on timeout.
        """
        if seconds <= 0:
            raise ValueError("timeout must be > 0")
        return TimedEmitter(seconds, self._emit_timed, self.emit_with_ack)

    @property
    def volatile(self) -> VolatileEmitter:
        """An emitter whose events are dropped, not buffered, when they cannot leave now."""
        return VolatileEmitter(self._emit_volatile)

    def _emit_timed(
        self, seconds: float, event: EventName, args: list[JSONValue], callback: UserCallback | None
    ) -> None:
        on_result = None if callback is None else self._timed_callback(callback)
        self._emit(event, args, on_result, seconds, volatile=False)

    def _emit_volatile(
        self, event: EventName, args: list[JSONValue], callback: UserCallback | None
    ) -> None:
        on_result = None
        if callback is not None:
            cb = callback

            def on_result(err: BaseException | None, ack: list[JSONValue]) -> None:
                call_handler(cb, tuple(ack), None, self.io.tasks, "ack")

        self._emit(event, args, on_result, None, volatile=True, with_error=False)

    def _timed_callback(self, callback: UserCallback) -> _OnResult:
        def on_result(err: BaseException | None, ack: list[JSONValue]) -> None:
            args = (err,) if err is not None else (None, *ack)
            call_handler(callback, args, None, self.io.tasks, "ack")

        return on_result

    def _emit(
        self,
        event: EventName,
        args: list[JSONValue],
        on_result: _OnResult | None,
        timeout: float | None,
        *,
        volatile: bool,
        with_error: bool = True,
    ) -> int | None:
        data = [event, *args]
        if volatile and not (self.connected and self.io.engine_open):
            Packet.event(self.namespace, data)  # the same mistakes raise, sent or not
            logger.debug("%s: volatile %r dropped", self.namespace, event)
            return None
        ack_id = None if on_result is None else self.io.connection.allocate_ack_id()
        if not self.connected:
            Packet.event(self.namespace, data, ack_id)  # validate now, in the caller
        if ack_id is not None and on_result is not None:
            timer = None
            if timeout is not None:
                timer = asyncio.get_running_loop().call_later(timeout, self._expire, ack_id)
            self._acks[ack_id] = _Ack(on_result, timer, with_error or timeout is not None)
        if self.connected:
            try:
                self._send_event(data, ack_id)
            except Exception:  # too large, or not encodable: it never left
                self._forget_ack(ack_id)
                raise
        else:
            self._buffer.append(_Buffered(data, ack_id))
        return ack_id

    def _expire(self, ack_id: int) -> None:
        ack = self._acks.pop(ack_id, None)
        if ack is None:
            return
        self._buffer = [p for p in self._buffer if p.ack_id != ack_id]
        self.io.connection.forget_ack(self.namespace, ack_id)
        ack.on_result(AckTimeoutError(), [])

    def _fail_ack(self, ack_id: int | None, exc: BaseException) -> None:
        ack = None if ack_id is None else self._acks.pop(ack_id, None)
        if ack is not None:
            if ack.timer is not None:
                ack.timer.cancel()
            ack.on_result(exc, [])

    def _forget_ack(self, ack_id: int | None) -> None:
        if ack_id is None:
            return
        self.io.connection.forget_ack(self.namespace, ack_id)
        ack = self._acks.pop(ack_id, None)
        if ack is not None and ack.timer is not None:
            ack.timer.cancel()

    def _send_event(self, data: list[JSONValue], ack_id: int | None) -> None:
        """Encodes an EVENT through the Socket.IO core and hands it to the connection.

        Raises:
            LocalProtocolError: the data cannot be encoded.
            PayloadTooLargeError: it is larger than the server accepts.
        """
        connection = self.io.connection
        messages = connection.send_event(self.namespace, data, ack_id)
        try:
            self.io.write(messages)
        except PayloadTooLargeError:
            if ack_id is not None:
                connection.forget_ack(self.namespace, ack_id)
            raise
        if self._any_out:
            for listener in list(self._any_out):
                call_handler(listener, tuple(data), None, self.io.tasks, "any outgoing")

    # ------------------------------------------------------------ retry queue

    def _enqueue(
        self, event: EventName, args: list[JSONValue], on_result: _OnResult | None
    ) -> None:
        Packet.event(self.namespace, [event, *args])  # validate now, in the caller
        self._queue.append(_Queued(event, args, on_result))
        self._drain_queue()

    def _drain_queue(self, force: bool = False) -> None:
        if not self.connected or not self._queue:
            return
        item = self._queue[0]
        # Forced on (re)connect, but not when the try in flight is still awaited (it was
        # buffered while offline and has just been flushed): that would send it twice.
        if item.pending and (not force or item.ack_id in self._acks):
            return
        item.pending = True
        item.tries += 1

        def on_result(err: BaseException | None, ack: list[JSONValue]) -> None:
            if not self._queue or self._queue[0] is not item:
                return  # a stale answer to an earlier try
            if err is not None and self.retries is not None and item.tries <= self.retries:
                item.pending = False
                self._drain_queue()
                return
            self._queue.popleft()
            if item.on_result is not None:
                item.on_result(err, ack)
            self._drain_queue()

        try:
            item.ack_id = self._emit(
                item.event, item.args, on_result, self.ack_timeout, volatile=False
            )
        except PayloadTooLargeError as exc:
            # Retrying cannot help: report it to this emit and go on with the queue.
            self._queue.popleft()
            if item.on_result is not None:
                item.on_result(exc, [])
            self._drain_queue()

    # ------------------------------------------------------------ manager side

    def connect_failed(self, exc: ClientConnectionError) -> None:
        """The manager could not (re)connect: report it as ``connect_error``."""
        if not self.connected:
            self._fire("connect_error", exc)

    def gave_up(self, exc: ClientConnectionError) -> None:
        """The manager stopped (re)connecting: a later :meth:`connect` starts over."""
        self.active = False
        self._resolve_waiters(exc)


_EmitTimed = Callable[[float, EventName, list[JSONValue], UserCallback | None], None]
_EmitWithAck = Callable[..., Awaitable[JSONValue]]
_EmitVolatile = Callable[[EventName, list[JSONValue], UserCallback | None], None]


class TimedEmitter:
    """Emits with an acknowledgement deadline (see :meth:`ClientSocket.timeout`)."""

    __slots__ = ("_emit", "_emit_with_ack", "_seconds")

    def __init__(self, seconds: float, emit: _EmitTimed, emit_with_ack: _EmitWithAck) -> None:
        self._seconds = seconds
        self._emit = emit
        self._emit_with_ack = emit_with_ack

    def emit(
        self, event: EventName, *args: JSONValue, callback: UserCallback | None = None
    ) -> None:
        """Sends an event; ``callback(err, *args)`` gets the ack or an :class:`AckTimeoutError`."""
        self._emit(self._seconds, event, list(args), callback)

    async def emit_with_ack(self, event: EventName, *args: JSONValue) -> JSONValue:
        """Sends an event and returns the first ack argument; raises on timeout."""
        return await self._emit_with_ack(event, *args, timeout=self._seconds)


class VolatileEmitter:
    """Emits events dropped when they cannot leave now (see :attr:`ClientSocket.volatile`)."""

    __slots__ = ("_emit",)

    def __init__(self, emit: _EmitVolatile) -> None:
        self._emit = emit

    def emit(
        self, event: EventName, *args: JSONValue, callback: UserCallback | None = None
    ) -> None:
        """Sends an event, or drops it if the socket is not connected."""
        self._emit(event, list(args), callback)
