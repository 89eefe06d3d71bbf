"""EngineClient: one Engine.IO v4 connection driven by the sans-I/O client session (layer L3).

May import: plexio L0 modules, plexio.engineio; the third-party ``httpx`` (long-polling)
and ``websockets`` (WebSocket) clients. Never plexio.server or plexio.asgi.

The :class:`~plexio.engineio.client.ClientSession` decides everything protocol-wise;
this module only moves bytes and owns the tasks that do so:

* polling: a reader that keeps one GET outstanding, a writer that sends one POST at a
  time (each under the server's ``maxPayload``);
* WebSocket: a reader and the same writer draining frames;
* a heartbeat timer: if the server stops pinging, the session closes with ``ping timeout``;
* an upgrade task that probes a WebSocket while polling goes on, pauses polling once
  the server answers ``3probe``, waits for the in-flight GET and POST, sends ``5`` and
  flushes the buffered packets over the WebSocket (PROTOCOL.md item 43); if the probe
  fails polling simply goes on.

Every task is kept in an explicit set and cancelled when the connection ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
import ssl
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from plexio.engineio.client import ClientEvent, ClientSession, Opened
from plexio.engineio.events import Disconnected, DisconnectReason, MessageReceived, Upgraded
from plexio.enums import Transport, transports_of
from plexio.exceptions import ClientConnectionError, ConnectionFailure

__all__ = [
    "EngineClient",
    "connect_failure",
    "engine_url",
    "websocket_close_reason",
]

logger = logging.getLogger(__name__)

_TEXT_PLAIN: Final = {"content-type": "text/plain;charset=UTF-8"}
_FINAL_FLUSH_TIMEOUT: Final = 2.0
#: Close codes websockets sends when *it* fails the connection (the server broke the
#: WebSocket protocol): the official client reports those as "transport error".
_FAILED_CLOSE_CODES: Final = frozenset({1002, 1007, 1009})


def connect_failure(exc: BaseException) -> ConnectionFailure:
    """What kind of failure ``exc`` (raised while connecting) is, looking at its causes."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError | ssl.CertificateError):
            return ConnectionFailure.TLS
        if isinstance(current, ConnectionRefusedError):
            return ConnectionFailure.REFUSED
        if isinstance(current, socket.gaierror):
            return ConnectionFailure.UNREACHABLE
        if isinstance(current, TimeoutError | httpx.TimeoutException):
            return ConnectionFailure.TIMEOUT
        if isinstance(current, InvalidStatus):
            return ConnectionFailure.HTTP_STATUS
        current = current.__cause__ or current.__context__
    if isinstance(exc, OSError | httpx.TransportError):
        return ConnectionFailure.UNREACHABLE
    return ConnectionFailure.PROTOCOL


def websocket_close_reason(exc: ConnectionClosed) -> DisconnectReason:
    """How the official client names the end of a WebSocket that ``exc`` reports.

    The peer going away, with or without a close frame (a crashed server), is a
    "transport close" (``ws`` emits only ``close`` then); only a connection that this
    side failed because the server broke the protocol is a "transport error".
    """
    sent = exc.sent
    if sent is not None and sent.code in _FAILED_CLOSE_CODES and exc.rcvd is None:
        return DisconnectReason.TRANSPORT_ERROR
    return DisconnectReason.TRANSPORT_CLOSE


def engine_url(url: str, path: str) -> str:
    """The Engine.IO endpoint for ``url`` (scheme and host kept) mounted at ``path``.

    Args:
        url: ``http(s)://`` or ``ws(s)://`` origin; its own path is ignored.
        path: the mount path, e.g. ``/socket.io/``.

    Raises:
        ValueError: an unsupported scheme.
    """
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    if scheme not in ("http", "https"):
        raise ValueError(f"unsupported URL scheme {parts.scheme!r} (use http, https, ws, wss)")
    if not path.startswith("/"):
        path = "/" + path
    if not path.endswith("/"):
        path += "/"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def _ws_url(http_url: str) -> str:
    return "ws" + http_url[4:] if http_url.startswith("http") else http_url


class EngineClient:
    """One Engine.IO connection, client side.

    Args:
        url: the server origin (``http://host:port``).
        path: the Engine.IO mount path.
        transports: ``("polling", "websocket")`` (poll, then upgrade) or either alone.
        on_message: called with each received message (``str`` text, ``bytes`` binary),
            in order, on the event loop; it must not raise.
        on_upgrade: called once the connection runs over WebSocket after an upgrade.
        on_close: called with the reason as soon as the session has ended (before the
            tasks are stopped), so nothing more is handed to a dead connection.
        query: extra query parameters sent with every request.
        headers: extra HTTP headers (handshake, polling requests, WebSocket).
        handshake_timeout: seconds the handshake may take.
        upgrade_timeout: seconds an upgrade probe may take.
        max_frame_size: largest WebSocket message accepted (``None``: no limit).
    """

    def __init__(
        self,
        url: str,
        *,
        path: str = "/engine.io/",
        transports: Sequence[Transport | str] = (Transport.POLLING, Transport.WEBSOCKET),
        on_message: Callable[[str | bytes], None],
        on_upgrade: Callable[[], None] | None = None,
        on_close: Callable[[DisconnectReason], None] | None = None,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        handshake_timeout: float = 20.0,
        upgrade_timeout: float = 10.0,
        max_frame_size: int | None = 1_000_000,
    ) -> None:
        self.transports = transports_of(transports)
        self.base_url = engine_url(url, path)
        self._on_message = on_message
        self._on_upgrade = on_upgrade
        self._on_close = on_close
        self._query = dict(query or {})
        self._headers = dict(headers or {})
        self._handshake_timeout = handshake_timeout
        self._upgrade_timeout = upgrade_timeout
        self._max_frame_size = max_frame_size
        self.session = ClientSession(self.transports[0])
        self._http: httpx.AsyncClient | None = None
        self._ws: ClientConnection | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._reader: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closed = asyncio.Event()
        self._post_lock = asyncio.Lock()
        self._finished = asyncio.Event()
        self.reason: DisconnectReason | None = None

    # ------------------------------------------------------------------ status

    @property
    def sid(self) -> str | None:
        """The Engine.IO session id, once open."""
        return self.session.sid

    @property
    def transport(self) -> Transport:
        """The transport in use."""
        return self.session.transport

    @property
    def closed(self) -> bool:
        """Whether the connection has ended."""
        return self._closed.is_set()

    # ------------------------------------------------------------------ open

    async def open(self) -> None:
        """Performs the handshake and starts the background tasks.

        Raises:
            ClientConnectionError: the server could not be reached or refused the
                handshake; its ``reason`` says why (refused, unreachable, timeout, TLS,
                HTTP status with ``status`` set, protocol), the message gives the
                details and ``__cause__`` the underlying exception.
        """
        loop = asyncio.get_running_loop()
        self.session = ClientSession(self.transports[0], now=loop.time())
        try:
            async with asyncio.timeout(self._handshake_timeout):
                if self.transports[0] is Transport.POLLING:
                    await self._open_polling()
                else:
                    await self._open_websocket()
        except TimeoutError as exc:
            await self._release()
            raise ClientConnectionError(
                f"handshake with {self.base_url} timed out after {self._handshake_timeout} s",
                reason=ConnectionFailure.TIMEOUT,
            ) from exc
        except InvalidStatus as exc:
            await self._release()
            status = exc.response.status_code
            raise ClientConnectionError(
                f"{self.base_url} refused the WebSocket handshake: HTTP {status}",
                reason=ConnectionFailure.HTTP_STATUS,
                status=status,
            ) from exc
        except (httpx.HTTPError, OSError, WebSocketException) as exc:
            await self._release()
            failure = connect_failure(exc)
            raise ClientConnectionError(
                f"cannot connect to {self.base_url}: {failure} ({exc or type(exc).__name__})",
                reason=failure,
            ) from exc
        except ClientConnectionError:
            await self._release()
            raise
        events = self.session.events()
        if not events or not isinstance(events[0], Opened):
            await self._release()
            reason = self.session.close_reason or "no open packet"
            raise ClientConnectionError(
                f"handshake with {self.base_url} failed: {reason}",
                reason=ConnectionFailure.PROTOCOL,
            )
        self._spawn(self._timer(), "eio-timer")
        self._spawn(self._writer(), "eio-writer")
        if self.transport is Transport.POLLING:
            self._reader = self._spawn(self._poll_reader(), "eio-poll")
            if Transport.WEBSOCKET in self.transports and self.session.can_upgrade:
                self._spawn(self._upgrade(), "eio-upgrade")
        else:
            self._spawn(self._ws_reader(), "eio-ws")
        self._spawn(self._supervise(), "eio-supervisor")
        self._handle(events[1:])

    def _params(self, transport: Transport) -> dict[str, str]:
        params = dict(self._query)
        params["EIO"] = "4"
        params["transport"] = transport
        if self.session.sid is not None:
            params["sid"] = self.session.sid
        return params

    async def _open_polling(self) -> None:
        self._http = httpx.AsyncClient(
            headers=self._headers,
            timeout=httpx.Timeout(self._handshake_timeout, read=None),
            trust_env=False,
        )
        params = self._params(Transport.POLLING)
        params["t"] = secrets.token_urlsafe(6)
        response = await self._http.get(self.base_url, params=params)
        if response.status_code != 200:
            raise ClientConnectionError(
                f"{self.base_url} refused the handshake: HTTP {response.status_code} "
                f"{response.text[:200]!r}",
                reason=ConnectionFailure.HTTP_STATUS,
                status=response.status_code,
            )
        self.session.receive_payload(response.text, asyncio.get_running_loop().time())

    async def _connect_ws(self, timeout: float) -> ClientConnection:
        url = str(httpx.URL(_ws_url(self.base_url), params=self._params(Transport.WEBSOCKET)))
        return await ws_connect(
            url,
            additional_headers=self._headers or None,
            open_timeout=timeout,
            max_size=self._max_frame_size,
            ping_interval=None,  # Engine.IO has its own heartbeat
            proxy=None,
        )

    async def _open_websocket(self) -> None:
        self._ws = await self._connect_ws(self._handshake_timeout)
        frame = await self._ws.recv()
        self.session.receive_frame(frame, asyncio.get_running_loop().time())

    # ------------------------------------------------------------------ send / close

    def send(self, data: str | bytes) -> None:
        """Queues one message (``str`` text, ``bytes`` binary) and wakes the writer.

        Raises:
            ClientConnectionError: the connection is closed.
        """
        if self.session.closed:
            raise ClientConnectionError(
                "Engine.IO connection is closed", reason=ConnectionFailure.CLOSED
            )
        self.session.send_message(data)
        self._wake.set()

    def send_many(self, messages: list[str | bytes]) -> None:
        """Queues several messages that travel in order (a packet and its attachments)."""
        if self.session.closed:
            raise ClientConnectionError(
                "Engine.IO connection is closed", reason=ConnectionFailure.CLOSED
            )
        for data in messages:
            self.session.send_message(data)
        self._wake.set()

    async def close(self) -> None:
        """Closes the connection: sends ``1`` (close) to the server, then stops everything."""
        if not self.session.closed:
            self.session.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(_FINAL_FLUSH_TIMEOUT):
                    await self._final_flush()
            self._handle(self.session.events())
        await self.wait_closed()

    async def _final_flush(self) -> None:
        if self.session.sid is None:
            return
        if self._ws is not None and self.transport is Transport.WEBSOCKET:
            for frame in self.session.data_to_send():
                await self._ws.send(frame)
        elif self._http is not None:
            async with self._post_lock:
                body = self.session.payload_to_send()
                while body is not None:
                    await self._post(body)
                    body = self.session.payload_to_send()

    async def wait_closed(self) -> DisconnectReason:
        """Waits until the connection has ended and everything is released.

        Returns:
            Why it ended (``forced close`` when :meth:`close` was called).
        """
        if not self._tasks and not self._finished.is_set():
            # Never started (or failed to open): nothing to wait for.
            await self._release()
            self._finished.set()
        await self._finished.wait()
        return self.reason or DisconnectReason.TRANSPORT_CLOSE

    # ------------------------------------------------------------------ tasks

    def _spawn(self, coro: Coroutine[object, object, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _supervise(self) -> None:
        await self._closed.wait()
        current = asyncio.current_task()
        others = [t for t in self._tasks if t is not current]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        await self._release()
        self._finished.set()

    async def _release(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        http, self._http = self._http, None
        if http is not None:
            with contextlib.suppress(Exception):
                await http.aclose()

    def _handle(self, events: list[ClientEvent]) -> None:
        for event in events:
            if isinstance(event, MessageReceived):
                try:
                    self._on_message(event.data)
                except Exception:
                    logger.exception("message handler failed")
            elif isinstance(event, Upgraded):
                if self._on_upgrade is not None:
                    try:
                        self._on_upgrade()
                    except Exception:
                        logger.exception("upgrade handler failed")
            elif isinstance(event, Disconnected):
                self.reason = event.reason
                logger.debug("Engine.IO session %s closed: %s", self.sid, event.reason)
                self._closed.set()
                if self._on_close is not None and self._tasks:
                    try:
                        self._on_close(event.reason)
                    except Exception:
                        logger.exception("close handler failed")
        if self.session.has_data():
            self._wake.set()

    def _lost(self, reason: DisconnectReason) -> None:
        self.session.receive_eof(reason)
        self._handle(self.session.events())

    async def _post(self, body: str) -> None:
        assert self._http is not None
        response = await self._http.post(
            self.base_url,
            params=self._params(Transport.POLLING),
            content=body.encode(),
            headers=_TEXT_PLAIN,
        )
        if response.status_code != 200:
            raise ClientConnectionError(
                f"POST refused: HTTP {response.status_code}",
                reason=ConnectionFailure.HTTP_STATUS,
                status=response.status_code,
            )

    async def _writer(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                if self.session.closed:
                    return
                ws = self._ws
                if self.transport is Transport.WEBSOCKET and ws is not None:
                    for frame in self.session.data_to_send():
                        await ws.send(frame)
                    continue
                body = self.session.payload_to_send()
                while body is not None:
                    async with self._post_lock:
                        await self._post(body)
                    body = self.session.payload_to_send()
        except ConnectionClosed as exc:
            logger.debug("Engine.IO write failed: %s", exc)
            self._lost(websocket_close_reason(exc))
        except (httpx.HTTPError, OSError, WebSocketException, ClientConnectionError) as exc:
            logger.debug("Engine.IO write failed: %s", exc)
            self._lost(DisconnectReason.TRANSPORT_ERROR)

    async def _poll_reader(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not self.session.polling_paused and self.transport is Transport.POLLING:
                assert self._http is not None
                response = await self._http.get(
                    self.base_url, params=self._params(Transport.POLLING)
                )
                if response.status_code != 200:
                    logger.debug("poll refused: HTTP %s", response.status_code)
                    self._lost(DisconnectReason.TRANSPORT_ERROR)
                    return
                self.session.receive_payload(response.text, loop.time())
                self._handle(self.session.events())
        except (httpx.HTTPError, OSError) as exc:
            logger.debug("poll failed: %s", exc)
            self._lost(DisconnectReason.TRANSPORT_ERROR)

    async def _ws_reader(self) -> None:
        loop = asyncio.get_running_loop()
        ws = self._ws
        assert ws is not None
        try:
            while True:
                frame = await ws.recv()
                self.session.receive_frame(frame, loop.time())
                self._handle(self.session.events())
        except ConnectionClosed as exc:
            logger.debug("WebSocket closed: %s", exc)
            self._lost(websocket_close_reason(exc))
        except (WebSocketException, OSError) as exc:
            logger.debug("WebSocket failed: %s", exc)
            self._lost(DisconnectReason.TRANSPORT_ERROR)

    async def _timer(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            deadline = self.session.next_deadline()
            if deadline is None:
                return
            await asyncio.sleep(max(0.0, deadline - loop.time()))
            self.session.handle_timeout(loop.time())
            self._handle(self.session.events())

    async def _upgrade(self) -> None:
        try:
            probe = await self._connect_ws(self._upgrade_timeout)
        except (OSError, WebSocketException, TimeoutError) as exc:
            logger.debug("upgrade: cannot open the WebSocket: %s", exc)
            return
        upgraded = False
        try:
            async with asyncio.timeout(self._upgrade_timeout):
                await probe.send(self.session.begin_upgrade())
                answer = await probe.recv()
                if not self.session.receive_probe_frame(answer):
                    logger.debug("upgrade: unexpected probe answer %r", answer[:20])
                    return
                # Polling is paused: let the in-flight GET (answered with a noop by the
                # server) and POST finish before switching.
                if self._reader is not None:
                    await asyncio.wait({self._reader})
                async with self._post_lock:
                    self.session.finish_upgrade()
                    self._ws = probe
                    upgraded = True
            self._spawn(self._ws_reader(), "eio-ws")
            self._handle(self.session.events())
        except (OSError, WebSocketException, TimeoutError) as exc:
            logger.debug("upgrade failed: %s", exc)
        finally:
            if not upgraded:
                self.session.abort_upgrade()
                with contextlib.suppress(Exception):
                    await probe.close()
                if (
                    not self.session.closed
                    and self.transport is Transport.POLLING
                    and (self._reader is None or self._reader.done())
                ):
                    self._reader = self._spawn(self._poll_reader(), "eio-poll")
                self._wake.set()
