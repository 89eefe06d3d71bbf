"""plexio's WebSocket protocol for uvicorn: ASGI to the app, its own framing (layer L4).

May import: plexio.native.frames, uvicorn, websockets (to negotiate permessage-deflate).
uvicorn's ``ws=`` setting takes a protocol class; :class:`WebSocketProtocol` is one. It
speaks the ASGI WebSocket spec to the app like uvicorn's own protocols
(``websocket.connect``, ``websocket.receive``, ``websocket.disconnect`` in;
``websocket.accept`` with a subprotocol and headers, ``websocket.send``,
``websocket.close``, and the ``websocket.http.response`` denial out), so any ASGI app
runs on it. Underneath, client frames are read by
:class:`~plexio.native.frames.FrameReader` (masking, fragments, control frames, UTF-8,
``ws_max_size``, permessage-deflate) and server frames are built in place and written
to the transport, without a frame object or a queue object per message: what uvicorn's
``websockets-sansio`` protocol costs per message over the app's own work is most of
what ASGI on uvicorn cost more than plexio's native listener (bench/README.md).

``plexio.run(server="uvicorn")`` uses it; with uvicorn started by hand:
``uvicorn app:app --ws plexio.native.uvicorn:WebSocketProtocol`` (or
``uvicorn.run(app, ws=WebSocketProtocol)``).

What it does as uvicorn's protocols do:

- the handshake (RFC 6455 section 4.2): 400 for a bad request, 426 for another version;
  the app's ``websocket.accept`` headers and subprotocol go into the 101 response, with
  uvicorn's default headers (``server``, ``date``); a ``websocket.close`` before
  accepting answers 403; a ``websocket.http.response.start`` and its body answer with
  that response; an app that fails or returns before accepting gets a 500;
- an app that fails after accepting closes the WebSocket with 1011, one that returns
  without closing it with 1000 (uvicorn's protocols drop the TCP connection there,
  which the peer sees as 1006); a connection lost without a close frame is reported
  as ``websocket.disconnect`` with 1006 (RFC 6455 section 7.1.5; uvicorn's say 1005);
  once the connection ends without the app's close (the peer's close, an error, a
  timeout, shutdown), ``websocket.send`` raises ``ClientDisconnected`` (an ``OSError``,
  as ASGI asks) and ``websocket.close`` does nothing;
- pings are answered with pongs; the peer's close is answered with its code and ends
  the connection; a protocol error, a text message that is not UTF-8 or a message over
  ``ws_max_size`` closes with 1002, 1007 or 1009 (reported to the app as
  ``websocket.disconnect`` with that code); the app's ``websocket.close`` waits up to
  ``close_timeout`` (10 s, uvicorn's) for the peer's answer; a connection that ends
  with bytes still buffered for a peer that does not read them is aborted after
  ``close_timeout`` (not left to wait for the peer forever, with the app's send);
- permessage-deflate (RFC 7692) when ``ws_per_message_deflate`` is on (uvicorn's
  default), negotiated with the same parameters (12-bit windows, ``memLevel`` 5);
- keepalive pings every ``ws_ping_interval`` seconds when set; a peer that sends nothing
  within ``ws_ping_timeout`` after one is closed with 1011 (any frame counts as an
  answer, the pong included);
- flow control: ``send`` waits while the transport's write buffer is over its high-water
  mark (uvicorn's ``pause_writing``), and reading from the socket is paused when the app
  has not taken the messages of the previous read by the time the next read arrives,
  until it takes them all: what waits for an app that does not call ``receive`` is at
  most two reads' worth of messages, then the client's TCP window fills. Reading is
  also paused while the pongs the peer asks for are over the write buffer's high-water
  mark (a peer that pings and never reads cannot grow the buffer), and a read of
  compressed messages is inflated at most ``ws_max_size`` bytes at a time, the rest
  of it held until the app has taken those (a read of small deflate bombs does not
  become hundreds of MiB at once)
  (``websockets-sansio`` pauses after every message; pausing and resuming the socket per
  message is a cost this protocol avoids while the app keeps up);
- server shutdown closes an open WebSocket with 1012.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import enum
import logging
import os
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote

from uvicorn.protocols.utils import (
    ClientDisconnected,
    get_local_addr,
    get_remote_addr,
    is_ssl,
)
from websockets.extensions.permessage_deflate import (
    ServerPerMessageDeflateFactory,
)

from plexio.native.deflate import negotiate_deflate
from plexio.native.frames import (
    FrameError,
    FrameReader,
    Inflate,
    accept_key,
    deflate_payload,
    encode_close_frame,
    encode_control_frame,
    encode_data_frame,
    encode_frame,
    valid_close_code,
)

if TYPE_CHECKING:
    from uvicorn.config import Config
    from uvicorn.server import ServerState

__all__ = ["WebSocketProtocol"]

logger = logging.getLogger("uvicorn.error")

#: The largest request head accepted (uvicorn's HTTP protocol hands over a parsed one).
_MAX_HEAD = 65536

Message = dict[str, Any]
_App = Callable[
    [Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[object],
]


class _State(enum.Enum):
    REQUEST = enum.auto()  # waiting for the request head
    CONNECTING = enum.auto()  # the app has not accepted yet
    RESPONDING = enum.auto()  # the app is sending a denial response
    OPEN = enum.auto()
    CLOSING = enum.auto()  # our close frame is sent (or the connection is ending)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _header_lines(headers: list[tuple[bytes, bytes]]) -> bytes:
    lines = []
    for name, value in headers:
        if b"\r" in name or b"\n" in name or b"\r" in value or b"\n" in value:
            raise RuntimeError(f"invalid header {name!r}: CR or LF in a header")
        lines.append(name + b": " + value + b"\r\n")
    return b"".join(lines)


class _Deflate:
    """Compresses the server's messages (permessage-deflate, RFC 7692 section 7.2.1)."""

    __slots__ = ("_wbits", "_keep", "_encoder")

    def __init__(self, window_bits: int, no_context_takeover: bool) -> None:
        self._wbits = -window_bits
        self._keep = not no_context_takeover
        self._encoder: zlib._Compress | None = None

    def frame(self, message: str | bytes) -> bytes:
        """One final data frame with RSV1 set, carrying ``message`` compressed."""
        if isinstance(message, str):
            payload = message.encode()
            first = 0xC1
        else:
            payload = message
            first = 0xC2
        encoder = self._encoder
        if encoder is None:
            encoder = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, self._wbits, 5)
            if self._keep:
                self._encoder = encoder
        return encode_frame(first, deflate_payload(encoder, payload))


#: uvicorn's own permessage-deflate parameters (as its websockets protocols)
_DEFLATE = ServerPerMessageDeflateFactory(
    server_max_window_bits=12, client_max_window_bits=12, compress_settings={"memLevel": 5}
)


class WebSocketProtocol(asyncio.Protocol):
    """One WebSocket connection under uvicorn (see the module docstring).

    Args:
        config: uvicorn's configuration (the app, ``ws_max_size``, ``root_path``,
            ``ws_ping_interval``, ``ws_ping_timeout``, ``ws_per_message_deflate``).
        server_state: uvicorn's shared state (connections, tasks, default headers).
        app_state: the lifespan state, copied into each scope.
    """

    __slots__ = (
        "config",
        "app",
        "loop",
        "app_state",
        "connections",
        "tasks",
        "default_headers",
        "transport",
        "scope",
        "_state",
        "_head",
        "_reader",
        "_deflate",
        "_extension_header",
        "_accept_key",
        "_queue",
        "_waiter",
        "_disconnect",
        "_read_paused",
        "_writable",
        "_drain",
        "_lost",
        "_response",
        "_close_timer",
        "_ping_timer",
        "_heard",
        "_app_closed",
    )

    #: Seconds the app's close waits for the peer's answer before the TCP connection ends.
    close_timeout = 10.0

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not config.loaded:
            config.load()
        self.config = config
        self.app: _App = cast(Any, config.loaded_app)  # uvicorn's ASGI 3 application
        self.loop = _loop or asyncio.get_event_loop()
        self.app_state = app_state
        self.connections = server_state.connections
        self.tasks = server_state.tasks
        self.default_headers = server_state.default_headers
        self.transport: asyncio.Transport | None = None
        self.scope: Message = {}
        self._state = _State.REQUEST
        self._head = b""
        self._reader = FrameReader(config.ws_max_size)
        self._deflate: _Deflate | None = None
        self._extension_header = b""
        self._accept_key = b""
        self._queue: deque[Message] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._disconnect: Message | None = None  # once queued: the last message there is
        self._read_paused = False
        self._writable = True
        self._drain: asyncio.Future[None] | None = None
        self._lost = False
        self._response: tuple[int, list[tuple[bytes, bytes]], list[bytes]] | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._ping_timer: asyncio.TimerHandle | None = None
        self._heard = False
        self._app_closed = False  # the app sent websocket.close or a denial response

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """uvicorn's HTTP protocol hands the connection over (the request comes next)."""
        self.transport = cast(asyncio.Transport, transport)
        self.connections.add(self)  # type: ignore[arg-type]

    def connection_lost(self, exc: Exception | None) -> None:
        """The TCP connection is gone: the app gets ``websocket.disconnect``.

        Its code is 1006 when no close frame came first (RFC 6455 section 7.1.5: the
        connection was lost; uvicorn's protocols say 1005 once accepted, the code of a
        close frame that came without one).
        """
        self._lost = True
        self._state = _State.CLOSING
        self._queue_disconnect(1006)
        self.connections.discard(self)
        for timer in (self._close_timer, self._ping_timer):
            if timer is not None:
                timer.cancel()
        self._close_timer = self._ping_timer = None
        self._wake_writers()
        if exc is None and self.transport is not None:
            self.transport.close()

    def eof_received(self) -> None:
        """The peer stopped sending: the transport closes itself."""

    def pause_writing(self) -> None:
        """The transport's write buffer is over its high-water mark: ``send`` waits."""
        self._writable = False

    def resume_writing(self) -> None:
        """The write buffer drained under its low-water mark."""
        self._writable = True
        self._wake_writers()
        if self._read_paused and not self._queue:
            self._resume_reading()  # paused for pongs the peer did not read

    def data_received(self, data: bytes) -> None:
        """The request head first, then frames: messages go to the app's queue."""
        if self._state is _State.REQUEST:
            self._read_request(data)
            return
        reader = self._reader
        behind = bool(self._queue)
        messages = reader.feed(data)
        self._heard = True
        if messages and (self._state is _State.OPEN or self._state is _State.CONNECTING):
            queue = self._queue
            for message in messages:
                if isinstance(message, str):
                    queue.append({"type": "websocket.receive", "text": message})
                else:
                    queue.append({"type": "websocket.receive", "bytes": message})
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            if behind and not self._read_paused and self.transport is not None:
                # the app has not taken the last read's messages: let TCP push back
                self._read_paused = True
                self.transport.pause_reading()
        if reader.replies is not None:
            self._control()

    # uvicorn's server

    def shutdown(self) -> None:
        """uvicorn is stopping: an open WebSocket is closed with 1012."""
        transport = self.transport
        if transport is None:
            return
        if self._state is _State.OPEN:
            self._queue_disconnect(1012)
            transport.write(encode_close_frame(1012))
        elif self._state in (_State.REQUEST, _State.CONNECTING):
            self._respond(500, [], b"Internal Server Error")
        self._state = _State.CLOSING
        self._finish()

    # the ASGI side

    async def receive(self) -> Message:
        """The next ``websocket.*`` message for the app."""
        queue = self._queue
        while not queue:
            if self._disconnect is not None:
                return self._disconnect  # the disconnect was taken: it stays the answer
            waiter = self._waiter
            if waiter is None or waiter.done():
                waiter = self._waiter = self.loop.create_future()
            await waiter
        message = queue.popleft()
        if self._read_paused and not queue and self._writable:
            self._resume_reading()
        return message

    async def send(self, message: Message) -> None:
        """Handles one ASGI message from the app (see the module docstring)."""
        if not self._writable:
            await self._writable_again()
        if self._lost:
            raise ClientDisconnected
        kind = message["type"]
        state = self._state
        if state is _State.OPEN:
            transport = self.transport
            assert transport is not None
            if kind == "websocket.send":
                data = message.get("text")
                if data is None:
                    data = message.get("bytes")
                    if data is None:
                        return
                deflate = self._deflate
                if deflate is None:
                    transport.write(encode_data_frame(data))
                else:
                    transport.write(deflate.frame(data))
            elif kind == "websocket.close":
                code: int = message.get("code") or 1000
                reason: str = message.get("reason") or ""
                if not valid_close_code(code):  # 1005, 1006, 1015 and others never go out
                    raise RuntimeError(f"Invalid WebSocket close code {code}.")
                self._app_closed = True
                self._queue_disconnect(code, reason)
                self._close(code, reason)
            else:
                raise RuntimeError(
                    "Expected ASGI message 'websocket.send' or 'websocket.close', "
                    f"but got {kind!r}."
                )
        elif state is _State.CONNECTING:
            if kind == "websocket.accept":
                self._accept(message)
            elif kind == "websocket.close":
                self._app_closed = True
                self._queue_disconnect(1006)
                self._log_response(403)
                self._respond(403, [], b"")
            elif kind == "websocket.http.response.start":
                status: int = message["status"]
                if not 100 <= status < 600:
                    raise RuntimeError(f"Invalid HTTP status code '{status}' in response.")
                self._log_response(status)
                self._response = (status, list(message.get("headers", [])), [])
                self._state = _State.RESPONDING
            else:
                raise RuntimeError(
                    "Expected ASGI message 'websocket.accept', 'websocket.close' or "
                    f"'websocket.http.response.start' but got {kind!r}."
                )
        elif state is _State.RESPONDING:
            if kind != "websocket.http.response.body":
                raise RuntimeError(
                    f"Expected ASGI message 'websocket.http.response.body' but got {kind!r}."
                )
            assert self._response is not None
            status, headers, body = self._response
            body.append(message.get("body", b""))
            if not message.get("more_body", False):
                self._app_closed = True
                self._queue_disconnect(1006)
                self._respond(status, headers, b"".join(body))
        elif self._app_closed:
            raise RuntimeError(
                f"Unexpected ASGI message {kind!r}, after sending 'websocket.close'."
            )
        elif kind != "websocket.close":
            # the connection ended without the app's close (the peer's close, an error,
            # a timeout, shutdown): a closed connection, not a misuse (ASGI: an OSError)
            raise ClientDisconnected

    async def run_asgi(self) -> None:
        """Runs the app for this connection."""
        try:
            result = await self.app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except BaseException:
            logger.exception("Exception in ASGI application\n")
            self._end_for_app(1011)
        else:
            if self._state in (_State.CONNECTING, _State.RESPONDING):
                logger.error("ASGI callable returned without completing handshake.")
            elif result is not None:
                logger.error("ASGI callable should return None, but returned '%s'.", result)
            self._end_for_app(1000)
        if self._close_timer is None and self.transport is not None:
            self._finish()

    # the handshake

    def _read_request(self, data: bytes) -> None:
        head = self._head + data
        end = head.find(b"\r\n\r\n")
        if end < 0:
            if len(head) > _MAX_HEAD:
                self._respond(431, [], b"Request header fields too large")
            else:
                self._head = head
            return
        self._head = b""
        rest = head[end + 4 :]
        lines = head[:end].split(b"\r\n")
        try:
            method, target, version = lines[0].split(b" ", 2)
        except ValueError:
            self._respond(400, [], b"Invalid request line")
            return
        headers: list[tuple[bytes, bytes]] = []
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon:
                self._respond(400, [], b"Invalid header line")
                return
            headers.append((name.strip().lower(), value.strip()))
        problem = self._check_handshake(method, version, headers)
        if problem is not None:
            return
        raw_path, _, query = target.partition(b"?")
        subprotocols: list[str] = []
        for name, value in headers:
            if name == b"sec-websocket-protocol":
                tokens = (t.strip() for t in value.decode("latin-1").split(","))
                subprotocols.extend(t for t in tokens if t)
        transport = self.transport
        assert transport is not None
        root_path: str = self.config.root_path
        self.scope = {
            "type": "websocket",
            "asgi": {"version": self.config.asgi_version, "spec_version": "2.4"},
            "http_version": "1.1",
            "scheme": "wss" if is_ssl(transport) else "ws",
            "server": get_local_addr(transport),
            "client": get_remote_addr(transport),
            "root_path": root_path,
            "path": root_path + unquote(raw_path.decode("latin-1")),
            "raw_path": root_path.encode("latin-1") + raw_path,
            "query_string": query,
            "headers": headers,
            "subprotocols": subprotocols,
            "state": self.app_state.copy(),
            "extensions": {"websocket.http.response": {}},
        }
        self._state = _State.CONNECTING
        self._queue.append({"type": "websocket.connect"})
        task = self.loop.create_task(self.run_asgi())
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)
        if rest:  # frames that came with the request (a client should wait for the 101)
            self.data_received(rest)

    def _check_handshake(
        self, method: bytes, version: bytes, headers: list[tuple[bytes, bytes]]
    ) -> str | None:
        """Why the request is not a WebSocket handshake (answered here), or ``None``."""
        values: dict[bytes, list[bytes]] = {}
        for name, value in headers:
            values.setdefault(name, []).append(value)

        def tokens(name: bytes) -> set[bytes]:
            return {t.strip().lower() for v in values.get(name, []) for t in v.split(b",")}

        problem = None
        if method != b"GET" or version != b"HTTP/1.1":
            problem = "a WebSocket handshake is a GET over HTTP/1.1"
        elif b"upgrade" not in tokens(b"connection"):
            problem = "missing Connection: Upgrade"
        elif b"websocket" not in tokens(b"upgrade"):
            problem = "missing Upgrade: websocket"
        elif values.get(b"sec-websocket-version") != [b"13"]:
            self._respond(
                426, [(b"sec-websocket-version", b"13")], b"Unsupported WebSocket version"
            )
            return "unsupported version"
        else:
            keys = values.get(b"sec-websocket-key", [])
            try:
                valid = len(keys) == 1 and len(base64.b64decode(keys[0], validate=True)) == 16
            except binascii.Error:
                valid = False
            if not valid:
                problem = "invalid Sec-WebSocket-Key"
            else:
                self._accept_key = accept_key(keys[0])
                offers = values.get(b"sec-websocket-extensions")
                if offers and self.config.ws_per_message_deflate:
                    offer = ", ".join(v.decode("latin-1") for v in offers)
                    extension, header = negotiate_deflate(offer, _DEFLATE)
                    if extension is not None:
                        self._extension_header = header.encode()
                        self._deflate = _Deflate(
                            extension.local_max_window_bits,
                            extension.local_no_context_takeover,
                        )
                        self._reader = FrameReader(
                            self.config.ws_max_size,
                            Inflate(
                                extension.remote_max_window_bits,
                                extension.remote_no_context_takeover,
                            ),
                            inflate_budget=self.config.ws_max_size,
                        )
        if problem is not None:
            self._respond(400, [], f"Failed to open a WebSocket connection: {problem}.".encode())
        return problem

    def _accept(self, message: Message) -> None:
        transport = self.transport
        assert transport is not None
        if logger.isEnabledFor(logging.INFO):
            logger.info('%s - "WebSocket %s" [accepted]', self._client(), self._path())
        headers = [
            (b"upgrade", b"websocket"),
            (b"connection", b"Upgrade"),
            (b"sec-websocket-accept", self._accept_key),
        ]
        if self._extension_header:
            headers.append((b"sec-websocket-extensions", self._extension_header))
        subprotocol = message.get("subprotocol")
        if subprotocol:
            headers.append((b"sec-websocket-protocol", subprotocol.encode()))
        headers += self.default_headers
        headers += [(bytes(n).lower(), bytes(v)) for n, v in message.get("headers", [])]
        head = b"HTTP/1.1 101 Switching Protocols\r\n" + _header_lines(headers) + b"\r\n"
        if transport.is_closing():
            return
        transport.write(head)
        self._state = _State.OPEN
        interval = self.config.ws_ping_interval
        if interval is not None and interval > 0:
            self._ping_timer = self.loop.call_later(interval, self._ping)

    def _respond(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        """An HTTP response instead of the upgrade; the connection then ends."""
        self._state = _State.CLOSING
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        given = [(bytes(n).lower(), bytes(v)) for n, v in headers]
        names = {n for n, _ in given}
        extra = [(n, v) for n, v in self.default_headers if n.lower() not in names]
        for name, value in (
            (b"connection", b"close"),
            (b"content-length", str(len(body)).encode()),
            (b"content-type", b"text/plain; charset=utf-8"),
        ):
            if name not in names:
                extra.append((name, value))
        status_line = f"HTTP/1.1 {status} {_phrase(status)}\r\n".encode()
        transport.write(status_line + _header_lines(given + extra) + b"\r\n" + body)
        self._finish()

    def _end_for_app(self, code: int) -> None:
        """The app is done: a 500 before accepting, a close frame with ``code`` if open."""
        state = self._state
        if state in (_State.REQUEST, _State.CONNECTING, _State.RESPONDING):
            self._respond(500, [], b"Internal Server Error")
        elif state is _State.OPEN:
            self._state = _State.CLOSING
            transport = self.transport
            if transport is not None and not transport.is_closing():
                transport.write(encode_close_frame(code))

    # the open connection

    def _control(self) -> None:
        """Pongs to send, the peer's close, or bad input (off the hot path)."""
        reader = self._reader
        replies = reader.replies
        reader.replies = None
        transport = self.transport
        if transport is None:
            return
        if reader.held and not self._read_paused:
            # a read of compressed messages inflated past ws_max_size: the rest of it
            # waits (in the reader) until the app has taken these, and so does the socket
            self._read_paused = True
            transport.pause_reading()
        if replies and self._state is _State.OPEN:
            transport.write(b"".join(replies))
            if not self._writable and not self._read_paused:
                # the peer pings and does not read the pongs: read no more until it does
                self._read_paused = True
                transport.pause_reading()
        error = reader.error
        if error is not None:
            code = int(error.close_code)
            reason = "message too big" if error is FrameError.TOO_BIG else ""
            if self._state is _State.OPEN:
                self._queue_disconnect(code, reason)
                transport.write(encode_close_frame(code, reason))
            self._state = _State.CLOSING
            self._finish()
            return
        closed = reader.closed
        if closed is None:
            return
        if self._state is _State.OPEN:
            # the peer's close: answered with its code, then the connection ends
            self._queue_disconnect(closed, reader.detail)
            transport.write(
                encode_control_frame(8) if closed == 1005 else encode_close_frame(closed)
            )
        self._state = _State.CLOSING
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        self._finish()

    def _close(self, code: int, reason: str) -> None:
        """The app's close: our close frame, then the peer's answer (or the timeout)."""
        transport = self.transport
        assert transport is not None
        self._state = _State.CLOSING
        if transport.is_closing():
            return
        transport.write(encode_close_frame(code, reason))
        self._resume_reading()  # to see the answer
        self._close_timer = self.loop.call_later(self.close_timeout, self._give_up)

    def _ping(self) -> None:
        self._ping_timer = None
        transport = self.transport
        if self._state is not _State.OPEN or transport is None or transport.is_closing():
            return
        transport.write(encode_control_frame(9, os.urandom(4)))
        self._heard = False
        timeout = self.config.ws_ping_timeout
        interval = self.config.ws_ping_interval or 0.0
        if timeout is None:
            self._ping_timer = self.loop.call_later(interval, self._ping)
        else:
            self._ping_timer = self.loop.call_later(timeout, self._check_pong, interval - timeout)

    def _check_pong(self, until_next: float) -> None:
        self._ping_timer = None
        transport = self.transport
        if self._state is not _State.OPEN or transport is None or transport.is_closing():
            return
        if self._heard:
            self._ping_timer = self.loop.call_later(max(0.0, until_next), self._ping)
            return
        self._queue_disconnect(1011, "keepalive ping timeout")
        transport.write(encode_close_frame(1011, "keepalive ping timeout"))
        self._state = _State.CLOSING
        self._finish()

    # helpers

    def _finish(self) -> None:
        """Ends the TCP connection once what is buffered is written, or after
        ``close_timeout`` if the peer does not read it (``transport.close`` alone
        would wait for that forever, and so would an app's pending send)."""
        transport = self.transport
        if transport is None:
            return
        transport.close()
        if self._close_timer is None and transport.get_write_buffer_size():
            self._close_timer = self.loop.call_later(self.close_timeout, transport.abort)

    def _give_up(self) -> None:
        """The peer did not answer the app's close in time."""
        self._close_timer = None
        self._finish()

    def _queue_disconnect(self, code: int, reason: str = "") -> None:
        if self._disconnect is not None:
            return
        message: Message = {"type": "websocket.disconnect", "code": code, "reason": reason}
        self._disconnect = message
        self._queue.append(message)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _resume_reading(self) -> None:
        if self._read_paused:
            while self._reader.held:  # what the last read held back comes first
                self.data_received(b"")
                if self._queue and self._state in (_State.OPEN, _State.CONNECTING):
                    return  # the app has messages again: its receive comes back here
            self._read_paused = False
            transport = self.transport
            if transport is not None and not transport.is_closing():
                transport.resume_reading()

    async def _writable_again(self) -> None:
        while not self._writable and not self._lost:
            drain = self._drain
            if drain is None or drain.done():
                drain = self._drain = self.loop.create_future()
            await drain

    def _wake_writers(self) -> None:
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    def _client(self) -> str:
        client = self.scope.get("client")
        return f"{client[0]}:{client[1]}" if client else ""

    def _path(self) -> str:
        query = self.scope.get("query_string", b"")
        path: str = self.scope.get("path", "")
        return f"{path}?{query.decode('latin-1')}" if query else path

    def _log_response(self, status: int) -> None:
        if logger.isEnabledFor(logging.INFO):
            logger.info('%s - "WebSocket %s" %d', self._client(), self._path(), status)
