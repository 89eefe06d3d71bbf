"""python-socketio's ``AsyncServer`` API over plexio's server (migration aid, layer L4).

Code written for python-socketio's asyncio server runs with one import changed::

    import plexio.compat.socketio as socketio     # was: import socketio

    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")
    app = socketio.ASGIApp(sio)

    @sio.event
    async def connect(sid, environ, auth):
        await sio.save_session(sid, {"user": auth["user"]})
        await sio.enter_room(sid, "lobby")

    @sio.event
    async def chat(sid, text):
        session = await sio.get_session(sid)
        await sio.emit("chat", {"from": session["user"], "text": text}, room="lobby", skip_sid=sid)

What is covered (python-socketio 5's documented server API): ``AsyncServer`` with
``on`` / ``event`` (``"connect"`` handlers ``(sid, environ[, auth])`` that may return
``False`` or raise :class:`ConnectionRefusedError`, ``"disconnect"`` handlers ``(sid[,
reason])``, the ``"*"`` catch-all), ``emit`` / ``send`` with ``to`` / ``room`` /
``skip_sid`` / ``namespace`` / ``callback``, ``call``, ``enter_room`` / ``leave_room`` /
``close_room`` / ``rooms``, ``get_session`` / ``save_session`` / ``session``,
``disconnect``, ``transport``, ``start_background_task`` / ``sleep``, ``shutdown``;
class-based namespaces (:class:`AsyncNamespace`, ``register_namespace``); and
:class:`ASGIApp` (``other_asgi_app``, ``static_files``, ``socketio_path``). Not covered:
client managers (Redis/Kafka queues: use a plexio adapter), WSGI and the other
``async_mode`` values. The underlying :class:`plexio.Server` is ``sio.server``.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import inspect
import logging
import mimetypes
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping, Sequence
from pathlib import Path
from typing import ParamSpec, TypeAlias, TypeVar, overload

import plexio
from plexio.asgi.types import ASGICallable, Receive, Scope, Send
from plexio.enums import Transport
from plexio.exceptions import AckTimeoutError
from plexio.exceptions import ConnectionRefusedError as ConnectionRefusedError
from plexio.server.namespace import Namespace, ParentNamespace
from plexio.server.socket import ServerSocket
from plexio.typing import HandlerT, JSONValue

__all__ = [
    "ASGIApp",
    "AsyncNamespace",
    "AsyncServer",
    "ConnectionRefusedError",
    "TimeoutError",
    "exceptions",
]

logger = logging.getLogger(__name__)

#: A python-socketio handler: called with the sid first; what it returns is its answer.
SidHandler: TypeAlias = Callable[..., object]
#: A client's session: the application's values, kept here as they are.
SessionDict: TypeAlias = dict[str, object]
#: ``static_files`` values: a file or directory name, or ``{"filename": ...,
#: "content_type": ...}``.
StaticFile: TypeAlias = str | Mapping[str, str]
_P = ParamSpec("_P")
_T = TypeVar("_T")


class TimeoutError(plexio.PlexioError):  # noqa: A001 (python-socketio's name)
    """``call()`` got no acknowledgement in time (``socketio.exceptions.TimeoutError``)."""


class _Exceptions:
    """``socketio.exceptions``: the exception names python-socketio code imports."""

    ConnectionRefusedError = ConnectionRefusedError
    TimeoutError = TimeoutError
    SocketIOError = plexio.PlexioError


exceptions = _Exceptions()


def _positional_count(fn: SidHandler) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 99
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return 99
    return sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


def _args(data: JSONValue) -> tuple[JSONValue, ...]:
    """python-socketio's ``data``: ``None`` no argument, a tuple several, else one."""
    if data is None:
        return ()
    if isinstance(data, tuple):
        return data
    return (data,)


async def _maybe_await(value: object) -> object:
    if inspect.isawaitable(value):
        return await value
    return value


async def _call_connect(handler: SidHandler, socket: ServerSocket) -> object:
    """Runs a ``connect`` handler with ``(sid, environ)``, or ``(sid, environ, auth)``
    when it takes three arguments; its (awaited) result."""
    args: tuple[object, ...] = (socket.id, _environ(socket))
    if _positional_count(handler) >= 3:
        args = (*args, socket.handshake.auth or None)
    return await _maybe_await(handler(*args))


def _environ(socket: ServerSocket) -> dict[str, object]:
    """A WSGI-style ``environ`` for ``connect`` handlers, from the handshake."""
    handshake = socket.handshake
    path, _, query = handshake.url.partition("?")
    environ: dict[str, object] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REMOTE_ADDR": handshake.address,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "https" if handshake.secure else "http",
        "plexio.socket": socket,
    }
    for name, value in handshake.headers.items():
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[key] = value
        else:
            environ["HTTP_" + key] = value
    return environ


class AsyncServer:
    """python-socketio's ``AsyncServer`` over a :class:`plexio.Server`.

    Args:
        async_mode: only ``"asgi"`` (the default here).
        namespaces: ``"*"`` accepts every namespace; a list accepts those; ``None``
            (default) accepts ``/`` and the namespaces that have handlers.
        always_connect: accept the client before the ``connect`` handler runs (a
            refusal then disconnects it).
        cors_allowed_origins: as python-socketio (``"*"``, a list, or ``None``).
        cors_credentials: allow credentials.
        ping_interval: seconds between pings.
        ping_timeout: seconds to wait for a pong.
        max_http_buffer_size: largest message accepted, in bytes.
        transports: ``["polling", "websocket"]`` by default.
        allow_upgrades: let polling clients upgrade to WebSocket.
        cookie: name of the session cookie, or ``None``.
        logger: accepted for compatibility (plexio logs through :mod:`logging`).
        engineio_logger: accepted for compatibility.

    Attributes:
        server: the :class:`plexio.Server` underneath (see :meth:`start_serving` to serve
            it without :class:`ASGIApp`).
    """

    def __init__(
        self,
        *,
        async_mode: str = "asgi",
        namespaces: str | Sequence[str] | None = None,
        always_connect: bool = False,
        cors_allowed_origins: str | Sequence[str] | None = None,
        cors_credentials: bool = True,
        ping_interval: float = 25,
        ping_timeout: float = 20,
        max_http_buffer_size: int = 1_000_000,
        transports: Sequence[Transport | str] | None = None,
        allow_upgrades: bool = True,
        cookie: str | None = None,
        logger: bool | logging.Logger = False,
        engineio_logger: bool | logging.Logger = False,
    ) -> None:
        if async_mode != "asgi":
            raise ValueError(f"async_mode {async_mode!r}: plexio's compatibility serves ASGI only")
        self.async_mode = async_mode
        self.server = plexio.Server(
            cors_allowed_origins=cors_allowed_origins,
            cors_credentials=cors_credentials,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            max_http_buffer_size=max_http_buffer_size,
            transports=transports,
            allow_upgrades=allow_upgrades,
            cookie=cookie,
        )
        self.always_connect = always_connect
        self._sessions: dict[tuple[str, str], SessionDict] = {}
        self._connecting: dict[tuple[str, str], ServerSocket] = {}
        self._early: dict[
            tuple[str, str], list[tuple[str, tuple[JSONValue, ...], SidHandler | None]]
        ] = {}
        self._connect_handlers: dict[str, SidHandler] = {}
        self._catch_all: dict[str, SidHandler] = {}
        self._prepared: set[str] = set()
        self._tasks: set[asyncio.Task[object]] = set()
        # "*": every namespace is accepted, through a catch-all parent added when serving
        # starts (plexio refuses plain namespaces created after a callable parent, and
        # handlers are usually registered after the server is made)
        self._accept_any = namespaces == "*"
        self._any_parent: ParentNamespace | None = None
        if namespaces is not None and namespaces != "*":
            for name in namespaces:
                self._namespace(name)
        self._namespace("/")

    # ------------------------------------------------------------ registration

    def start_serving(self) -> None:
        """Adds the namespace that accepts every name, with ``namespaces="*"`` (once).

        It has to come after the handlers of named namespaces were registered (plexio
        refuses a plain namespace made after a catch-all), so it is added when serving
        starts: :class:`ASGIApp` calls this on every request. Serving :attr:`server`
        another way (``plexio.run(sio.server)``, ``plexio.ASGIApp(sio.server)``), call
        it yourself once every handler is registered. Does nothing otherwise.
        """
        if self._accept_any and self._any_parent is None:
            self._any_parent = self.server.of(lambda name, auth: True)

    def _namespace(self, name: str | None) -> Namespace:
        name = name or "/"
        nsp = self.server.of(name)
        if name not in self._prepared:
            self._prepared.add(name)
            nsp.use(lambda socket: self._run_connect(name, socket))
            nsp.on("connection", lambda socket: self._connected(name, socket))
            nsp.on("disconnect", lambda socket, reason: self._forget(name, socket))
        return nsp

    @overload
    def on(
        self, event: str, handler: None = None, namespace: str | None = None
    ) -> Callable[[HandlerT], HandlerT]: ...

    @overload
    def on(self, event: str, handler: HandlerT, namespace: str | None = None) -> HandlerT: ...

    def on(
        self, event: str, handler: HandlerT | None = None, namespace: str | None = None
    ) -> HandlerT | Callable[[HandlerT], HandlerT]:
        """Registers ``handler`` for ``event`` (usable as a decorator).

        ``connect`` handlers get ``(sid, environ)`` or ``(sid, environ, auth)``;
        ``disconnect`` handlers ``(sid)`` or ``(sid, reason)``; ``"*"`` handlers
        ``(event, sid, *args)`` for events without a handler of their own; other
        handlers ``(sid, *args)``, their return value (a tuple for several values)
        being the acknowledgement.
        """

        def register(fn: HandlerT) -> HandlerT:
            self._register(event, fn, namespace or "/")
            return fn

        return register if handler is None else register(handler)

    @overload
    def event(self, handler: HandlerT, /) -> HandlerT: ...

    @overload
    def event(self, *, namespace: str | None = None) -> Callable[[HandlerT], HandlerT]: ...

    def event(
        self, handler: SidHandler | None = None, *, namespace: str | None = None
    ) -> SidHandler | Callable[[HandlerT], HandlerT]:
        """Registers a handler named after the function: ``@sio.event`` or
        ``@sio.event(namespace="/chat")``."""

        def register(fn: HandlerT) -> HandlerT:
            self._register(fn.__name__, fn, namespace or "/")
            return fn

        return register if handler is None else register(handler)

    def register_namespace(self, namespace_handler: AsyncNamespace) -> None:
        """Registers a class-based namespace (its ``on_<event>`` methods)."""
        namespace_handler.server = self
        name = namespace_handler.namespace
        for attr in dir(namespace_handler):
            if attr.startswith("on_") and callable(getattr(namespace_handler, attr)):
                self._register(attr[3:], getattr(namespace_handler, attr), name)

    def _register(self, event: str, fn: SidHandler, name: str) -> None:
        nsp = self._namespace(name)
        if event == "connect":
            self._connect_handlers[name] = fn
        elif event == "disconnect":
            takes_reason = _positional_count(fn) >= 2
            nsp.on(
                "disconnect",
                lambda socket, reason: fn(socket.id, reason) if takes_reason else fn(socket.id),
            )
        elif event == "*":
            self._catch_all[name] = fn
        else:
            nsp.on(event, lambda socket, *args: fn(socket.id, *args))

    # ------------------------------------------------------------ connection life

    async def _run_connect(self, name: str, socket: ServerSocket) -> None:
        handler = self._connect_handlers.get(name)
        key = (name, socket.id)
        self._connecting[key] = socket
        if handler is None or self.always_connect:
            return
        try:
            result = await _call_connect(handler, socket)
        except Exception:  # ConnectionRefusedError included: the client is refused
            self._forget_key(key)
            raise
        if result is False:
            self._forget_key(key)
            raise ConnectionRefusedError()

    async def _connected(self, name: str, socket: ServerSocket) -> None:
        key = (name, socket.id)
        self._connecting.pop(key, None)
        catch_all = self._catch_all.get(name)
        if catch_all is not None:
            handlers = socket.nsp.handlers

            def any_event(event: str, *args: JSONValue) -> object:
                if event not in handlers:
                    return catch_all(event, socket.id, *args)
                return None

            socket.on_any(any_event)
        for event, args, callback in self._early.pop(key, ()):
            socket.emit(event, *args, callback=callback)
        if self.always_connect and name in self._connect_handlers:
            handler = self._connect_handlers[name]
            try:
                result = await _call_connect(handler, socket)
            except ConnectionRefusedError:
                result = False
            if result is False:
                socket.disconnect()

    def _forget(self, name: str, socket: ServerSocket) -> None:
        self._forget_key((name, socket.id))

    def _forget_key(self, key: tuple[str, str]) -> None:
        self._sessions.pop(key, None)
        self._connecting.pop(key, None)
        self._early.pop(key, None)

    def _socket(self, sid: str, namespace: str | None) -> ServerSocket | None:
        name = namespace or "/"
        nsp = self.server.namespaces.get(name)
        socket = nsp.sockets.get(sid) if nsp is not None else None
        return socket or self._connecting.get((name, sid))

    # ------------------------------------------------------------ emitting

    async def emit(
        self,
        event: str,
        data: JSONValue = None,
        to: str | Iterable[str] | None = None,
        room: str | Iterable[str] | None = None,
        skip_sid: str | Iterable[str] | None = None,
        namespace: str | None = None,
        callback: SidHandler | None = None,
        ignore_queue: bool = False,
    ) -> None:
        """Emits ``event`` to one client (``to=sid``), a room, or every client.

        Args:
            event: the event name.
            data: ``None`` (no argument), a tuple (several), or one value.
            to: a sid, a room, or a list of them (``room`` is an alias).
            room: alias of ``to``.
            skip_sid: sid(s) not to send to.
            namespace: the namespace (default ``/``).
            callback: for an emit to one client, called with its acknowledgement.
            ignore_queue: accepted for compatibility (there is no queue).
        """
        name = namespace or "/"
        target = to if to is not None else room
        args = _args(data)
        if isinstance(target, str):
            socket = self._socket(target, name)
            if socket is not None and socket.connected is False:
                # emitted from its connect handler: sent once the CONNECT is answered
                self._early.setdefault((name, target), []).append((event, args, callback))
                return
            if callback is not None and socket is not None:
                socket.emit(event, *args, callback=callback)
                return
        nsp = self.server.namespaces.get(name)
        if nsp is None:
            return  # no client ever joined it: nobody to send to
        operator = nsp.except_(())  # every socket of the namespace
        if target is not None:
            operator = operator.to([target] if isinstance(target, str) else list(target))
        if skip_sid is not None:
            skipped = [skip_sid] if isinstance(skip_sid, str) else list(skip_sid)
            operator = operator.except_(skipped)
        operator.emit(event, *args)

    async def send(
        self,
        data: JSONValue,
        to: str | Iterable[str] | None = None,
        room: str | Iterable[str] | None = None,
        skip_sid: str | Iterable[str] | None = None,
        namespace: str | None = None,
        callback: SidHandler | None = None,
        ignore_queue: bool = False,
    ) -> None:
        """Emits a ``message`` event (see :meth:`emit`)."""
        await self.emit("message", data, to, room, skip_sid, namespace, callback)

    async def call(
        self,
        event: str,
        data: JSONValue = None,
        to: str | None = None,
        sid: str | None = None,
        namespace: str | None = None,
        timeout: float = 60,
        ignore_queue: bool = False,
    ) -> JSONValue:
        """Emits to one client and waits for its acknowledgement.

        Returns:
            The acknowledgement: its one value, a tuple of several, or ``None``.

        Raises:
            TimeoutError: no acknowledgement within ``timeout`` seconds.
        """
        target = to or sid
        socket = self._socket(target, namespace) if target is not None else None
        if socket is None:
            raise ValueError("call() needs the sid of a connected client (to= or sid=)")
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[tuple[JSONValue, ...]] = loop.create_future()

        def answered(*args: JSONValue) -> None:
            if not reply.done():
                reply.set_result(args)

        await self.emit(event, data, to=target, namespace=namespace, callback=answered)
        try:
            async with asyncio.timeout(timeout):
                values = await reply
        except (AckTimeoutError, builtins.TimeoutError):
            raise TimeoutError(f"no acknowledgement of {event!r} in {timeout} s") from None
        if not values:
            return None
        return values[0] if len(values) == 1 else values

    # ------------------------------------------------------------ rooms and sessions

    async def enter_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Adds the client to ``room``."""
        socket = self._socket(sid, namespace)
        if socket is not None:
            socket.join(room)

    async def leave_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Removes the client from ``room``."""
        socket = self._socket(sid, namespace)
        if socket is not None:
            socket.leave(room)

    async def close_room(self, room: str, namespace: str | None = None) -> None:
        """Removes every client from ``room``."""
        nsp = self.server.namespaces.get(namespace or "/")
        if nsp is not None:
            nsp.in_(room).sockets_leave(room)

    def rooms(self, sid: str, namespace: str | None = None) -> list[str]:
        """The rooms the client is in (its own sid room included)."""
        socket = self._socket(sid, namespace)
        return sorted(socket.rooms) if socket is not None else []

    async def get_session(self, sid: str, namespace: str | None = None) -> SessionDict:
        """The client's session dict (the same object until :meth:`save_session`)."""
        return self._sessions.setdefault((namespace or "/", sid), {})

    async def save_session(
        self, sid: str, session: SessionDict, namespace: str | None = None
    ) -> None:
        """Replaces the client's session."""
        self._sessions[(namespace or "/", sid)] = session

    @contextlib.asynccontextmanager
    async def session(self, sid: str, namespace: str | None = None) -> AsyncIterator[SessionDict]:
        """``async with sio.session(sid) as session:`` — changes are kept."""
        session = await self.get_session(sid, namespace)
        yield session
        await self.save_session(sid, session, namespace)

    async def disconnect(
        self, sid: str, namespace: str | None = None, ignore_queue: bool = False
    ) -> None:
        """Disconnects the client from the namespace."""
        socket = self._socket(sid, namespace)
        if socket is not None:
            socket.disconnect()

    def transport(self, sid: str, namespace: str | None = None) -> Transport:
        """The socket's transport (a ``StrEnum``: equal to ``"polling"`` or ``"websocket"``)."""
        socket = self._socket(sid, namespace)
        if socket is None:
            raise KeyError(sid)
        return socket.transport

    # ------------------------------------------------------------ tasks

    def start_background_task(
        self,
        target: Callable[_P, Coroutine[object, object, _T]],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> asyncio.Task[_T]:
        """Runs ``target(*args, **kwargs)`` as a task (kept until it finishes)."""
        task = asyncio.get_running_loop().create_task(target(*args, **kwargs))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def sleep(self, seconds: float = 0) -> None:
        """``asyncio.sleep``."""
        await asyncio.sleep(seconds)

    async def shutdown(self) -> None:
        """Disconnects every client and stops the background tasks."""
        await self.server.shutdown()
        for task in list(self._tasks):
            task.cancel()


class AsyncNamespace:
    """A class-based namespace: its ``on_<event>`` methods are the handlers.

    Args:
        namespace: the namespace name (default ``/``).
    """

    def __init__(self, namespace: str | None = None) -> None:
        self.namespace = namespace or "/"
        self.server: AsyncServer | None = None

    def _sio(self) -> AsyncServer:
        if self.server is None:
            raise RuntimeError("register the namespace first: sio.register_namespace(ns)")
        return self.server

    async def emit(
        self,
        event: str,
        data: JSONValue = None,
        to: str | Iterable[str] | None = None,
        room: str | Iterable[str] | None = None,
        skip_sid: str | Iterable[str] | None = None,
        namespace: str | None = None,
        callback: SidHandler | None = None,
    ) -> None:
        """:meth:`AsyncServer.emit` in this namespace."""
        await self._sio().emit(
            event,
            data,
            to=to,
            room=room,
            skip_sid=skip_sid,
            namespace=namespace or self.namespace,
            callback=callback,
        )

    async def send(
        self,
        data: JSONValue,
        to: str | Iterable[str] | None = None,
        room: str | Iterable[str] | None = None,
        skip_sid: str | Iterable[str] | None = None,
        namespace: str | None = None,
        callback: SidHandler | None = None,
    ) -> None:
        """:meth:`AsyncServer.send` in this namespace."""
        await self.emit("message", data, to, room, skip_sid, namespace, callback)

    async def call(
        self,
        event: str,
        data: JSONValue = None,
        to: str | None = None,
        sid: str | None = None,
        namespace: str | None = None,
        timeout: float = 60,
    ) -> JSONValue:
        """:meth:`AsyncServer.call` in this namespace."""
        return await self._sio().call(
            event, data, to=to, sid=sid, namespace=namespace or self.namespace, timeout=timeout
        )

    async def enter_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """:meth:`AsyncServer.enter_room` in this namespace."""
        await self._sio().enter_room(sid, room, namespace or self.namespace)

    async def leave_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """:meth:`AsyncServer.leave_room` in this namespace."""
        await self._sio().leave_room(sid, room, namespace or self.namespace)

    async def close_room(self, room: str, namespace: str | None = None) -> None:
        """:meth:`AsyncServer.close_room` in this namespace."""
        await self._sio().close_room(room, namespace or self.namespace)

    def rooms(self, sid: str, namespace: str | None = None) -> list[str]:
        """:meth:`AsyncServer.rooms` in this namespace."""
        return self._sio().rooms(sid, namespace or self.namespace)

    async def get_session(self, sid: str, namespace: str | None = None) -> SessionDict:
        """:meth:`AsyncServer.get_session` in this namespace."""
        return await self._sio().get_session(sid, namespace or self.namespace)

    async def save_session(
        self, sid: str, session: SessionDict, namespace: str | None = None
    ) -> None:
        """:meth:`AsyncServer.save_session` in this namespace."""
        await self._sio().save_session(sid, session, namespace or self.namespace)

    def session(
        self, sid: str, namespace: str | None = None
    ) -> contextlib.AbstractAsyncContextManager[SessionDict]:
        """:meth:`AsyncServer.session` in this namespace."""
        return self._sio().session(sid, namespace or self.namespace)

    async def disconnect(self, sid: str, namespace: str | None = None) -> None:
        """:meth:`AsyncServer.disconnect` in this namespace."""
        await self._sio().disconnect(sid, namespace or self.namespace)


class ASGIApp:
    """python-socketio's ``ASGIApp``: Socket.IO, static files, and another ASGI app.

    Args:
        socketio_server: the :class:`AsyncServer`.
        other_asgi_app: the app for every other request.
        static_files: ``{url path: file name}`` (or ``{url path: {"filename": ...,
            "content_type": ...}}``); a path ending in ``/`` maps a directory.
        socketio_path: where Socket.IO is served (default ``socket.io``).
        on_startup: called (may be async) when the ASGI server starts.
        on_shutdown: called (may be async) when it stops.
    """

    def __init__(
        self,
        socketio_server: AsyncServer,
        other_asgi_app: ASGICallable | None = None,
        static_files: Mapping[str, StaticFile] | None = None,
        socketio_path: str = "socket.io",
        on_startup: Callable[[], object] | None = None,
        on_shutdown: Callable[[], object] | None = None,
    ) -> None:
        self._sio = socketio_server
        self._static = dict(static_files or {})
        self._other = other_asgi_app
        self._on_startup = on_startup
        self._on_shutdown = on_shutdown
        self._app = plexio.ASGIApp(socketio_server.server, path=socketio_path, other_app=self._rest)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._sio.start_serving()
        await self._app(scope, receive, send)

    async def _rest(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if scope["type"] == "http" and self._static:
            found = self._static_file(scope["path"])
            if found is not None:
                body, content_type = found
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-type", content_type.encode()),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        if self._other is not None:
            await self._other(scope, receive, send)
        elif scope["type"] == "http":
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b"Not Found"})
        else:
            await receive()
            await send({"type": "websocket.close", "code": 1000})

    def _static_file(self, path: str) -> tuple[bytes, str] | None:
        entry = self._static.get(path)
        rest = ""
        if entry is None:
            for prefix, target in self._static.items():
                if prefix.endswith("/") and path.startswith(prefix) and prefix != "/":
                    entry, rest = target, path[len(prefix) :]
                    break
        if entry is None:
            return None
        if isinstance(entry, dict):
            filename = str(entry["filename"])
            content_type = entry.get("content_type")
        else:
            filename, content_type = str(entry), None
        file = Path(filename) / rest if rest else Path(filename)
        if rest and ".." in Path(rest).parts:
            return None
        try:
            body = file.read_bytes()
        except OSError:
            return None
        return body, content_type or mimetypes.guess_type(str(file))[0] or "text/plain"

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._other is not None and self._on_startup is None and self._on_shutdown is None:
            await self._other(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self._on_startup is not None:
                    await _maybe_await(self._on_startup())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._on_shutdown is not None:
                    await _maybe_await(self._on_shutdown())
                await send({"type": "lifespan.shutdown.complete"})
                return
