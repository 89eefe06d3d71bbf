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
from typing import TYPE_CHECKING, Any

from plexio.aio.handlers import ack_args, call_handler
from plexio.aio.listeners import Listeners
from plexio.exceptions import (
    AckTimeoutError,
    ClientConnectionError,
    ConnectRefusedError,
    DisconnectedError,
    PayloadTooLargeError,
)
from plexio.socketio.packets import Packet, PacketType

if TYPE_CHECKING:
    from plexio.client.manager import Manager

__all__ = ["Auth", "ClientSocket", "Handler"]

logger = logging.getLogger(__name__)

Handler = Callable[..., Any]
#: The CONNECT payload: a dict, or a callable (sync or async) asked on every connection.
Auth = dict[str, Any] | Callable[[], Any] | None
_OnResult = Callable[[BaseException | None, list[Any]], None]


@dataclass(slots=True)
class _Ack:
    on_result: _OnResult
    timer: asyncio.TimerHandle | None
    with_error: bool


@dataclass(slots=True)
class _Queued:
    event: Any
    args: list[Any]
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
        active: whether the socket wants to be connected (it reconnects with the manager).
        auth: the CONNECT payload: a dict, or a callable (maybe async) returning one,
            called again for every (re)connection.
        retries: how many times an unacknowledged event is sent again (``None``: no queue).
        ack_timeout: seconds to wait for each acknowledgement of a queued event.

    Reserved events for :meth:`on`: ``connect`` (no argument), ``connect_error`` (the
    exception: :class:`ConnectRefusedError` with ``message``/``data`` when the server
    refused, :class:`ClientConnectionError` when it could not be reached) and
    ``disconnect`` (the reason, e.g. ``"io server disconnect"``, ``"transport close"``,
    ``"ping timeout"``).
    """

    def __init__(
        self,
        manager: Manager,
        namespace: str = "/",
        *,
        auth: Auth = None,
        retries: int | None = None,
        ack_timeout: float | None = None,
    ) -> None:
        if not namespace.startswith("/"):
            namespace = "/" + namespace
        if retries is not None and retries < 0:
            raise ValueError("retries must be >= 0")
        self.io = manager
        self.namespace = namespace
        self.id: str | None = None
        self.connected = False
        self.active = False
        self.auth = auth
        self.retries = retries
        self.ack_timeout = ack_timeout
        self._init_listeners()
        self._acks: dict[int, _Ack] = {}
        self._next_ack = 0
        self._buffer: list[Packet] = []
        self._queue: deque[_Queued] = deque()
        self._waiters: list[asyncio.Future[None]] = []

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"<ClientSocket {self.namespace} {self.id or '-'} {state}>"

    # ------------------------------------------------------------ listeners

    def _fire(self, event: str, *args: Any) -> None:
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
            ClientConnectionError: the manager gave up reconnecting.
            TimeoutError: ``timeout`` elapsed first.
        """
        if self.connected:
            return self
        future: asyncio.Future[None] | None = None
        if wait:
            future = asyncio.get_running_loop().create_future()
            self._waiters.append(future)
        if not self.active:
            self.active = True
            self.io._attach(self)
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
            self.io._attach(self)
        return self

    async def disconnect(self) -> None:
        """Leaves the namespace; the manager closes its connection if no socket is left."""
        was_connected = self.connected
        if was_connected:
            self._send(Packet.disconnect(self.namespace))
        self.active = False
        self._on_close("io client disconnect")
        self._resolve_waiters(DisconnectedError("disconnected by the client"))
        await self.io._detach(self)

    close = disconnect

    def _send_connect(self) -> None:
        """Sends CONNECT with the current auth (called by the manager once open)."""
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

    async def _send_connect_later(self, pending: Awaitable[Any]) -> None:
        try:
            auth = await pending
        except Exception as exc:
            logger.exception("auth callable of %s failed", self.namespace)
            self._connect_failed(exc)
            return
        self._write_connect(auth)

    def _write_connect(self, auth: Any) -> None:
        if not self.active or self.connected or not self.io.engine_open:
            return
        if auth is not None and not isinstance(auth, dict):
            self._connect_failed(TypeError("auth must be a dict or None"))
            return
        self.io._send_packet(Packet.connect(self.namespace, auth))

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

    def _on_packet(self, packet: Packet) -> None:
        kind = packet.type
        if kind is PacketType.EVENT:
            if self.connected:
                self._on_event(packet.data, packet.ack_id)
            else:
                logger.debug("%s: event before CONNECT reply dropped", self.namespace)
        elif kind is PacketType.ACK:
            assert packet.ack_id is not None
            ack = self._acks.pop(packet.ack_id, None)
            if ack is None:
                logger.debug("%s: unknown ack id %s", self.namespace, packet.ack_id)
                return
            if ack.timer is not None:
                ack.timer.cancel()
            ack.on_result(None, packet.data)
        elif kind is PacketType.CONNECT:
            data = packet.data if isinstance(packet.data, dict) else {}
            self._on_connect(data.get("sid"))
        elif kind is PacketType.CONNECT_ERROR:
            data = packet.data
            if isinstance(data, dict):
                exc = ConnectRefusedError(str(data.get("message", "")), data.get("data"))
            else:
                exc = ConnectRefusedError(str(data))
            # Refused: no automatic retry for this namespace (as the JS client).
            self.active = False
            self._connect_failed(exc)
            self.io._schedule_detach(self)
        elif kind is PacketType.DISCONNECT:
            self.active = False
            self._on_close("io server disconnect")
            self.io._schedule_detach(self)

    def _on_connect(self, sid: Any) -> None:
        self.id = sid if isinstance(sid, str) else None
        self.connected = True
        buffered, self._buffer = self._buffer, []
        for packet in buffered:
            try:
                self._send(packet)
            except PayloadTooLargeError as exc:
                # Buffered while offline, too large for this server: fail it, not the rest.
                logger.warning("%s: buffered %s dropped: %s", self.namespace, packet, exc)
                self._fail_ack(packet.ack_id, exc)
        self._fire("connect")
        self._drain_queue(force=True)
        self._resolve_waiters(None)

    def _on_event(self, data: list[Any], ack_id: int | None) -> None:
        event, args = data[0], tuple(data[1:])
        tasks = self.io.tasks
        for listener in list(self._any):
            call_handler(listener, (event, *args), None, tasks, f"{self.namespace} any")
        handlers = self._handlers.get(event)
        if not handlers:
            return
        done = None if ack_id is None else self._acker(ack_id)
        for i, handler in enumerate(list(handlers)):
            call_handler(
                handler, args, done if i == 0 else None, tasks, f"{self.namespace} {event}"
            )

    def _acker(self, ack_id: int) -> Callable[[Any], None]:
        def done(result: Any) -> None:
            if self.connected:
                self._send(Packet.ack(self.namespace, ack_id, ack_args(result)))

        return done

    def _on_close(self, reason: str) -> None:
        """The namespace is no longer joined (engine closed, server or client disconnect)."""
        was_connected = self.connected
        self.connected = False
        self.id = None
        pending_ids = {p.ack_id for p in self._buffer}
        for ack_id in [i for i in self._acks if i not in pending_ids]:
            ack = self._acks.pop(ack_id)
            if ack.timer is not None:
                ack.timer.cancel()
            if ack.with_error:
                ack.on_result(DisconnectedError(f"socket has been disconnected ({reason})"), [])
        if was_connected:
            self._fire("disconnect", reason)

    # ------------------------------------------------------------ outgoing

    def emit(self, event: Any, *args: Any, callback: Handler | None = None) -> None:
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

            def on_result(err: BaseException | None, ack: list[Any]) -> None:
                call_handler(cb, tuple(ack), None, self.io.tasks, "ack")

        self._emit(event, list(args), on_result, None, volatile=False, with_error=False)

    def send(self, *args: Any, callback: Handler | None = None) -> None:
        """Emits a ``message`` event."""
        self.emit("message", *args, callback=callback)

    async def emit_with_ack(self, event: Any, *args: Any, timeout: float | None = None) -> Any:
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
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def on_result(err: BaseException | None, ack: list[Any]) -> None:
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
        return TimedEmitter(self, seconds)

    @property
    def volatile(self) -> VolatileEmitter:
        """An emitter whose events are dropped, not buffered, when they cannot leave now."""
        return VolatileEmitter(self)

    def _timed_callback(self, callback: Handler) -> _OnResult:
        def on_result(err: BaseException | None, ack: list[Any]) -> None:
            args = (err,) if err is not None else (None, *ack)
            call_handler(callback, args, None, self.io.tasks, "ack")

        return on_result

    def _emit(
        self,
        event: Any,
        args: list[Any],
        on_result: _OnResult | None,
        timeout: float | None,
        *,
        volatile: bool,
        with_error: bool = True,
    ) -> int | None:
        ack_id = None
        if on_result is not None:
            ack_id = self._next_ack
            self._next_ack += 1
        packet = Packet.event(self.namespace, [event, *args], ack_id)
        if volatile and not (self.connected and self.io.engine_open):
            logger.debug("%s: volatile %r dropped", self.namespace, event)
            return None
        if ack_id is not None and on_result is not None:
            timer = None
            if timeout is not None:
                timer = asyncio.get_running_loop().call_later(timeout, self._expire, ack_id)
            self._acks[ack_id] = _Ack(on_result, timer, with_error or timeout is not None)
        if self.connected:
            try:
                self._send(packet)
            except Exception:  # too large, or not encodable: it never left
                self._forget_ack(ack_id)
                raise
        else:
            self._buffer.append(packet)
        return ack_id

    def _expire(self, ack_id: int) -> None:
        ack = self._acks.pop(ack_id, None)
        if ack is None:
            return
        self._buffer = [p for p in self._buffer if p.ack_id != ack_id]
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
        ack = self._acks.pop(ack_id, None)
        if ack is not None and ack.timer is not None:
            ack.timer.cancel()

    def _send(self, packet: Packet) -> None:
        self.io._send_packet(packet)
        if packet.type is PacketType.EVENT and self._any_out:
            data = packet.data
            for listener in list(self._any_out):
                call_handler(listener, tuple(data), None, self.io.tasks, "any outgoing")

    # ------------------------------------------------------------ retry queue

    def _enqueue(self, event: Any, args: list[Any], on_result: _OnResult | None) -> None:
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

        def on_result(err: BaseException | None, ack: list[Any]) -> None:
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

    def _on_manager_failed(self, exc: ClientConnectionError) -> None:
        """The manager could not (re)connect: report it as ``connect_error``."""
        if not self.connected:
            self._fire("connect_error", exc)

    def _on_manager_gave_up(self, exc: ClientConnectionError) -> None:
        """The manager stopped (re)connecting: a later :meth:`connect` starts over."""
        self.active = False
        self._resolve_waiters(exc)


class TimedEmitter:
    """Emits with an acknowledgement deadline (see :meth:`ClientSocket.timeout`)."""

    __slots__ = ("_seconds", "_socket")

    def __init__(self, socket: ClientSocket, seconds: float) -> None:
        if seconds <= 0:
            raise ValueError("timeout must be > 0")
        self._socket = socket
        self._seconds = seconds

    def emit(self, event: Any, *args: Any, callback: Handler | None = None) -> None:
        """Sends an event; ``callback(err, *args)`` gets the ack or an :class:`AckTimeoutError`."""
        sock = self._socket
        on_result = None if callback is None else sock._timed_callback(callback)
        sock._emit(event, list(args), on_result, self._seconds, volatile=False)

    async def emit_with_ack(self, event: Any, *args: Any) -> Any:
        """Sends an event and returns the first ack argument; raises on timeout."""
        return await self._socket.emit_with_ack(event, *args, timeout=self._seconds)


class VolatileEmitter:
    """Emits events dropped when they cannot leave now (see :attr:`ClientSocket.volatile`)."""

    __slots__ = ("_socket",)

    def __init__(self, socket: ClientSocket) -> None:
        self._socket = socket

    def emit(self, event: Any, *args: Any, callback: Handler | None = None) -> None:
        """Sends an event, or drops it if the socket is not connected."""
        sock = self._socket
        on_result = None
        if callback is not None:
            cb = callback

            def on_result(err: BaseException | None, ack: list[Any]) -> None:
                call_handler(cb, tuple(ack), None, sock.io.tasks, "ack")

        sock._emit(event, list(args), on_result, None, volatile=True, with_error=False)
