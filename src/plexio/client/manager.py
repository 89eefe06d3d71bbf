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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from plexio.aio.handlers import TaskOwner, call_handler
from plexio.client.backoff import Backoff
from plexio.client.engine import EngineClient
from plexio.client.socket import Auth, ClientSocket, Handler
from plexio.config import Limits
from plexio.engineio.events import DisconnectReason
from plexio.exceptions import ClientConnectionError, DecodeError, PayloadTooLargeError
from plexio.socketio.packets import Packet
from plexio.socketio.parser import Decoder, JsonParser, Parser

__all__ = ["Manager", "ManagerOptions"]

logger = logging.getLogger(__name__)

#: Engine.IO close reasons as the JS client names them for ``disconnect`` handlers.
_REASONS: Final = {
    DisconnectReason.FORCED_CLOSE: "io client disconnect",
    DisconnectReason.PING_TIMEOUT: "ping timeout",
    DisconnectReason.TRANSPORT_CLOSE: "transport close",
    DisconnectReason.TRANSPORT_ERROR: "transport error",
    DisconnectReason.PARSE_ERROR: "parse error",
}


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
        timeout: seconds the Engine.IO handshake may take.
        upgrade_timeout: seconds a WebSocket upgrade probe may take.
        limits: decoding limits for what the server sends (``max_payload`` also caps
            WebSocket frames).
        headers: extra HTTP headers on every request.
        query: extra query parameters on every request.
    """

    path: str = "/socket.io/"
    transports: tuple[str, ...] = ("polling", "websocket")
    reconnection: bool = True
    reconnection_attempts: float = math.inf
    reconnection_delay: float = 1.0
    reconnection_delay_max: float = 5.0
    randomization_factor: float = 0.5
    timeout: float = 20.0
    upgrade_timeout: float = 10.0
    limits: Limits = field(default_factory=Limits)
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.transports or any(t not in ("polling", "websocket") for t in self.transports):
            raise ValueError("transports must be a non-empty subset of polling, websocket")
        if self.reconnection_attempts < 0:
            raise ValueError("reconnection_attempts must be >= 0")
        if self.timeout <= 0 or self.upgrade_timeout <= 0:
            raise ValueError("timeouts must be > 0")


class Manager:
    """Owns one Engine.IO connection and the namespace sockets multiplexed over it.

    Args:
        url: the server origin, ``http(s)://host:port`` (``ws(s)://`` also accepted).
        parser: Socket.IO codec (default JSON; ``MsgPackParser()`` for msgpack).
        rand: random source for the backoff jitter (tests inject one).
        options: a :class:`ManagerOptions`; or give its fields as keyword arguments.
        **kwargs: :class:`ManagerOptions` fields (``transports``, ``reconnection_delay``...).

    Use as an async context manager, or call :meth:`close` when done.
    """

    def __init__(
        self,
        url: str,
        *,
        parser: Parser | None = None,
        rand: Callable[[], float] | None = None,
        options: ManagerOptions | None = None,
        **kwargs: Any,
    ) -> None:
        if options is None:
            if "transports" in kwargs:
                kwargs["transports"] = tuple(kwargs["transports"])
            options = ManagerOptions(**kwargs)
        elif kwargs:
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
        self._decoder: Decoder = self.parser.decoder(options.limits)
        self._runner: asyncio.Task[None] | None = None
        self._closing = False
        self._closed_reported = True
        self._handlers: dict[str, list[Handler]] = {}
        self._on_closed: list[Callable[[Manager], None]] = []

    def __repr__(self) -> str:
        return f"<Manager {self.url} sid={self.engine_id} sockets={sorted(self.nsps)}>"

    async def __aenter__(self) -> Manager:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------ status

    @property
    def engine_open(self) -> bool:
        """Whether the Engine.IO connection is open now."""
        return self.engine is not None and self.engine.sid is not None and not self.engine.closed

    @property
    def engine_id(self) -> str | None:
        """The Engine.IO session id while connected."""
        return self.engine.sid if self.engine_open and self.engine is not None else None

    @property
    def transport(self) -> str | None:
        """The Engine.IO transport in use while connected."""
        return self.engine.transport if self.engine_open and self.engine is not None else None

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closing

    # ------------------------------------------------------------ events

    def on(self, event: str, handler: Handler | None = None) -> Any:
        """Registers a manager event handler (see the module docstring)."""

        def register(fn: Handler) -> Handler:
            self._handlers.setdefault(event, []).append(fn)
            return fn

        return register if handler is None else register(handler)

    def _fire(self, event: str, *args: Any) -> None:
        for handler in list(self._handlers.get(event, ())):
            call_handler(handler, args, None, self.tasks, f"manager {event}")

    # ------------------------------------------------------------ sockets

    def socket(
        self,
        namespace: str = "/",
        *,
        auth: Auth = None,
        retries: int | None = None,
        ack_timeout: float | None = None,
    ) -> ClientSocket:
        """The socket for ``namespace`` on this connection (created once, then reused).

        It is not connected yet: register handlers, then ``await sock.connect()``.

        Args:
            namespace: the namespace, e.g. ``"/chat"``.
            auth: CONNECT payload, a dict or a callable asked on every connection.
            retries: resend an unacknowledged event this many times (``None``: off).
            ack_timeout: seconds each try waits for its acknowledgement.
        """
        if not namespace.startswith("/"):
            namespace = "/" + namespace
        sock = self.nsps.get(namespace)
        if sock is None:
            sock = ClientSocket(
                self, namespace, auth=auth, retries=retries, ack_timeout=ack_timeout
            )
            self.nsps[namespace] = sock
        elif auth is not None:
            sock.auth = auth
        return sock

    def _attach(self, sock: ClientSocket) -> None:
        """A socket became active: open the connection, or send its CONNECT now."""
        if self._closing:
            raise ClientConnectionError("manager is closed")
        self.nsps[sock.namespace] = sock
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(self._run(), name="sio-manager")
        elif self.engine_open:
            sock._send_connect()

    async def _detach(self, sock: ClientSocket) -> None:
        """A socket left: close the connection once no socket is active (as the JS client)."""
        if not any(s.active for s in self.nsps.values()):
            await self.close()

    def _schedule_detach(self, sock: ClientSocket) -> None:
        if not any(s.active for s in self.nsps.values()) and not self._closing:
            self.tasks.spawn(self._detach(sock), name="sio-detach")

    # ------------------------------------------------------------ I/O

    def _send_packet(self, packet: Packet) -> None:
        """Encodes ``packet`` and queues its messages on the connection.

        Raises:
            LocalProtocolError: the data cannot be encoded.
            PayloadTooLargeError: one of its messages is larger than the server's
                ``maxPayload`` (the server would refuse it and drop the connection);
                nothing was queued.
        """
        engine = self.engine
        if engine is None or engine.closed:
            logger.debug("no connection, packet dropped: %s", packet)
            return
        messages = self.parser.encode(packet)
        limit = engine.session.max_payload
        polling = engine.transport == "polling"
        for message in messages:
            size = _message_size(message, polling)
            if size > limit:
                raise PayloadTooLargeError(
                    f"a message of {size} bytes exceeds the server's maxPayload of {limit}"
                )
        engine.send_many(messages)

    def _on_message(self, data: str | bytes) -> None:
        try:
            packet = self._decoder.feed(data)
        except DecodeError as exc:
            logger.warning("malformed packet from the server (%s), closing", exc)
            engine = self.engine
            if engine is not None:
                engine.session.receive_eof(DisconnectReason.PARSE_ERROR)
                engine._handle(engine.session.events())
            return
        if packet is None:
            return
        sock = self.nsps.get(packet.namespace)
        if sock is None:
            logger.debug("packet for unknown namespace %s dropped", packet.namespace)
            return
        sock._on_packet(packet)

    def _close_text(self, reason: DisconnectReason) -> str:
        return "io client disconnect" if self._closing else _REASONS.get(reason, str(reason))

    def _on_engine_close(self, reason: DisconnectReason) -> None:
        """The Engine.IO session ended: every socket is disconnected at once.

        Called synchronously by the engine, so an emit right after this is buffered
        for the next connection instead of being handed to the dead one.
        """
        if self._closed_reported:
            return
        self._closed_reported = True
        self._decoder.reset()
        text = self._close_text(reason)
        for sock in list(self.nsps.values()):
            sock._on_close(text)
        self._fire("close", text)

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
                connect_timeout=options.timeout,
                upgrade_timeout=options.upgrade_timeout,
                max_frame_size=options.limits.max_payload,
            )
            self._decoder = self.parser.decoder(options.limits)
            self._closed_reported = False
            self.engine = engine
            try:
                await engine.open()
            except ClientConnectionError as exc:
                logger.info("connection to %s failed: %s", self.url, exc)
                self.engine = None
                self._fire("error", exc)
                for sock in list(self.nsps.values()):
                    if sock.active:
                        sock._on_manager_failed(exc)
                if not await self._wait_before_retry():
                    return
                continue
            if self.backoff.attempts:
                self._fire("reconnect", self.backoff.attempts)
            self.backoff.reset()
            self._fire("open")
            for sock in list(self.nsps.values()):
                if sock.active and not sock.connected:
                    sock._send_connect()
            reason = await engine.wait_closed()
            self._on_engine_close(reason)  # no-op if already reported
            text = self._close_text(reason)
            if self._closing or not options.reconnection:
                self._give_up(ClientConnectionError(f"connection closed: {text}"))
                return
            if not await self._wait_before_retry():
                return

    async def _wait_before_retry(self) -> bool:
        """Sleeps the backoff delay; False when reconnection is over."""
        options = self.options
        if self._closing or not options.reconnection:
            self._give_up(ClientConnectionError("connection failed"))
            return False
        if self.backoff.attempts >= options.reconnection_attempts:
            self._fire("reconnect_failed")
            self._give_up(
                ClientConnectionError(
                    f"gave up after {self.backoff.attempts} reconnection attempts"
                )
            )
            return False
        delay = self.backoff.next_delay()
        self._fire("reconnect_attempt", self.backoff.attempts)
        await asyncio.sleep(delay)
        return not self._closing

    def _give_up(self, exc: ClientConnectionError) -> None:
        for sock in list(self.nsps.values()):
            sock._on_manager_gave_up(exc)

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
        for sock in list(self.nsps.values()):
            sock.active = False
            sock._on_close("io client disconnect")
            sock._on_manager_gave_up(ClientConnectionError("manager closed"))
        self.engine = None
        for hook in self._on_closed:
            hook(self)
        await self.tasks.close()
