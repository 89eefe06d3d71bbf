"""The Socket.IO v5 server (layer L3): composes Engine.IO and the Socket.IO core.

The :class:`Server` is the :class:`~plexio.server.engine.EngineHandler` of its
Engine.IO server: each Engine.IO message goes to the session's
:class:`~plexio.server.connection.Connection`, which decodes it and routes it to a
namespace socket. Public names follow the JavaScript server in snake_case
(``of``, ``on``, ``use``, ``to``, ``except_``, ``emit``, ``fetch_sockets`` ...).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, ParamSpec, TypeVar, overload

from plexio.aio.handlers import TaskOwner
from plexio.config import EngineOptions, Limits, RateLimit
from plexio.engineio.sid import generate_sid
from plexio.enums import DisconnectReason, Transport, transports_of
from plexio.exceptions import ConnectRefusedError, NamespaceError
from plexio.server.adapters.base import Adapter, AdapterFactory
from plexio.server.adapters.memory import InMemoryAdapter
from plexio.server.broadcast import BroadcastOperator
from plexio.server.connection import Connection, JoinDeadlines
from plexio.server.engine import AllowRequest, CorsOrigins, EngineServer, EngineSocket
from plexio.server.fetched import FetchedSocket
from plexio.server.namespace import (
    Middleware,
    Namespace,
    NamespaceMatcher,
    ParentNamespace,
)
from plexio.server.recovery import RecoveryOptions
from plexio.server.signatures import PayloadValidationError, validation_error
from plexio.socketio.connection import ServerConnection
from plexio.socketio.parser import JsonParser, Parser
from plexio.typing import JSONValue, UserCallback

__all__ = ["Server"]

logger = logging.getLogger(__name__)

_P = ParamSpec("_P")
_R = TypeVar("_R")


class Server:
    """A Socket.IO v5 server; serve it with :class:`plexio.asgi.ASGIApp`.

    Args:
        parser: the packet codec (default JSON; ``MsgPackParser()`` for msgpack).
        adapter: factory ``adapter(namespace) -> Adapter`` (default in-memory).
        path: the mount path (default ``/socket.io/``).
        engine_options: Engine.IO options (ping interval/timeout, limits ...).
        cors_allowed_origins: ``"*"``, a list, a predicate, or ``None``.
        cors_credentials: allow credentials (echoes the origin).
        allow_request: handshake hook; ``False`` → 403.
        connect_timeout: seconds a connection may go without joining a namespace.
        max_namespaces: most namespaces one connection may join (or ask for) at once;
            one more closes the connection.
        max_handlers_in_flight: handlers of one connection that may be suspended at
            once (default 100); at this count the server stops reading from that
            client until one finishes (backpressure, nothing is dropped).
        cancel_handlers_on_disconnect: cancel a connection's suspended handlers when
            it ends (default ``True``); ``False`` lets them run to completion.
        cleanup_empty_child_namespaces: drop dynamic child namespaces when empty.
        invalid_payload: what a handler's validated payload that did not fit is answered
            with (the acknowledgement; a tuple for several values), given the
            :class:`~plexio.PayloadValidationError`; default
            :func:`~plexio.server.signatures.validation_error`.
        connection_state_recovery: :class:`RecoveryOptions` to let clients whose
            transport dropped get their socket back with the events they missed;
            ``None`` (default) = off.

    Engine.IO settings, as a shortcut for ``engine_options`` (each ``None`` keeps the
    :class:`EngineOptions` / :class:`Limits` default; see those for their meaning):
    ``ping_interval``, ``ping_timeout``, ``upgrade_timeout``, ``upgrade_noop_interval``,
    ``transports``, ``allow_upgrades``, ``cookie``, ``max_http_buffer_size``,
    ``max_packets_per_payload``, ``max_attachments``, ``max_ack_id_digits``,
    ``max_int_digits``, ``max_buffered_bytes``, ``max_buffered_bytes_hard``,
    ``slow_client_grace``, ``close_timeout``, ``shutdown_timeout``, ``handshake_timeout``,
    ``max_pending_connections``, ``http_compression``, ``http_compression_threshold``,
    ``per_message_deflate``, ``per_message_deflate_threshold``, ``rate_limit``.

    Raises:
        TypeError: ``engine_options`` together with one of the shortcuts.
    """

    def __init__(
        self,
        *,
        parser: Parser | None = None,
        adapter: AdapterFactory | None = None,
        path: str = "/socket.io/",
        engine_options: EngineOptions | None = None,
        cors_allowed_origins: CorsOrigins = None,
        cors_credentials: bool = False,
        allow_request: AllowRequest | None = None,
        connect_timeout: float = 45.0,
        max_namespaces: int = 100,
        max_handlers_in_flight: int = 100,
        cancel_handlers_on_disconnect: bool = True,
        cleanup_empty_child_namespaces: bool = False,
        connection_state_recovery: RecoveryOptions | None = None,
        invalid_payload: Callable[[PayloadValidationError], JSONValue] = validation_error,
        ping_interval: float | None = None,
        ping_timeout: float | None = None,
        upgrade_timeout: float | None = None,
        upgrade_noop_interval: float | None = None,
        transports: Sequence[Transport | str] | None = None,
        allow_upgrades: bool | None = None,
        cookie: str | None = None,
        max_http_buffer_size: int | None = None,
        max_packets_per_payload: int | None = None,
        max_attachments: int | None = None,
        max_ack_id_digits: int | None = None,
        max_int_digits: int | None = None,
        max_buffered_bytes: int | None = None,
        max_buffered_bytes_hard: int | None = None,
        slow_client_grace: float | None = None,
        close_timeout: float | None = None,
        shutdown_timeout: float | None = None,
        handshake_timeout: float | None = None,
        max_pending_connections: int | None = None,
        http_compression: bool | None = None,
        http_compression_threshold: int | None = None,
        per_message_deflate: bool | None = None,
        per_message_deflate_threshold: int | None = None,
        rate_limit: RateLimit | None = None,
    ) -> None:
        # keyword arguments of EngineOptions and Limits, each typed by its parameter above
        engine_settings: dict[str, Any] = {
            "ping_interval": ping_interval,
            "ping_timeout": ping_timeout,
            "upgrade_timeout": upgrade_timeout,
            "upgrade_noop_interval": upgrade_noop_interval,
            "transports": None if transports is None else transports_of(transports),
            "allow_upgrades": allow_upgrades,
            "cookie": cookie,
            "max_buffered_bytes": max_buffered_bytes,
            "max_buffered_bytes_hard": max_buffered_bytes_hard,
            "slow_client_grace": slow_client_grace,
            "close_timeout": close_timeout,
            "shutdown_timeout": shutdown_timeout,
            "handshake_timeout": handshake_timeout,
            "max_pending_connections": max_pending_connections,
            "http_compression": http_compression,
            "http_compression_threshold": http_compression_threshold,
            "per_message_deflate": per_message_deflate,
            "per_message_deflate_threshold": per_message_deflate_threshold,
            "rate_limit": rate_limit,
        }
        limit_settings: dict[str, Any] = {
            "max_http_buffer_size": max_http_buffer_size,
            "max_packets_per_payload": max_packets_per_payload,
            "max_attachments": max_attachments,
            "max_ack_id_digits": max_ack_id_digits,
            "max_int_digits": max_int_digits,
        }
        engine_given = {k: v for k, v in engine_settings.items() if v is not None}
        limits_given = {k: v for k, v in limit_settings.items() if v is not None}
        if engine_options is None:
            if limits_given:
                engine_given["limits"] = Limits(**limits_given)
            engine_options = EngineOptions(**engine_given)
        elif engine_given or limits_given:
            names = ", ".join(sorted([*engine_given, *limits_given]))
            raise TypeError(f"pass engine_options or {names}, not both")
        self.parser: Parser = parser or JsonParser()
        self.adapter_factory: Callable[[Namespace], Adapter] = adapter or InMemoryAdapter
        self.default_path = path
        self.connect_timeout = connect_timeout
        self.max_namespaces = max_namespaces
        if max_handlers_in_flight < 1:
            raise ValueError("max_handlers_in_flight must be >= 1")
        self.max_handlers_in_flight = max_handlers_in_flight
        self.cancel_handlers_on_disconnect = cancel_handlers_on_disconnect
        self.cleanup_empty_children = cleanup_empty_child_namespaces
        self.recovery = connection_state_recovery
        self.invalid_payload = invalid_payload
        self.engine = EngineServer(
            self,
            engine_options,
            cors_allowed_origins=cors_allowed_origins,
            cors_credentials=cors_credentials,
            allow_request=allow_request,
        )
        self._namespaces: dict[str, Namespace] = {}
        self._parents: list[ParentNamespace] = []
        self._background = TaskOwner()  # closing adapters of dropped child namespaces
        # one bound method shared by every connection (not one object per connection)
        self._connect_handler = self._decide_connect
        self._join_deadlines: JoinDeadlines | None = None  # made on the loop, when first needed
        self.sockets = self.of("/")
        #: Registers a handler on the main namespace ``/``: :meth:`Namespace.on` itself.
        self.on = self.sockets.on
        #: Registers a handler on ``/`` for one call: :meth:`Namespace.once` itself.
        self.once = self.sockets.once

    # ------------------------------------------------------------ namespaces

    @overload
    def of(self, name: str) -> Namespace: ...

    @overload
    def of(self, name: re.Pattern[str] | NamespaceMatcher) -> ParentNamespace: ...

    def of(self, name: str | re.Pattern[str] | NamespaceMatcher) -> Namespace | ParentNamespace:
        """The namespace ``name``, created if needed.

        Args:
            name: a name (``"/chat"``), a compiled regex matched against the whole
                name, or a callable ``(name, auth) -> bool`` (may be async); the last
                two return a :class:`ParentNamespace` creating children on demand.

        A name that a regex parent matches gives that parent's child, with its handlers
        and middleware (as the reference server).

        Raises:
            NamespaceError: a callable parent registered earlier may claim ``name``
                (only a client's auth can tell): a plain namespace would let clients
                in without the parent's middleware. Use ``parent.of(name)``.
        """
        if isinstance(name, str):
            if not name.startswith("/"):
                name = "/" + name
            nsp = self._namespaces.get(name)
            if nsp is None:
                # As the reference server: a name a regex parent matches becomes that
                # parent's child (with its handlers and middleware), so a process can
                # broadcast to a dynamic namespace none of its own clients joined yet.
                # Parents are asked in the order clients' CONNECTs ask them.
                for parent in self._parents:
                    if isinstance(parent.matcher, re.Pattern):
                        if parent.matcher.fullmatch(name):
                            return self._add_child(parent, name)
                        continue
                    # A callable parent can only tell with a client's auth. A plain
                    # namespace made here would take that name over without the parent's
                    # middleware: clients would join it unauthenticated (Node's trap).
                    raise NamespaceError(
                        f"server.of({name!r}): the callable parent namespace {parent!r} may "
                        f"claim this name, and a namespace created here would let clients in "
                        f"without its middleware; use parent.of({name!r}) for the parent's "
                        f"child, or create static namespaces before adding a callable parent"
                    )
                nsp = self._namespaces[name] = Namespace(self, name)
            return nsp
        parent = ParentNamespace(self, name)
        self._parents.append(parent)
        return parent

    @property
    def namespaces(self) -> dict[str, Namespace]:
        """Every namespace served now (static and dynamic children)."""
        return dict(self._namespaces)

    async def _resolve(self, name: str, auth: dict[str, JSONValue]) -> Namespace | None:
        nsp = self._namespaces.get(name)
        if nsp is not None:
            return nsp
        for parent in self._parents:
            if await parent.matches(name, auth):
                # another client may have won the race
                return self._namespaces.get(name) or self._add_child(parent, name, keep=False)
        return None

    def child_namespace(self, parent: ParentNamespace, name: str) -> Namespace:
        """The child ``name`` of ``parent`` (see :meth:`ParentNamespace.of`), created if needed.

        Raises:
            NamespaceError: ``name`` is served by another namespace, or ``parent`` is a
                regex that does not match it.
        """
        if not name.startswith("/"):
            name = "/" + name
        existing = self._namespaces.get(name)
        if existing is not None:
            if existing.parent is not parent:
                raise NamespaceError(f"namespace {name!r} is already served by {existing!r}")
            existing.keep()
            return existing
        if isinstance(parent.matcher, re.Pattern) and not parent.matcher.fullmatch(name):
            raise NamespaceError(f"{parent!r} does not match {name!r}")
        return self._add_child(parent, name)

    def _add_child(self, parent: ParentNamespace, name: str, *, keep: bool = True) -> Namespace:
        # keep: asked for by the application, not dropped when a CONNECT fails
        nsp = Namespace(self, name, parent, keep=keep)
        self._namespaces[name] = nsp
        parent.children[name] = nsp
        return nsp

    def drop_child(self, nsp: Namespace) -> None:
        """Stops serving a dynamic child namespace (empty, or its only CONNECT failed)."""
        if self._namespaces.get(nsp.name) is nsp:
            del self._namespaces[nsp.name]
        if nsp.parent is not None:
            nsp.parent.children.pop(nsp.name, None)
        self._background.spawn(nsp.close())

    def _decide_connect(
        self, conn: Connection, name: str, auth: dict[str, JSONValue]
    ) -> Awaitable[None] | None:
        # A namespace served already that needs no waiting (see Namespace.admit_now)
        # takes the client at once; anything else is decided by a handler coroutine.
        nsp = self._namespaces.get(name)
        if nsp is not None and nsp.admit_now(conn, auth):
            return None
        return self._connect(conn, name, auth)

    async def _connect(self, conn: Connection, name: str, auth: dict[str, JSONValue]) -> None:
        try:
            nsp = await self._resolve(name, auth)
        except ConnectRefusedError as exc:  # a matcher may refuse with a reason of its own
            conn.connect_refused(name, exc.message, exc.data)
            return
        except Exception:
            # A failing namespace matcher must still answer the CONNECT (the client
            # would wait for ever), without telling the client why.
            logger.exception("namespace matcher failed for %s", name)
            conn.connect_refused(name, "Server error", None)
            return
        if nsp is None:
            conn.connect_refused(name, "Invalid namespace", None)
            return
        await nsp.admit(conn, auth)

    def make_adapter(self, nsp: Namespace) -> Adapter:
        """A new adapter for ``nsp`` from the ``adapter`` factory."""
        return self.adapter_factory(nsp)

    def new_socket_id(self) -> str:
        """A fresh socket id."""
        return generate_sid()

    # ------------------------------------------------------------ EngineHandler

    async def on_connect(self, socket: EngineSocket[Connection]) -> None:
        """A new Engine.IO session: attach its Socket.IO state."""
        options = self.engine.options
        core = ServerConnection(self.parser, options.limits, max_namespaces=self.max_namespaces)
        joins = self._join_deadlines
        if joins is None or joins.timeout != self.connect_timeout:
            joins = self._join_deadlines = JoinDeadlines(self.engine.loop, self.connect_timeout)
        socket.state = Connection(
            socket,
            core,
            self._connect_handler,
            join_deadlines=joins,
            close_grace=options.ping_timeout,
            max_handlers_in_flight=self.max_handlers_in_flight,
            cancel_handlers_on_disconnect=self.cancel_handlers_on_disconnect,
        )

    def on_message(self, socket: EngineSocket[Connection], data: str | bytes) -> None:
        """Routes one Engine.IO message."""
        conn = socket.state
        if conn is not None:  # set by on_connect, before any message
            conn.on_message(data)

    def on_disconnect(self, socket: EngineSocket[Connection], reason: DisconnectReason) -> None:
        """Disconnects every socket of the session."""
        conn = socket.state
        if conn is not None:
            conn.on_close(reason)

    # ------------------------------------------------------------ main namespace shortcuts

    def off(self, event: str | None = None, handler: UserCallback | None = None) -> None:
        """Removes handlers of the main namespace ``/`` (see :meth:`Namespace.off`)."""
        self.sockets.off(event, handler)

    def use(self, middleware: Middleware) -> Middleware:
        """Adds a connection middleware on the main namespace."""
        return self.sockets.use(middleware)

    def to(self, room: str | Iterable[str]) -> BroadcastOperator:
        """Sockets of ``/`` in ``room``."""
        return self.sockets.to(room)

    in_ = to

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator:
        """Sockets of ``/`` not in ``room``."""
        return self.sockets.except_(room)

    @property
    def volatile(self) -> BroadcastOperator:
        """Volatile broadcast on ``/``."""
        return self.sockets.volatile

    @property
    def local(self) -> BroadcastOperator:
        """Local-only broadcast on ``/``."""
        return self.sockets.local

    def compress(self, compress: bool) -> BroadcastOperator:
        """Compress flag on ``/``."""
        return self.sockets.compress(compress)

    def timeout(self, seconds: float) -> BroadcastOperator:
        """Ack timeout for a broadcast on ``/``."""
        return self.sockets.timeout(seconds)

    def emit(self, event: str, *args: JSONValue) -> None:
        """Sends an event to every socket of ``/``."""
        self.sockets.emit(event, *args)

    async def emit_with_ack(self, event: str, *args: JSONValue) -> list[JSONValue]:
        """Sends an event to every socket of ``/`` and collects their acks."""
        return await self.sockets.emit_with_ack(event, *args)

    def send(self, *args: JSONValue) -> None:
        """Emits ``message`` to every socket of ``/``."""
        self.sockets.send(*args)

    async def fetch_sockets(self) -> list[FetchedSocket]:
        """Every socket of ``/``."""
        return await self.sockets.fetch_sockets()

    def sockets_join(self, room: str | Iterable[str]) -> None:
        """Every socket of ``/`` joins rooms."""
        self.sockets.sockets_join(room)

    def sockets_leave(self, room: str | Iterable[str]) -> None:
        """Every socket of ``/`` leaves rooms."""
        self.sockets.sockets_leave(room)

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnects every socket of ``/``."""
        self.sockets.disconnect_sockets(close)

    def on_server_side_emit(self, event: str, handler: UserCallback | None = None) -> object:
        """Registers a handler of ``/`` for an event other servers send."""
        return self.sockets.on_server_side_emit(event, handler)

    async def server_side_emit(self, event: str, *args: JSONValue) -> None:
        """Sends an event to the other servers of the cluster (on ``/``)."""
        await self.sockets.server_side_emit(event, *args)

    async def server_side_emit_with_ack(self, event: str, *args: JSONValue) -> list[JSONValue]:
        """Sends an event to the other servers (on ``/``); returns one reply per server."""
        return await self.sockets.server_side_emit_with_ack(event, *args)

    async def shutdown(self, timeout: float | None = None) -> None:
        """Graceful shutdown: lets handlers in flight finish, then closes every
        connection ("server shutting down") after its queued output, then every adapter.

        New sessions are refused from the start (503); the existing ones keep working
        while their handlers finish (a polling client needs new requests to receive
        its acks). Handlers still running at the deadline are cancelled.

        Args:
            timeout: seconds it may take; ``shutdown_timeout`` by default.
        """
        loop = asyncio.get_running_loop()
        if timeout is None:
            timeout = self.engine.options.shutdown_timeout
        deadline = loop.time() + timeout
        self.engine.stop_accepting()
        while True:  # handlers started meanwhile (the connections still work) count too
            connections = [
                s.state for s in list(self.engine.sockets.values()) if s.state is not None
            ]
            in_flight = [c.tasks.wait() for c in connections if len(c.tasks)]
            if not in_flight:
                break
            try:
                await asyncio.wait_for(asyncio.gather(*in_flight), max(0.0, deadline - loop.time()))
            except TimeoutError:
                logger.warning("shutdown: handlers still running after %gs, cancelled", timeout)
                break
        await self.engine.shutdown(deadline)
        for conn in connections:
            conn.tasks.cancel_all()
        for nsp in list(self._namespaces.values()):
            await nsp.close()

    close = shutdown
