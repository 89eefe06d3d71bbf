"""ServerSocket: one client in one namespace (layer L3).

Public names follow the JavaScript server's ``Socket`` in snake_case, so its
documentation carries over: ``emit``, ``emit_with_ack``, ``timeout``, ``join``,
``leave``, ``to``, ``broadcast``, ``on_any``, ``disconnect``...
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar, overload

from plexio.aio.handlers import call_handler
from plexio.aio.listeners import Listeners
from plexio.enums import DisconnectReason, Transport
from plexio.exceptions import AckTimeoutError, DisconnectedError
from plexio.server.adapters.base import Adapter
from plexio.server.broadcast import (
    BroadcastOperator,
    BroadcastOptions,
    check_event_name,
    flatten_rooms,
)
from plexio.server.connection import Connection
from plexio.server.recovery import RECOVERABLE_REASONS, SavedSession
from plexio.server.signatures import (
    Ack,
    HandlerSpec,
    OutgoingSpec,
    PayloadValidationError,
    check_callable_with,
    check_reply,
    hold,
    release,
    special_handlers,
)
from plexio.socketio.packets import Packet
from plexio.typing import EventName, JSONValue, UserCallback

__all__ = ["UserAckCallback", "Handshake", "ServerSocket", "SocketNamespace", "handshake_of"]

logger = logging.getLogger(__name__)
_SPECIAL = special_handlers()

#: An application's ack callback: called with the client's ack arguments, spread.
UserAckCallback = Callable[..., object]
_T = TypeVar("_T")
#: A per-packet middleware ``middleware(packet)`` (``packet`` = ``[event, *args]``).
PacketMiddleware = TypeVar("PacketMiddleware", bound=Callable[[list[JSONValue]], object])


class SocketNamespace(Protocol):
    """What a socket needs from its namespace (:class:`plexio.server.namespace.Namespace`)."""

    @property
    def name(self) -> str:
        """The namespace name."""
        ...

    @property
    def adapter(self) -> Adapter:
        """Its room index / cluster hook."""
        ...

    @property
    def handlers(self) -> dict[str, list[UserCallback]]:
        """Namespace-level handlers by event."""
        ...

    def remove_socket(self, socket: ServerSocket) -> None:
        """The socket ended: the namespace forgets it."""
        ...

    def invalid_payload_ack(self, error: PayloadValidationError) -> JSONValue:
        """The acknowledgement answering a payload that failed validation."""
        ...

    @property
    def outgoing(self) -> dict[str, OutgoingSpec]:
        """Declared outgoing events (empty while none is: the emit fast path)."""
        ...


@dataclass(slots=True)
class Handshake:
    """What the client sent when it joined the namespace (``socket.handshake``)."""

    headers: dict[str, str]
    query: dict[str, str]
    auth: dict[str, JSONValue]
    address: str
    time: str
    issued: int
    url: str
    secure: bool
    xdomain: bool = False
    extra: dict[str, JSONValue] = field(default_factory=dict)


#: The last handshake time formatted: (second since the epoch, text). Connections of
#: one second share it (formatting the local time costs more than the rest of a
#: socket's handshake).
_last_time: tuple[int, str] = (-1, "")


def _format_time(issued: int) -> str:
    global _last_time
    second = issued // 1000
    last = _last_time
    if last[0] == second:
        return last[1]
    text = time.strftime("%a %b %d %Y %H:%M:%S GMT%z", time.localtime(second))
    _last_time = (second, text)
    return text


def handshake_of(conn: Connection, auth: dict[str, JSONValue]) -> Handshake:
    """The handshake of a socket of ``conn`` whose CONNECT carried ``auth``."""
    request = conn.engine.request
    client = request.client
    issued = conn.issued
    query_string = request.query_string
    return Handshake(
        request.headers,
        request.query,
        auth,
        client[0] if client else "",
        _format_time(issued),
        issued,
        request.path + "?" + query_string if query_string else request.path,
        request.secure,
        "origin" in request.headers,
    )


class _Pending:
    __slots__ = ("callback", "timer", "future", "on_error")

    def __init__(
        self,
        callback: Callable[[list[JSONValue]], None],
        timer: asyncio.TimerHandle | None,
        future: asyncio.Future[list[JSONValue]] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ):
        self.callback = callback
        self.timer = timer
        self.future = future
        self.on_error = on_error


class ServerSocket(Listeners):
    """One client connected to one namespace.

    Attributes:
        id: the socket id (distinct from the Engine.IO session id).
        nsp: the namespace.
        handshake: headers, query, auth, address, time, url, secure.
        data: free storage shared with ``fetch_sockets`` (JSON-able in a cluster).
        connected: whether the socket is still connected.
        recovered: whether connection state recovery gave this socket back its id,
            rooms, data and missed events.
        pid: the private session id of connection state recovery (``None`` when off).

    Reserved events for :meth:`on`: ``disconnecting`` (the reason; rooms still
    visible), ``disconnect`` (the reason) and ``error`` (an exception raised by a
    per-packet middleware). As for namespace-level handlers, a parameter of an
    :meth:`on` (or :meth:`once`) handler annotated :class:`~plexio.Ack` receives the
    acknowledgement function, and one annotated with a model is validated first (a
    payload that fails validation does not call, so does not use up, a ``once``
    handler).
    """

    __slots__ = (
        "id",
        "nsp",
        "conn",
        "_handshake",
        "_auth",
        "data",
        "connected",
        "recovered",
        "pid",
        "_packet_mw",
        "_acks",
        "_ended",
        "_held",
        "__weakref__",
    )

    def __init__(
        self,
        nsp: SocketNamespace,
        conn: Connection,
        sid: str,
        handshake: Handshake | None = None,
        *,
        auth: dict[str, JSONValue] | None = None,
    ) -> None:
        """
        Args:
            nsp: the namespace.
            conn: the client's connection.
            sid: the socket id.
            handshake: what the client sent; ``None``: made from the connection's
                handshake request and ``auth`` when first read (most applications
                never read it).
            auth: the CONNECT's auth, for a handshake made when first read.
        """
        self.id = sid
        self.nsp = nsp
        self.conn = conn
        self._handshake = handshake
        self._auth = auth
        self.data: dict[str, JSONValue] = {}
        self.connected = False
        self.recovered = False
        self.pid: str | None = None
        self._init_listeners()
        self._packet_mw: tuple[UserCallback, ...] = ()  # rare: no list per socket
        self._acks: dict[int, _Pending] = {}
        self._ended = False
        self._held: tuple[UserCallback, ...] = ()  # special handlers registered here

    def __repr__(self) -> str:
        return f"<ServerSocket {self.id} {self.nsp.name}>"

    # ------------------------------------------------------------ properties

    @property
    def handshake(self) -> Handshake:
        """Headers, query, auth, address, time, url, secure of the client's connection."""
        shake = self._handshake
        if shake is None:
            auth = self._auth
            shake = self._handshake = handshake_of(self.conn, {} if auth is None else auth)
            self._auth = None
        return shake

    @handshake.setter
    def handshake(self, handshake: Handshake) -> None:
        self._handshake = handshake
        self._auth = None

    @property
    def rooms(self) -> set[str]:
        """The rooms this socket is in (its own id room included)."""
        return self.nsp.adapter.socket_rooms(self.id)

    @property
    def sid(self) -> str:
        """Alias of :attr:`id`."""
        return self.id

    @property
    def namespace_name(self) -> str:
        """The name of this socket's namespace."""
        return self.nsp.name

    @property
    def transport(self) -> Transport:
        """The Engine.IO transport in use."""
        return self.conn.engine.transport

    @property
    def pending_acks(self) -> int:
        """How many acknowledgements of this socket's client are still awaited."""
        return len(self._acks)

    # ------------------------------------------------------------ listeners

    def use(self, middleware: PacketMiddleware) -> PacketMiddleware:
        """Adds a per-packet middleware ``middleware(args)`` (``args`` = [event, ...]).

        Raising refuses the packet: the socket's ``error`` handlers get the exception.
        May be a coroutine function. The JavaScript ``(packet, next)`` form is refused
        here, with a message showing this one.

        Raises:
            TypeError: ``middleware`` cannot be called with one argument.
        """
        check_callable_with(middleware, 1, "socket.use", "middleware(packet)")
        self._packet_mw = (*self._packet_mw, middleware)
        return middleware

    def _registering(self, event: EventName, handler: UserCallback) -> None:
        # A handler taking the Ack or validated payloads is held while this socket lives.
        if event not in ("disconnecting", "disconnect", "error") and isinstance(event, str):
            if hold(handler, event) is not None:
                if self._ended:
                    release(handler)  # never dispatched now: nothing to keep
                else:
                    self._held = (*self._held, handler)

    # ------------------------------------------------------------ rooms

    def join(self, *rooms: str | Iterable[str]) -> None:
        """Joins rooms (ignored once the socket has disconnected).

        A connection middleware may join rooms before the socket is connected.
        """
        if self._ended:
            # e.g. an async handler that resumes after the client left: joining now
            # would leave the id in the room index for ever
            logger.debug("socket %s: join after disconnect ignored", self.id)
            return
        self.nsp.adapter.add_all(self.id, flatten_rooms(rooms))

    def leave(self, room: str) -> None:
        """Leaves a room."""
        self.nsp.adapter.delete(self.id, room)

    # ------------------------------------------------------------ emitting

    def emit(self, event: str, *args: JSONValue, callback: UserAckCallback | None = None) -> None:
        """Sends an event to this client.

        Args:
            event: the event name (reserved names are refused).
            args: JSON-able values, ``bytes`` anywhere for binary.
            callback: called with the client's ack arguments.

        Raises:
            ValueError: a reserved event name.
        """
        self._emit(event, args, callback, None, False)

    def send(self, *args: JSONValue) -> None:
        """Emits a ``message`` event."""
        self._emit("message", args, None, None, False)

    @overload
    async def emit_with_ack(self, event: str, *args: JSONValue) -> JSONValue: ...

    @overload
    async def emit_with_ack(self, event: str, *args: JSONValue, returns: type[_T]) -> _T: ...

    async def emit_with_ack(
        self, event: str, *args: JSONValue, returns: type[object] | None = None
    ) -> object:
        """Sends an event and waits for the client's ack; returns its first argument.

        Args:
            event: the event name.
            args: its arguments.
            returns: the type the answer must have (a class, or with pydantic a model,
                dataclass, ``TypedDict``...): the answer is checked, converted, and
                typed as such.

        Raises:
            DisconnectedError: the socket disconnected first.
            PayloadValidationError: the answer does not fit ``returns``.
        """
        answer = await self.emit_awaiting_ack(event, args)
        return answer if returns is None else check_reply(event, answer, returns)

    def timeout(self, seconds: float) -> _TimedSocket:
        """An emitter whose acks fail with :class:`AckTimeoutError` after ``seconds``.

        Raises:
            ValueError: ``seconds`` is not > 0 (as on the client).
        """
        if seconds <= 0:
            raise ValueError("timeout must be > 0")
        return _TimedSocket(self, seconds)

    @property
    def volatile(self) -> _VolatileSocket:
        """An emitter whose events may be dropped when the client is not ready."""
        return _VolatileSocket(self)

    def compress(self, compress: bool) -> _CompressFlagged:
        """An emitter whose events the transport may (``True``, the default) or may not
        compress: ``socket.compress(False).emit(...)`` as in JavaScript."""
        return _CompressFlagged(self, compress)

    def emit_flagged(
        self,
        event: str,
        args: tuple[JSONValue, ...],
        callback: UserAckCallback | None = None,
        *,
        timeout: float | None = None,
        volatile: bool = False,
        compress: bool = True,
    ) -> None:
        """Emits with per-emit flags: what ``timeout()``, ``volatile`` and ``compress()``
        return call (``callback(err, *ack_args)`` when ``timeout`` is set)."""
        self._emit(event, args, callback, timeout, volatile, None, compress)

    async def emit_awaiting_ack(
        self,
        event: str,
        args: tuple[JSONValue, ...],
        *,
        timeout: float | None = None,
        compress: bool = True,
    ) -> JSONValue:
        """Emits with per-emit flags and returns the ack's first argument (``None`` for
        an ack without one).

        Raises:
            DisconnectedError: the socket disconnected first.
            AckTimeoutError: no ack within ``timeout`` seconds.
        """
        future: asyncio.Future[list[JSONValue]] = asyncio.get_running_loop().create_future()

        def done(*ack: JSONValue) -> None:
            if not future.done():
                future.set_result(list(ack))

        self._emit(event, args, done, timeout, False, future, compress)
        result = await future
        return result[0] if result else None

    def _emit(
        self,
        event: str,
        args: tuple[JSONValue, ...],
        callback: UserAckCallback | None,
        timeout: float | None,
        volatile: bool,
        future: asyncio.Future[list[JSONValue]] | None = None,
        compress: bool = True,
    ) -> None:
        check_event_name(event)
        outgoing = self.nsp.outgoing
        if outgoing:
            declared = outgoing.get(event)
            if declared is not None:
                args = declared.prepare(args)
        if not self.connected:
            if future is not None:
                future.set_exception(DisconnectedError("socket is disconnected"))
            return
        conn = self.conn
        name = self.nsp.name
        data: list[JSONValue] = [event, *args]
        if callback is None:
            if self.pid is not None and not volatile:
                # connection state recovery: the event gets an offset and is kept
                # (aimed at this socket's own room) in case the transport drops before
                # it arrives; encoded first, so data that cannot be serialised raises
                # before anything is kept
                adapter = self.nsp.adapter
                offset = adapter.new_offset()
                data.append(offset)
                messages = conn.encode_event(name, data)
                adapter.store_packet(
                    offset, Packet.event(name, data), BroadcastOptions(rooms=frozenset((self.id,)))
                )
            else:
                messages = conn.encode_event(name, data)
        else:
            ack_id = conn.allocate_ack_id()
            # Encode before expecting the ack: data that cannot be serialised raises here
            # and leaves no pending ack behind.
            messages = conn.encode_event(name, data, ack_id)
            self._expect_ack(ack_id, callback, timeout, future)
        for listener in self._any_out:
            call_handler(listener, (event, *args), None, conn.tasks, "on_any_outgoing")
        conn.write(messages, volatile, compress)

    def _expect_ack(
        self,
        ack_id: int,
        callback: UserAckCallback,
        timeout: float | None,
        future: asyncio.Future[list[JSONValue]] | None = None,
    ) -> None:
        timer = None
        if timeout is not None:
            loop = asyncio.get_running_loop()

            def expire() -> None:
                pending = self._acks.pop(ack_id, None)
                if pending is None:
                    return
                if future is not None:
                    if not future.done():
                        future.set_exception(AckTimeoutError())
                else:
                    call_handler(
                        callback, (AckTimeoutError(),), None, self.conn.tasks, "ack timeout"
                    )

            timer = loop.call_later(timeout, expire)

        on_error = None
        if timeout is not None and future is None:

            def on_ack(args: list[JSONValue]) -> None:
                call_handler(callback, (None, *args), None, self.conn.tasks, "ack")

            def on_error(exc: BaseException) -> None:
                call_handler(callback, (exc,), None, self.conn.tasks, "ack error")

        else:

            def on_ack(args: list[JSONValue]) -> None:
                call_handler(callback, tuple(args), None, self.conn.tasks, "ack")

        self._acks[ack_id] = _Pending(on_ack, timer, future, on_error)
        if future is not None:
            future.add_done_callback(lambda _f: self._drop_ack(ack_id))

    def _drop_ack(self, ack_id: int) -> None:
        pending = self._acks.pop(ack_id, None)
        if pending is not None and pending.timer is not None:
            pending.timer.cancel()

    def register_ack(self, ack_id: int, callback: Callable[[list[JSONValue]], None]) -> None:
        """Expects an ack for a broadcast packet (the adapter's broadcast with acks)."""
        self._acks[ack_id] = _Pending(callback, None)

    def forget_ack(self, ack_id: int) -> None:
        """Stops expecting ``ack_id`` (a broadcast's acks timed out)."""
        self._acks.pop(ack_id, None)

    # ------------------------------------------------------------ broadcasting

    def _operator(self) -> BroadcastOperator:
        return BroadcastOperator(
            self.nsp.adapter, self.nsp.name, BroadcastOptions(except_rooms=frozenset((self.id,)))
        )

    @property
    def broadcast(self) -> BroadcastOperator:
        """Every socket of the namespace except this one."""
        return self._operator()

    def to(self, room: str | Iterable[str]) -> BroadcastOperator:
        """Sockets in ``room``, except this one."""
        return self._operator().to(room)

    in_ = to

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator:
        """Every socket except this one and those in ``room``."""
        return self._operator().except_(room)

    # ------------------------------------------------------------ incoming

    def deliver_event(self, event: EventName, params: list[JSONValue], ack_id: int | None) -> None:
        """An EVENT from the client (called by its connection): runs the listeners."""
        # Catch-all listeners see every incoming event, before the per-packet
        # middleware may refuse it (as the JS server's onAny).
        if self._any:
            for listener in list(self._any):
                call_handler(listener, (event, *params), None, self.conn.tasks, "on_any")
        if self._packet_mw:
            call_handler(
                self._run_packet_middleware,
                ([event, *params], ack_id),
                None,
                self.conn.tasks,
                "middleware",
            )
            return
        self._dispatch(event, params, ack_id)

    async def _run_packet_middleware(self, args: list[JSONValue], ack_id: int | None) -> None:
        # The middleware sees (and may change) the packet as [event, *args], as in JS.
        for middleware in list(self._packet_mw):
            try:
                result = middleware(args)
                if asyncio.iscoroutine(result):
                    await result
            except Exception as exc:
                self._fire("error", (exc,))
                return
        if self.connected and args:
            self._dispatch(args[0], args[1:], ack_id)

    def _dispatch(self, event: EventName, params: list[JSONValue], ack_id: int | None) -> None:
        if type(event) is not str:
            return  # numeric event names reach only the catch-all listeners
        tasks = self.conn.tasks
        done: Callable[[object], None] | None = None
        if ack_id is not None:
            answer = ack_id

            def done(result: object) -> None:
                # the return value as acknowledgement arguments (see aio.ack_args)
                if self.connected:
                    self.conn.send_ack(
                        self.nsp.name,
                        answer,
                        []
                        if result is None
                        else list(result)
                        if isinstance(result, tuple)
                        else [result],
                    )

        special = _SPECIAL
        handlers = self._handlers.get(event)
        if handlers:
            for handler in list(handlers):
                if special and handler in special:
                    spec = special[handler]
                    self._call_special(handler, spec, event, params, ack_id, done, False)
                else:
                    call_handler(handler, tuple(params), done, tasks, event)
                done = None
        ns_handlers = self.nsp.handlers.get(event)
        if ns_handlers:
            for handler in ns_handlers:
                if special and handler in special:
                    self._call_special(handler, special[handler], event, params, ack_id, done)
                else:
                    call_handler(handler, (self, *params), done, tasks, event)
                done = None

    def _call_special(
        self,
        handler: UserCallback,
        spec: HandlerSpec,
        event: str,
        params: list[JSONValue],
        ack_id: int | None,
        done: Callable[[object], None] | None,
        with_socket: bool = True,
    ) -> None:
        """Runs a handler that validates its payload or takes the :class:`Ack` itself
        (a namespace-level one gets the socket first; a socket-level one does not)."""
        args = list(params)
        for position, validate in spec.validators:
            try:
                if position >= len(args):
                    raise PayloadValidationError(
                        event, position, [{"loc": [], "msg": "argument missing", "type": "missing"}]
                    )
                args[position] = validate(args[position])
            except PayloadValidationError as exc:
                logger.info("socket %s: %s (handler not called)", self.id, exc)
                if done is not None:
                    done(self.nsp.invalid_payload_ack(exc))
                return
        if spec.ack_param is not None:
            send = None
            if done is not None and ack_id is not None:
                answer = ack_id

                def send(values: list[JSONValue]) -> None:
                    if self.connected:
                        self.conn.send_ack(self.nsp.name, answer, values)

            bound = functools.partial(handler, **{spec.ack_param: Ack(send)})
            call_handler(bound, (self, *args) if with_socket else tuple(args), None,
                         self.conn.tasks, event)  # fmt: skip
        else:
            call_handler(handler, (self, *args) if with_socket else tuple(args), done,
                         self.conn.tasks, event)  # fmt: skip

    def deliver_ack(self, ack_id: int, args: list[JSONValue]) -> None:
        """The client's ACK (called by its connection): runs the waiting callback."""
        pending = self._acks.pop(ack_id, None)
        if pending is None:
            logger.debug("socket %s: ack %d for no pending emit, ignored", self.id, ack_id)
            return
        if pending.timer is not None:
            pending.timer.cancel()
        pending.callback(args)

    def _fire(self, event: str, args: tuple[JSONValue, ...]) -> None:
        """Calls the socket's own handlers of a reserved event."""
        for handler in list(self._handlers.get(event, ())):
            call_handler(handler, args, None, self.conn.tasks, event)

    # ------------------------------------------------------------ disconnect

    def disconnect(self, close: bool = False) -> ServerSocket:
        """Disconnects this socket (sends DISCONNECT); ``close=True`` ends the whole connection."""
        if not self.connected:
            return self
        if close:
            # As the JS server: every socket of the connection gets its DISCONNECT and
            # "server namespace disconnect", then the Engine.IO session closes.
            self.conn.disconnect_all()
            return self
        self.conn.leave(self)
        self.end(DisconnectReason.SERVER_NAMESPACE_DISCONNECT)
        return self

    def abandon(self) -> None:
        """The CONNECT of a socket that never connected was refused: it can join no
        room from now on (the application may still hold it)."""
        self._ended = True

    def end(self, reason: DisconnectReason) -> None:
        """The socket is gone for ``reason``: fails its pending acks, leaves its rooms
        (kept for recovery when the transport dropped), then runs the disconnect
        handlers. Called once; later calls do nothing."""
        if not self.connected:
            return
        self._fire("disconnecting", (reason,))
        for handler in self.nsp.handlers.get("disconnecting", ()):
            call_handler(handler, (self, reason), None, self.conn.tasks, "disconnecting")
        self.connected = False
        self._ended = True
        acks = list(self._acks.values())
        self._acks.clear()
        for pending in acks:
            if pending.timer is not None:
                pending.timer.cancel()
            # an awaited emit_with_ack, or a timeout(s).emit callback, would otherwise
            # wait forever (or never hear): both learn that the socket is gone
            if pending.future is not None and not pending.future.done():
                pending.future.set_exception(DisconnectedError("socket disconnected"))
            elif pending.on_error is not None:
                pending.on_error(DisconnectedError("socket disconnected"))
        if self.pid is not None and reason in RECOVERABLE_REASONS:
            self.nsp.adapter.persist_session(
                SavedSession(self.id, self.pid, self.nsp.adapter.socket_rooms(self.id), self.data)
            )
        self.nsp.adapter.del_all(self.id)
        self.nsp.remove_socket(self)
        self.conn.forget(self)
        held, self._held = self._held, ()
        for fn in held:
            release(fn)
        self._fire("disconnect", (reason,))
        for handler in self.nsp.handlers.get("disconnect", ()):
            call_handler(handler, (self, reason), None, self.conn.tasks, "disconnect")


class _TimedSocket:
    """``socket.timeout(s)``: emits whose acks expire."""

    __slots__ = ("_socket", "_seconds")

    def __init__(self, socket: ServerSocket, seconds: float) -> None:
        self._socket = socket
        self._seconds = seconds

    def emit(self, event: str, *args: JSONValue, callback: UserAckCallback | None = None) -> None:
        """Emits; ``callback(err, *ack_args)`` gets an :class:`AckTimeoutError` on expiry."""
        self._socket.emit_flagged(event, args, callback, timeout=self._seconds)

    @overload
    async def emit_with_ack(self, event: str, *args: JSONValue) -> JSONValue: ...

    @overload
    async def emit_with_ack(self, event: str, *args: JSONValue, returns: type[_T]) -> _T: ...

    async def emit_with_ack(
        self, event: str, *args: JSONValue, returns: type[object] | None = None
    ) -> object:
        """Emits and waits for the ack's first argument (checked against ``returns``).

        Raises:
            AckTimeoutError: no ack in time.
            PayloadValidationError: the answer does not fit ``returns``.
        """
        answer = await self._socket.emit_awaiting_ack(event, args, timeout=self._seconds)
        return answer if returns is None else check_reply(event, answer, returns)


class _CompressFlagged:
    """``socket.compress(flag)``: emits the transport may or may not compress."""

    __slots__ = ("_socket", "_compress")

    def __init__(self, socket: ServerSocket, compress: bool) -> None:
        self._socket = socket
        self._compress = compress

    def emit(self, event: str, *args: JSONValue, callback: UserAckCallback | None = None) -> None:
        """Emits with the compress flag set."""
        self._socket.emit_flagged(event, args, callback, compress=self._compress)

    def send(self, *args: JSONValue) -> None:
        """Emits a ``message`` event with the compress flag set."""
        self.emit("message", *args)

    async def emit_with_ack(self, event: str, *args: JSONValue) -> JSONValue:
        """Emits with the compress flag set and waits for the ack's first argument."""
        return await self._socket.emit_awaiting_ack(event, args, compress=self._compress)


class _VolatileSocket:
    """``socket.volatile``: emits that may be dropped."""

    __slots__ = ("_socket",)

    def __init__(self, socket: ServerSocket) -> None:
        self._socket = socket

    def emit(self, event: str, *args: JSONValue) -> None:
        """Emits an event that is dropped if the client is not ready for it."""
        self._socket.emit_flagged(event, args, volatile=True)
