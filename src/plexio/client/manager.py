"""Manager: one Engine.IO connection shared by namespace sockets, with reconnection (layer L3).

May import: plexio L0 modules, plexio.engineio, plexio.socketio and the other
``plexio.client`` modules; never plexio.server or plexio.asgi.

The manager composes the two sans-I/O cores: Engine.IO messages from its
:class:`~plexio.client.engine.EngineClient` are decoded by the Socket.IO parser and
routed to the :class:`~plexio.client.socket.ClientSocket` of their namespace; packets
the sockets send are encoded and handed back as Engine.IO messages. One Engine.IO
session carries every namespace (Socket.IO v5 multiplexing, PROTOCOL.md item 62).

Life cycle: the first socket that connects starts the manager's *runner* task, which
opens the Engine.IO connection, sends CONNECT for every active socket (PROTOCOL.md item
69, auth asked again each time), waits for the connection to end, and — unless the
client closed it — reconnects after the :class:`~plexio.client.backoff.Backoff`
delay, up to ``reconnection_attempts`` times in a row.

Manager events (``manager.on(name, handler)``): ``open``, ``close`` (reason),
``error`` (exception), ``reconnect_attempt`` (attempt number), ``reconnect`` (attempts
it took), ``reconnect_failed``, ``upgrade`` (transport name).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, TypedDict, TypeVar, overload

from plexio.aio.handlers import TaskOwner, call_handler
from plexio.client.backoff import Backoff
from plexio.client.engine import EngineClient
from plexio.client.socket import Auth, ClientSocket
from plexio.config import Limits
from plexio.engineio.events import DisconnectReason
from plexio.enums import Transport, transports_of
from plexio.exceptions import (
    ClientConnectionError,
    ConnectionFailure,
    PayloadTooLargeError,
)
from plexio.socketio.client import ClientConnection
from plexio.socketio.events import ConnectionClosed, NamespaceClosed
from plexio.socketio.parser import JsonParser, Parser
from plexio.typing import HandlerT, JSONValue, UserCallback

__all__ = ["Manager", "ManagerKeywords", "ManagerOptions"]

logger = logging.getLogger(__name__)

#: Engine.IO close reasons as the official client reports them to ``disconnect``
#: listeners. An Engine.IO packet that does not decode is a "transport error" there
#: (engine.io-client turns it into an error packet); "parse error" is for a Socket.IO
#: packet that does not decode, which the manager reports itself.
_REASONS: Final = {
    DisconnectReason.PING_TIMEOUT: DisconnectReason.PING_TIMEOUT,
    DisconnectReason.TRANSPORT_CLOSE: DisconnectReason.TRANSPORT_CLOSE,
    DisconnectReason.FORCED_CLOSE: DisconnectReason.IO_CLIENT_DISCONNECT,
}


class _Unset:
    """Marks an option of :meth:`Manager.socket` that was not given."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()


def _message_size(message: str | bytes, polling: bool) -> int:
    """Bytes one Engine.IO message takes on the wire (polling: ``b`` + base64 for binary)."""
    if isinstance(message, str):
        return 1 + (len(message) if message.isascii() else len(message.encode()))
    return 1 + 4 * ((len(message) + 2) // 3) if polling else len(message)


@dataclass(frozen=True, slots=True)
class ManagerOptions:
    """Connection settings of a :class:`Manager` (all have defaults).

    Attributes:
        path: Engine.IO mount path on the server.
        transports: ``("polling", "websocket")`` polls then upgrades, like browsers;
            ``("websocket",)`` connects over WebSocket only.
        reconnection: reconnect automatically when the connection is lost.
        reconnection_attempts: attempts in a row before giving up (``math.inf``: never).
        reconnection_delay: seconds before the first attempt (grows ×2 per attempt).
        reconnection_delay_max: cap on the delay in seconds.
        randomization_factor: jitter, in ``[0, 1]``.
        handshake_timeout: seconds each Engine.IO handshake may take (the JS client's
            ``timeout`` option).
        upgrade_timeout: seconds a WebSocket upgrade probe may take.
        limits: decoding limits for what the server sends (``max_http_buffer_size`` also caps
            WebSocket frames).
        headers: extra HTTP headers on every request.
        query: extra query parameters on every request.
    """

    path: str = "/socket.io/"
    transports: tuple[Transport, ...] = (Transport.POLLING, Transport.WEBSOCKET)
    reconnection: bool = True
    reconnection_attempts: float = math.inf
    reconnection_delay: float = 1.0
    reconnection_delay_max: float = 5.0
    randomization_factor: float = 0.5
    handshake_timeout: float = 20.0
    upgrade_timeout: float = 10.0
    limits: Limits = field(default_factory=Limits)
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Names are accepted too ("websocket"): they become Transport members.
        object.__setattr__(self, "transports", transports_of(self.transports))
        if self.reconnection_attempts < 0:
            raise ValueError("reconnection_attempts must be >= 0")
        if self.handshake_timeout <= 0 or self.upgrade_timeout <= 0:
            raise ValueError("timeouts must be > 0")


class ManagerKeywords(TypedDict, total=False):
    """The fields of :class:`ManagerOptions` as keyword arguments (for ``**options``)."""

    path: str
    transports: Sequence[Transport | str]
    reconnection: bool
    reconnection_attempts: float
    reconnection_delay: float
    reconnection_delay_max: float
    randomization_factor: float
    handshake_timeout: float
    upgrade_timeout: float
    limits: Limits
    headers: Mapping[str, str]
    query: Mapping[str, str]


_DEFAULTS: Final = ManagerOptions()
_T = TypeVar("_T")


def _or(value: _T | None, default: _T) -> _T:
    """``value``, or ``default`` when it was not given (``None``)."""
    return default if value is None else value


class Manager:
    """Owns one Engine.IO connection and the namespace sockets multiplexed over it.

    Args:
        url: the server origin, ``http(s)://host:port`` (``ws(s)://`` also accepted).
        parser: Socket.IO codec (default JSON; ``MsgPackParser()`` for msgpack).
        rand: random source for the backoff jitter (tests inject one).
        options: a :class:`ManagerOptions`, or leave it out and give its fields as
            keyword arguments (not both).
        path, transports, reconnection, reconnection_attempts, reconnection_delay,
            reconnection_delay_max, randomization_factor, handshake_timeout,
            upgrade_timeout, limits, headers, query: see :class:`ManagerOptions`
            (``None``: its default).

    Use as an async context manager, or call :meth:`close` when done.
    """

    def __init__(
        self,
        url: str,
        *,
        parser: Parser | None = None,
        rand: Callable[[], float] | None = None,
        options: ManagerOptions | None = None,
        path: str | None = None,
        transports: Sequence[Transport | str] | None = None,
        reconnection: bool | None = None,
        reconnection_attempts: float | None = None,
        reconnection_delay: float | None = None,
        reconnection_delay_max: float | None = None,
        randomization_factor: float | None = None,
        handshake_timeout: float | None = None,
        upgrade_timeout: float | None = None,
        limits: Limits | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> None:
        keywords = (
            path,
            transports,
            reconnection,
            reconnection_attempts,
            reconnection_delay,
            reconnection_delay_max,
            randomization_factor,
            handshake_timeout,
            upgrade_timeout,
            limits,
            headers,
            query,
        )
        if options is None:
            d = _DEFAULTS
            options = ManagerOptions(
                path=_or(path, d.path),
                transports=d.transports if transports is None else transports_of(transports),
                reconnection=_or(reconnection, d.reconnection),
                reconnection_attempts=_or(reconnection_attempts, d.reconnection_attempts),
                reconnection_delay=_or(reconnection_delay, d.reconnection_delay),
                reconnection_delay_max=_or(reconnection_delay_max, d.reconnection_delay_max),
                randomization_factor=_or(randomization_factor, d.randomization_factor),
                handshake_timeout=_or(handshake_timeout, d.handshake_timeout),
                upgrade_timeout=_or(upgrade_timeout, d.upgrade_timeout),
                limits=_or(limits, d.limits),
                headers=_or(headers, d.headers),
                query=_or(query, d.query),
            )
        elif any(value is not None for value in keywords):
            raise TypeError("pass options or keyword options, not both")
        self.url = url
        self.options = options
        self.parser: Parser = parser or JsonParser()
        self.backoff = Backoff(
            base=options.reconnection_delay,
            maximum=options.reconnection_delay_max,
            randomization_factor=options.randomization_factor,
            rand=rand or random.random,
        )
        self.nsps: dict[str, ClientSocket] = {}
        self.tasks = TaskOwner()
        self.engine: EngineClient | None = None
        self._connection = ClientConnection(self.parser, options.limits)
        self._runner: asyncio.Task[None] | None = None
        self._closing = False
        self._closed_reported = True
        self._handlers: dict[str, list[UserCallback]] = {}
        self._close_callbacks: list[Callable[[Manager], None]] = []

    def __repr__(self) -> str:
        return f"<Manager {self.url} sid={self.engine_id} sockets={sorted(self.nsps)}>"

    async def __aenter__(self) -> Manager:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------ status

    @property
    def connection(self) -> ClientConnection:
        """The Socket.IO core of this connection (namespaces, acknowledgements, encoder)."""
        return self._connection

    @property
    def engine_open(self) -> bool:
        """Whether the Engine.IO connection is open now."""
        return self.engine is not None and self.engine.sid is not None and not self.engine.closed

    @property
    def engine_id(self) -> str | None:
        """The Engine.IO session id while connected."""
        return self.engine.sid if self.engine_open and self.engine is not None else None

    @property
    def transport(self) -> Transport | None:
        """The Engine.IO transport in use while connected."""
        return self.engine.transport if self.engine_open and self.engine is not None else None

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closing

    def when_closed(self, callback: Callable[[Manager], None]) -> None:
        """Calls ``callback(manager)`` once :meth:`close` has finished."""
        self._close_callbacks.append(callback)

    # ------------------------------------------------------------ events

    @overload
    def on(self, event: str) -> Callable[[HandlerT], HandlerT]: ...

    @overload
    def on(self, event: str, handler: HandlerT) -> HandlerT: ...

    def on(self, event: str, handler: UserCallback | None = None) -> object:
        """Registers a manager event handler (see the module docstring)."""

        def register(fn: UserCallback) -> UserCallback:
            self._handlers.setdefault(event, []).append(fn)
            return fn

        return register if handler is None else register(handler)

    def _fire(self, event: str, *args: JSONValue) -> None:
        for handler in list(self._handlers.get(event, ())):
            call_handler(handler, args, None, self.tasks, f"manager {event}")

    # ------------------------------------------------------------ sockets

    def socket(
        self,
        namespace: str = "/",
        *,
        auth: Auth | _Unset = UNSET,
        retries: int | None | _Unset = UNSET,
        ack_timeout: float | None | _Unset = UNSET,
    ) -> ClientSocket:
        """The socket for ``namespace`` on this connection (created once, then reused).

        It is not connected yet: register handlers, then ``await sock.connect()``.
        Options given for a socket that exists already are applied to it (the same as
        setting its attributes); options left out keep its values.

        Args:
            namespace: the namespace, e.g. ``"/chat"``.
            auth: CONNECT payload, a dict or a callable asked on every connection.
            retries: resend an unacknowledged event this many times (``None``: off).
            ack_timeout: seconds each try waits for its acknowledgement.

        Raises:
            ValueError: ``retries`` < 0 or ``ack_timeout`` <= 0.
        """
        if not namespace.startswith("/"):
            namespace = "/" + namespace
        sock = self.nsps.get(namespace)
        if sock is None:
            sock = ClientSocket(self, namespace)
            self.nsps[namespace] = sock
        if not isinstance(retries, _Unset):
            sock.retries = retries
        if not isinstance(ack_timeout, _Unset):
            sock.ack_timeout = ack_timeout
        if not isinstance(auth, _Unset):
            sock.auth = auth
        return sock

    def activate(self, sock: ClientSocket) -> None:
        """A socket became active: open the connection, or send its CONNECT now."""
        if self._closing:
            raise ClientConnectionError("manager is closed", reason=ConnectionFailure.CLOSED)
        self.nsps[sock.namespace] = sock
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(self._run(), name="sio-manager")
        elif self.engine_open:
            sock.engine_opened()

    async def deactivate(self, sock: ClientSocket) -> None:
        """A socket left: close the connection once no socket is active (as the JS client)."""
        if not any(s.active for s in self.nsps.values()):
            await self.close()

    def release(self, sock: ClientSocket) -> None:
        """Like :meth:`deactivate`, closing in a task of its own."""
        if not any(s.active for s in self.nsps.values()) and not self._closing:
            self.tasks.spawn(self.deactivate(sock), name="sio-detach")

    # ------------------------------------------------------------ I/O

    def write(self, messages: list[str | bytes]) -> None:
        """Queues encoded Engine.IO messages on the connection (dropped when it is closed).

        Raises:
            PayloadTooLargeError: one of the messages is larger than the server's
                ``maxPayload`` (the server would refuse it and drop the connection);
                nothing was queued.
        """
        engine = self.engine
        if not messages:
            return
        if engine is None or engine.closed:
            logger.debug("no connection, %d message(s) dropped", len(messages))
            return
        limit = engine.session.max_payload
        polling = engine.transport is Transport.POLLING
        for message in messages:
            size = _message_size(message, polling)
            if size > limit:
                raise PayloadTooLargeError(
                    f"a message of {size} bytes exceeds the server's maxPayload of {limit}"
                )
        engine.send_many(messages)

    def _on_message(self, data: str | bytes) -> None:
        if self._closed_reported:
            return  # the rest of a session that has just been given up
        event = self._connection.receive_message(data)
        if event is None:
            return
        if isinstance(event, ConnectionClosed):
            # As the official client: the connection closes with "parse error" and
            # reconnection starts over.
            logger.warning("malformed packet from the server (%s), closing", event.detail)
            self._session_ended(event.reason)
            engine = self.engine
            if engine is not None:
                self.tasks.spawn(engine.close(), name="sio-parse-error")
            return
        sock = self.nsps.get(event.namespace)
        if sock is None:
            logger.debug("packet for unknown namespace %s dropped", event.namespace)
            return
        sock.handle(event)

    def _session_ended(self, reason: DisconnectReason) -> None:
        """The Engine.IO session is over: every socket is disconnected at once.

        Runs synchronously in the engine's close callback, so an emit right after this
        is buffered for the next connection instead of being handed to the dead one.
        """
        if self._closed_reported:
            return
        self._closed_reported = True
        self._report_closed(self._connection.session_ended(reason))
        self._fire("close", reason)

    def _report_closed(self, closed: list[NamespaceClosed]) -> None:
        for record in closed:
            sock = self.nsps.get(record.namespace)
            if sock is not None:
                sock.handle(record)

    def _close_reason(self, reason: DisconnectReason) -> DisconnectReason:
        if self._closing:
            return DisconnectReason.IO_CLIENT_DISCONNECT
        return _REASONS.get(reason, DisconnectReason.TRANSPORT_ERROR)

    def _on_engine_close(self, reason: DisconnectReason) -> None:
        self._session_ended(self._close_reason(reason))

    def _on_upgrade(self) -> None:
        self._fire("upgrade", self.transport)

    async def _run(self) -> None:
        try:
            await self._run_loop()
        except Exception:  # a bug: log it rather than lose it in a task
            logger.exception("manager of %s failed", self.url)

    async def _run_loop(self) -> None:
        options = self.options
        while not self._closing:
            engine = EngineClient(
                self.url,
                path=options.path,
                transports=options.transports,
                on_message=self._on_message,
                on_upgrade=self._on_upgrade,
                on_close=self._on_engine_close,
                query=options.query,
                headers=options.headers,
                handshake_timeout=options.handshake_timeout,
                upgrade_timeout=options.upgrade_timeout,
                max_frame_size=options.limits.max_http_buffer_size,
            )
            self._closed_reported = False
            self.engine = engine
            try:
                await engine.open()
            except ClientConnectionError as exc:
                logger.info("connection to %s failed: %s", self.url, exc)
                self.engine = None
                self._closed_reported = True
                self._fire("error", exc)
                for sock in list(self.nsps.values()):
                    if sock.active:
                        sock.connect_failed(exc)
                if not await self._wait_before_retry(exc):
                    return
                continue
            if self.backoff.attempts:
                self._fire("reconnect", self.backoff.attempts)
            self.backoff.reset()
            self._fire("open")
            for sock in list(self.nsps.values()):
                if sock.active and not sock.connected:
                    sock.engine_opened()
            reason = await engine.wait_closed()
            self._on_engine_close(reason)  # no-op if already reported
            if self._closing or not options.reconnection:
                text = self._close_reason(reason)
                self._give_up(
                    ClientConnectionError(
                        f"connection closed: {text}", reason=ConnectionFailure.CLOSED
                    )
                )
                return
            if not await self._wait_before_retry(None):
                return

    async def _wait_before_retry(self, last: ClientConnectionError | None) -> bool:
        """Sleeps the backoff delay; False when reconnection is over.

        Args:
            last: the error of the attempt that just failed (``None``: the connection
                was open and has been lost); giving up reports it.
        """
        options = self.options
        if self._closing or not options.reconnection:
            self._give_up(
                last
                if last is not None
                else ClientConnectionError("connection lost", reason=ConnectionFailure.CLOSED)
            )
            return False
        if self.backoff.attempts >= options.reconnection_attempts:
            self._fire("reconnect_failed")
            error = ClientConnectionError(
                f"gave up after {self.backoff.attempts} reconnection attempts"
                + ("" if last is None else f"; the last one: {last}"),
                reason=None if last is None else last.reason,
                status=None if last is None else last.status,
            )
            error.__cause__ = last
            self._give_up(error)
            return False
        delay = self.backoff.next_delay()
        self._fire("reconnect_attempt", self.backoff.attempts)
        await asyncio.sleep(delay)
        return not self._closing

    def _give_up(self, exc: ClientConnectionError) -> None:
        for sock in list(self.nsps.values()):
            sock.gave_up(exc)

    # ------------------------------------------------------------ close

    async def close(self) -> None:
        """Closes the connection and stops reconnecting; every socket is disconnected.

        Handler tasks still running are cancelled. Idempotent.
        """
        if self._closing:
            return
        self._closing = True
        engine = self.engine
        if engine is not None:
            with contextlib.suppress(Exception):
                await engine.close()
        runner = self._runner
        if runner is not None and runner is not asyncio.current_task():
            if not runner.done():
                runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        self._session_ended(DisconnectReason.IO_CLIENT_DISCONNECT)
        closed = ClientConnectionError("manager closed", reason=ConnectionFailure.CLOSED)
        for sock in list(self.nsps.values()):
            sock.gave_up(closed)
        self.engine = None
        for callback in self._close_callbacks:
            callback(self)
        await self.tasks.close()
