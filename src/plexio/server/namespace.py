"""Namespaces: static, and children of a regex or callable parent (layer L3).

A :class:`Namespace` holds its handlers, its connection middleware, its sockets and
its adapter, and is the :class:`~plexio.server.adapters.base.SocketEmitter` its adapter
talks to. A :class:`ParentNamespace` matches names (a compiled regex, or a callable
``(name, auth) -> bool`` that may be async) and creates child namespaces on the fly;
children share the parent's handlers and middleware (also those added later).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Concatenate, Literal, ParamSpec, Protocol, TypeVar, overload

from plexio.aio.handlers import TaskOwner, call_handler
from plexio.aio.listeners import Once, without
from plexio.engineio.packets import Frame, frame_messages
from plexio.engineio.sid import generate_sid
from plexio.exceptions import ConnectRefusedError
from plexio.server.adapters.base import Adapter, ServerSideAck, SocketDetails
from plexio.server.broadcast import BroadcastOperator
from plexio.server.connection import Connection
from plexio.server.engine import EngineServer, EngineSocket
from plexio.server.fetched import FetchedSocket
from plexio.server.recovery import RecoveryOptions, SavedSession
from plexio.server.signatures import (
    OutgoingSpec,
    PayloadValidationError,
    check_callable_with,
    outgoing_spec,
    spec_for,
)
from plexio.server.socket import ServerSocket
from plexio.socketio.packets import Packet
from plexio.socketio.parser import Parser
from plexio.typing import JSONValue, UserCallback

if TYPE_CHECKING:
    from plexio.server.signatures import TypeSpec

__all__ = [
    "ConnectionHandler",
    "DisconnectHandler",
    "EventDecorator",
    "Middleware",
    "Namespace",
    "NamespaceMatcher",
    "NamespaceOwner",
    "ParentNamespace",
]

logger = logging.getLogger(__name__)

_RESERVED = frozenset({"connection", "disconnecting", "disconnect"})
_P = ParamSpec("_P")
_R = TypeVar("_R")
#: A ``connection`` handler: ``handler(socket)`` (may be async).
ConnectionHandler = TypeVar("ConnectionHandler", bound=Callable[[ServerSocket], object])
#: A ``disconnecting`` / ``disconnect`` handler: ``handler(socket, reason)``.
DisconnectHandler = TypeVar("DisconnectHandler", bound=Callable[[ServerSocket, str], object])
#: A connection middleware: ``middleware(socket)`` (may be async; raise to refuse).
Middleware = TypeVar("Middleware", bound=Callable[[ServerSocket], object])


class EventDecorator(Protocol):
    """What ``ns.on(event)`` returns: keeps the handler's signature, whose first
    parameter receives the :class:`ServerSocket`."""

    def __call__(
        self, handler: Callable[Concatenate[ServerSocket, _P], _R], /
    ) -> Callable[Concatenate[ServerSocket, _P], _R]: ...


class NamespaceOwner(Protocol):
    """What a namespace needs from the server that owns it
    (:class:`plexio.server.server.Server`; no import of it, so no cycle)."""

    @property
    def parser(self) -> Parser:
        """The packet codec."""
        ...

    @property
    def recovery(self) -> RecoveryOptions | None:
        """Connection state recovery settings, ``None`` when off."""
        ...

    @property
    def engine(self) -> EngineServer[Connection]:
        """The Engine.IO server under the namespaces (a broadcast queues on it)."""
        ...

    @property
    def cleanup_empty_children(self) -> bool:
        """Whether a dynamic child namespace goes away when its last socket leaves."""
        ...

    def make_adapter(self, nsp: Namespace) -> Adapter:
        """A new adapter for the namespace."""
        ...

    def new_socket_id(self) -> str:
        """A fresh socket id."""
        ...

    def drop_child(self, nsp: Namespace) -> None:
        """Stops serving a dynamic child namespace."""
        ...

    def child_namespace(self, parent: ParentNamespace, name: str) -> Namespace:
        """The child ``name`` of ``parent``, created if needed."""
        ...

    def invalid_payload(self, error: PayloadValidationError) -> JSONValue:
        """The acknowledgement answering a payload that failed validation."""
        ...


#: A callable deciding whether a dynamic namespace name is served (may be async).
NamespaceMatcher = Callable[[str, dict[str, JSONValue]], bool | Awaitable[bool]]


class _Registry:
    """Handlers and middleware, shared by a parent and its children."""

    def __init__(self) -> None:
        self.outgoing: dict[str, OutgoingSpec] = {}
        self.handlers: dict[str, list[UserCallback]] = {}
        self.middlewares: list[UserCallback] = []
        self.server_handlers: dict[str, list[UserCallback]] = {}

    @overload
    def on(
        self, event: Literal["connection", "connect"]
    ) -> Callable[[ConnectionHandler], ConnectionHandler]: ...

    @overload
    def on(  # type: ignore[overload-overlap]
        self, event: Literal["connection", "connect"], handler: ConnectionHandler
    ) -> ConnectionHandler: ...

    @overload
    def on(  # type: ignore[overload-overlap]
        self, event: Literal["disconnect", "disconnecting"]
    ) -> Callable[[DisconnectHandler], DisconnectHandler]: ...

    @overload
    def on(  # type: ignore[overload-overlap]
        self, event: Literal["disconnect", "disconnecting"], handler: DisconnectHandler
    ) -> DisconnectHandler: ...

    @overload
    def on(self, event: str) -> EventDecorator: ...

    @overload
    def on(
        self, event: str, handler: Callable[Concatenate[ServerSocket, _P], _R]
    ) -> Callable[Concatenate[ServerSocket, _P], _R]: ...

    def on(self, event: str, handler: UserCallback | None = None) -> object:
        """Registers a namespace-level handler (usable as a decorator).

        ``"connection"`` (alias ``"connect"``) handlers get ``(socket)``;
        ``"disconnecting"``/``"disconnect"`` handlers get ``(socket, reason)``; any
        other event's handlers get ``(socket, *args)`` and their return value
        (a tuple for several values) acknowledges the event.
        """
        if event == "connect":
            event = "connection"

        def register(fn: UserCallback) -> UserCallback:
            if event not in _RESERVED:
                spec_for(fn, event, skip=1)  # an Ack parameter, validated payloads
            self.handlers.setdefault(event, []).append(fn)
            return fn

        return register if handler is None else register(handler)

    @overload
    def once(
        self, event: Literal["connection", "connect"]
    ) -> Callable[[ConnectionHandler], ConnectionHandler]: ...

    @overload
    def once(  # type: ignore[overload-overlap]
        self, event: Literal["connection", "connect"], handler: ConnectionHandler
    ) -> ConnectionHandler: ...

    @overload
    def once(  # type: ignore[overload-overlap]
        self, event: Literal["disconnect", "disconnecting"]
    ) -> Callable[[DisconnectHandler], DisconnectHandler]: ...

    @overload
    def once(  # type: ignore[overload-overlap]
        self, event: Literal["disconnect", "disconnecting"], handler: DisconnectHandler
    ) -> DisconnectHandler: ...

    @overload
    def once(self, event: str) -> EventDecorator: ...

    @overload
    def once(
        self, event: str, handler: Callable[Concatenate[ServerSocket, _P], _R]
    ) -> Callable[Concatenate[ServerSocket, _P], _R]: ...

    def once(self, event: str, handler: UserCallback | None = None) -> object:
        """Like :meth:`on` (same arguments, :class:`~plexio.Ack` and validated payloads
        included), but the handler is removed at its first call, whichever socket it
        was for (as Node's ``nsp.once``); ``off(event, handler)`` removes it before.
        A payload that fails validation does not call, so does not use up, the handler.
        """
        if event == "connect":
            event = "connection"

        def register(fn: UserCallback) -> UserCallback:
            self.on(event, Once(fn, lambda once: without(self.handlers, event, once)))
            return fn

        return register if handler is None else register(handler)

    def off(self, event: str | None = None, handler: UserCallback | None = None) -> None:
        """Removes one namespace-level handler (a :meth:`once` one by its function), every
        handler of an event, or every handler."""
        if event == "connect":
            event = "connection"
        if event is None:
            self.handlers.clear()
        elif handler is None:
            self.handlers.pop(event, None)
        else:
            for registered in self.handlers.get(event, ()):
                if registered == handler:
                    without(self.handlers, event, registered)
                    break

    def on_server_side_emit(self, event: str, handler: UserCallback | None = None) -> object:
        """Registers a handler of an event other servers send with ``server_side_emit``.

        The handler gets the event's arguments (no socket; it may be async). When the
        sender waits for replies (``server_side_emit_with_ack``), the return value of the
        first handler is this server's reply; a server without a handler does not reply
        (as the JavaScript server), so the sender's wait times out naming it.
        Usable as a decorator.
        """

        def register(fn: UserCallback) -> UserCallback:
            self.server_handlers.setdefault(event, []).append(fn)
            return fn

        return register if handler is None else register(handler)

    def emits(self, event: str, *types: TypeSpec) -> None:
        """Declares the arguments of an outgoing event, one type each (a pydantic model,
        a dataclass, a ``TypedDict`` or any type pydantic knows; needs pydantic).

        Every emit of ``event`` in this namespace (to a socket or a broadcast) then
        checks its arguments and sends their JSON form (a model instance becomes a
        dict); a wrong one raises :class:`~plexio.PayloadValidationError` at the emit.
        Events not declared are sent as they are, with no cost.

        Raises:
            TypeError: pydantic is not installed.
        """
        self.outgoing[event] = outgoing_spec(event, types)

    def use(self, middleware: Middleware) -> Middleware:
        """Adds a connection middleware ``middleware(socket)`` (may be async).

        Raise :class:`~plexio.exceptions.ConnectRefusedError` to refuse the client
        (it gets ``connect_error`` with the message and data); ``socket.handshake``
        (auth, headers, query) and ``socket.data`` are available. The JavaScript
        ``(socket, next)`` form is refused here, with a message showing this one.

        Raises:
            TypeError: ``middleware`` cannot be called with one argument.
        """
        check_callable_with(middleware, 1, "namespace.use", "middleware(socket)")
        self.middlewares.append(middleware)
        return middleware


class Namespace(_Registry):
    """One namespace served by a :class:`~plexio.server.server.Server`.

    Attributes:
        name: the namespace name, e.g. ``"/"`` or ``"/socket/commu-42"``.
        sockets: connected sockets by id.
        adapter: the room index / cluster hook.
        parent: the parent namespace for a dynamic child, else ``None``.
    """

    def __init__(
        self,
        server: NamespaceOwner,
        name: str,
        parent: ParentNamespace | None = None,
        *,
        keep: bool = True,
    ) -> None:
        """
        Args:
            server: the owning server.
            name: the namespace name.
            parent: the parent of a dynamic child.
            keep: ``False`` for a child created by a client's CONNECT: dropped at
                once if that CONNECT fails (refused clients trying made-up names must
                not pile up namespaces).
        """
        super().__init__()
        self.server = server
        self.name = name
        self.parent = parent
        if parent is not None:
            self.handlers = parent.handlers
            self.outgoing = parent.outgoing
            self.middlewares = parent.middlewares
            self.server_handlers = parent.server_handlers
        self._tasks = TaskOwner()  # server-side event handlers that suspended
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass  # started by the first connection, or by ready()
        else:
            # created while serving: other servers' messages for it must arrive even
            # before one of its own clients joins
            self._tasks.spawn(self._ensure_ready(), name=f"adapter init {name}")
        self.sockets: dict[str, ServerSocket] = {}
        # each socket's Engine.IO socket, beside ``sockets`` (same keys): a broadcast
        # looks its recipients up in C (map over the ids), no Python per member
        self._engines: dict[str, EngineSocket[Connection]] = {}
        self.adapter: Adapter = server.make_adapter(self)
        if server.recovery is not None:
            self.adapter.enable_recovery(server.recovery)
        self._ready: asyncio.Future[None] | None = None
        self._connecting = 0
        self._keep = keep

    def __repr__(self) -> str:
        return f"<Namespace {self.name}>"

    # --------------------------------------------------- SocketEmitter

    def encode(self, packet: Packet) -> list[Frame]:
        """Encodes a packet with the server's codec and frames it, once for every
        recipient of a broadcast."""
        return frame_messages(self.server.parser.encode(packet))

    def send_frames(
        self, sid: str, frames: list[Frame], volatile: bool, compress: bool = True
    ) -> bool:
        """Queues frames for one local socket."""
        socket = self.sockets.get(sid)
        if socket is None:
            return False
        return socket.conn.write_frames(frames, volatile=volatile, compress=compress)

    def send_frames_to(
        self, sids: Iterable[str], frames: list[Frame], volatile: bool, compress: bool = True
    ) -> None:
        """Queues the same frames for many local sockets (one broadcast)."""
        # ids of sockets gone meanwhile give None, dropped by filter
        engines = list(filter(None, map(self._engines.get, sids)))
        self.server.engine.send_frames_to(engines, frames, volatile=volatile, compress=compress)

    def reserve_ack_id(self, sids: Sequence[str]) -> int:
        """An ack id free on the connection of each of these local sockets.

        Each connection's core allocates ids counting up, so an id at or above every
        recipient's next id is free on all of them; it is allocated on each.
        """
        conns = [socket.conn for sid in sids if (socket := self.sockets.get(sid)) is not None]
        ack_id = max((conn.next_ack_id for conn in conns), default=0)
        for conn in conns:
            conn.allocate_ack_id(ack_id)
        return ack_id

    def register_ack(
        self, sid: str, ack_id: int, callback: Callable[[list[JSONValue]], None]
    ) -> bool:
        """Expects an ack from a local socket."""
        socket = self.sockets.get(sid)
        if socket is None:
            return False
        socket.register_ack(ack_id, callback)
        return True

    def forget_ack(self, sid: str, ack_id: int) -> None:
        """Stops expecting ``ack_id`` from a local socket."""
        socket = self.sockets.get(sid)
        if socket is not None:
            socket.forget_ack(ack_id)

    def get_socket(self, sid: str) -> ServerSocket | None:
        """The live local socket."""
        return self.sockets.get(sid)

    def disconnect_socket(self, sid: str, close: bool) -> None:
        """Disconnects a local socket."""
        socket = self.sockets.get(sid)
        if socket is not None:
            socket.disconnect(close)

    def socket_details(self, sid: str) -> SocketDetails | None:
        """A local socket as other servers see it."""
        socket = self.sockets.get(sid)
        if socket is None:
            return None
        shake = socket.handshake
        handshake: dict[str, JSONValue] = {
            "headers": shake.headers,
            "time": shake.time,
            "address": shake.address,
            "xdomain": shake.xdomain,
            "secure": shake.secure,
            "issued": shake.issued,
            "url": shake.url,
            "query": shake.query,
            "auth": shake.auth,
        }
        return SocketDetails(sid, handshake, sorted(socket.rooms), socket.data)

    def server_side_event(self, args: list[JSONValue], ack: ServerSideAck | None) -> None:
        """Runs the handlers of an event another server sent (see :meth:`on_server_side_emit`)."""
        if not args or not isinstance(args[0], str):
            return
        done = ack
        for handler in list(self.server_handlers.get(args[0], ())):
            call_handler(handler, tuple(args[1:]), done, self._tasks, f"server-side {args[0]}")
            done = None

    # --------------------------------------------------- broadcasting API

    def _operator(self) -> BroadcastOperator:
        return BroadcastOperator(self.adapter, self.name)

    def to(self, room: str | Iterable[str]) -> BroadcastOperator:
        """Sockets in ``room``."""
        return self._operator().to(room)

    in_ = to

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator:
        """Every socket except those in ``room``."""
        return self._operator().except_(room)

    @property
    def volatile(self) -> BroadcastOperator:
        """Events that may be dropped for recipients that are not ready."""
        return self._operator().volatile

    @property
    def local(self) -> BroadcastOperator:
        """Only this server's sockets."""
        return self._operator().local

    def compress(self, compress: bool) -> BroadcastOperator:
        """Sets the compress flag."""
        return self._operator().compress(compress)

    def timeout(self, seconds: float) -> BroadcastOperator:
        """Ack timeout for :meth:`BroadcastOperator.emit_with_ack`."""
        return self._operator().timeout(seconds)

    def emit(self, event: str, *args: JSONValue) -> None:
        """Sends an event to every socket of the namespace."""
        self._operator().emit(event, *args)

    def send(self, *args: JSONValue) -> None:
        """Emits a ``message`` event to every socket."""
        self._operator().emit("message", *args)

    async def emit_with_ack(self, event: str, *args: JSONValue) -> list[JSONValue]:
        """Sends an event to every socket and collects their acks."""
        return await self._operator().emit_with_ack(event, *args)

    async def fetch_sockets(self) -> list[FetchedSocket]:
        """Every socket of the namespace (cluster-wide with a cluster adapter)."""
        return await self._operator().fetch_sockets()

    def sockets_join(self, room: str | Iterable[str]) -> None:
        """Makes every socket join rooms."""
        self._operator().sockets_join(room)

    def sockets_leave(self, room: str | Iterable[str]) -> None:
        """Makes every socket leave rooms."""
        self._operator().sockets_leave(room)

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnects every socket."""
        self._operator().disconnect_sockets(close)

    async def server_side_emit(self, event: str, *args: JSONValue) -> None:
        """Sends an event to the other servers of the cluster (see :meth:`on_server_side_emit`).

        Raises:
            ClusterError: the cluster's message bus is unreachable.
        """
        await self.adapter.server_side_emit([event, *args])

    async def server_side_emit_with_ack(self, event: str, *args: JSONValue) -> list[JSONValue]:
        """Sends an event to the other servers and returns one reply per server.

        Raises:
            ClusterError: the cluster's message bus is unreachable.
            ClusterTimeoutError: some servers did not reply in time (the adapter's
                request timeout); it names them and holds the replies that came.
        """
        return await self.adapter.server_side_emit_with_ack([event, *args])

    async def close(self) -> None:
        """Releases the adapter and the tasks of suspended server-side handlers."""
        await self._tasks.close()
        await self.adapter.close()

    # --------------------------------------------------- connections

    async def ready(self) -> None:
        """Starts the adapter (a cluster adapter connects and subscribes).

        The first client's connection does it; a namespace created while the event loop
        runs starts by itself. Await it to broadcast to the cluster from a namespace
        created before the loop ran (``server.sockets`` included) that no client of this
        server has joined yet.
        """
        await self._ensure_ready()

    async def _ensure_ready(self) -> None:
        if self._ready is None:
            self._ready = asyncio.get_running_loop().create_future()
            try:
                await self.adapter.init()
            finally:
                self._ready.set_result(None)
        elif not self._ready.done():
            await self._ready

    async def admit(self, conn: Connection, auth: dict[str, JSONValue]) -> None:
        """Runs the middleware and connects a client (the server calls it for the
        client's CONNECT); answers the CONNECT either way."""
        if self._ready is None or not self._ready.done():
            await self._ensure_ready()
        recovery = self.server.recovery
        session: SavedSession | None = None
        if recovery is not None:
            pid = auth.get("pid")
            offset = auth.get("offset")
            # the client's own fields, not the application's auth
            auth = {k: v for k, v in auth.items() if k not in ("pid", "offset")}
            if isinstance(pid, str) and isinstance(offset, str):
                session = await self.adapter.restore_session(pid, offset)
        if session is not None:
            socket = ServerSocket(self, conn, session.sid, auth=auth)
            socket.pid = session.pid
            socket.data = session.data
            socket.recovered = True
        else:
            socket = ServerSocket(self, conn, self.server.new_socket_id(), auth=auth)
            if recovery is not None:
                socket.pid = generate_sid()
        refusal = None
        if self.middlewares and (
            session is None or recovery is None or not recovery.skip_middlewares
        ):
            self._connecting += 1
            try:
                refusal = await self._run_middleware(socket)
            except asyncio.CancelledError:
                # the connection ended meanwhile and its handlers were cancelled
                socket.abandon()
                self.adapter.del_all(socket.id)
                self._drop_if_unused()
                raise
            finally:
                self._connecting -= 1
        if refusal is None and not conn.closed:
            # The socket's rooms so far (its own, a middleware's) reach the cluster before
            # its CONNECT is answered: what another server sends them right after the
            # client's connect arrives (the sharded adapter subscribes a room's channel).
            self.adapter.add_all(socket.id, (socket.id,))
            if session is not None:
                self.adapter.add_all(socket.id, session.rooms)
            self._connecting += 1
            try:
                await self.adapter.settled()
            except asyncio.CancelledError:
                self._connecting -= 1
                socket.abandon()
                self.adapter.del_all(socket.id)
                self._drop_if_unused()
                raise
            self._connecting -= 1
        if refusal is not None or conn.closed:
            socket.abandon()  # the application may hold it: no more joins
            self.adapter.del_all(socket.id)  # rooms a middleware may have joined
            if refusal is not None:
                conn.connect_refused(self.name, *refusal)
            elif session is not None:
                session.missed_packets = []  # gone again before it was back: keep it
                self.adapter.persist_session(session)
            self._drop_if_unused()
            return
        self._join(conn, socket, session)
        if self.handlers.get("connection"):
            await self._run_connection_handlers(socket)

    def admit_now(self, conn: Connection, auth: dict[str, JSONValue]) -> bool:
        """Connects a client at once, as :meth:`admit` would, when nothing has to be
        waited for: the adapter is ready, there is no middleware, no connection state
        recovery, and the socket's own room needs no cluster subscription. The
        ``connection`` handlers then run as handlers of their own.

        Returns:
            False if the client must go through :meth:`admit`.
        """
        ready = self._ready
        if (
            ready is None
            or not ready.done()
            or self.middlewares
            or self.server.recovery is not None
            or self.adapter.own_room_settles
            or conn.closed
        ):
            return False
        socket = ServerSocket(self, conn, self.server.new_socket_id(), auth=auth)
        self._join(conn, socket, None)
        if self.handlers.get("connection"):
            call_handler(self._run_connection_handlers, (socket,), None, conn.tasks, "connect")
        return True

    def _join(self, conn: Connection, socket: ServerSocket, session: SavedSession | None) -> None:
        # The CONNECT is accepted: the socket is in, its reply goes before any event.
        self.sockets[socket.id] = socket
        self._engines[socket.id] = conn.engine
        self._keep = True
        self.adapter.add_all(socket.id, (socket.id,))  # admit added it already: no-op
        socket.connected = True
        conn.joined(socket)
        if session is not None:
            for packet in session.missed_packets:
                conn.write(conn.encode_event(self.name, packet.data))

    async def _run_connection_handlers(self, socket: ServerSocket) -> None:
        for handler in list(self.handlers.get("connection", ())):
            if not socket.connected:
                break
            try:
                result = handler(socket)
                if asyncio.iscoroutine(result):
                    await result
            except ConnectRefusedError as exc:
                # The CONNECT reply has gone already (as in Node, the connection event
                # follows it), so the client cannot get a connect_error any more: the
                # socket is disconnected ("io server disconnect" on the client).
                logger.info(
                    "connection handler of %s refused socket %s: %s",
                    self.name,
                    socket.id,
                    exc.message,
                )
                socket.disconnect()
                return

    async def _run_middleware(self, socket: ServerSocket) -> tuple[str, JSONValue] | None:
        """Runs the connection middleware; returns (message, data) of a refusal."""
        for middleware in list(self.middlewares):
            try:
                result = middleware(socket)
                if asyncio.iscoroutine(result):
                    await result
            except ConnectRefusedError as exc:
                return exc.message, exc.data
            except Exception:
                logger.exception("connection middleware of %s failed", self.name)
                return "Server error", None
        return None

    def keep(self) -> None:
        """Keeps this dynamic child even while no client has joined it (the
        application asked for it)."""
        self._keep = True

    def _drop_if_unused(self) -> None:
        # A dynamic child that never got a socket goes away at once, whatever
        # cleanup_empty_child_namespaces says: refused clients trying made-up names
        # must not pile up namespaces.
        if self.parent is not None and not self.sockets and not self._connecting and not self._keep:
            self.server.drop_child(self)

    def invalid_payload_ack(self, error: PayloadValidationError) -> JSONValue:
        """The acknowledgement answering a payload that failed validation (the server's
        ``invalid_payload``)."""
        return self.server.invalid_payload(error)

    def remove_socket(self, socket: ServerSocket) -> None:
        """The socket ended: forgets it (and drops an empty dynamic child when asked to)."""
        self.sockets.pop(socket.id, None)
        self._engines.pop(socket.id, None)
        if not self.sockets and self.parent is not None and self.server.cleanup_empty_children:
            self.server.drop_child(self)


class ParentNamespace(_Registry):
    """Matches dynamic namespace names and creates a child namespace per name.

    Attributes:
        children: the child namespaces created so far, by name.
    """

    def __init__(self, server: NamespaceOwner, matcher: re.Pattern[str] | NamespaceMatcher) -> None:
        super().__init__()
        self.server = server
        self.matcher = matcher
        self.children: dict[str, Namespace] = {}

    def __repr__(self) -> str:
        return f"<ParentNamespace {self.matcher!r}>"

    async def matches(self, name: str, auth: dict[str, JSONValue]) -> bool:
        """Whether ``name`` belongs to this parent."""
        if isinstance(self.matcher, re.Pattern):
            return self.matcher.fullmatch(name) is not None
        result = self.matcher(name, auth)
        if not isinstance(result, bool):
            result = await result
        return bool(result)

    def of(self, name: str) -> Namespace:
        """This parent's child ``name``, created if needed (and then kept), with the
        parent's handlers and middleware: how to reach a dynamic namespace no client
        has joined yet (e.g. to broadcast to it).

        Raises:
            NamespaceError: ``name`` is already served by another namespace, or this
                parent is a regex that does not match it.
        """
        return self.server.child_namespace(self, name)

    def emit(self, event: str, *args: JSONValue) -> None:
        """Sends an event to every socket of every child namespace."""
        for child in list(self.children.values()):
            child.emit(event, *args)

    async def fetch_sockets(self) -> list[FetchedSocket]:
        """Every socket of every child."""
        found: list[JSONValue] = []
        for child in list(self.children.values()):
            found.extend(await child.fetch_sockets())
        return found

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnects every socket of every child."""
        for child in list(self.children.values()):
            child.disconnect_sockets(close)
