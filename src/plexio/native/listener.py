"""The native listener: HTTP/1.1 and WebSocket straight on asyncio (layer L4).

May import: plexio L0, plexio.transports, plexio.server. It serves one Engine.IO (or
Socket.IO) server without ASGI in between: ``httptools`` (when installed, else
``h11``) parses HTTP, and :mod:`plexio.native.frames` reads and builds WebSocket
frames (masking, fragments, control frames, the close handshake, permessage-deflate);
``websockets`` is used only to negotiate permessage-deflate at the upgrade. A server
frame is unmasked, so the bytes of a broadcast frame are computed once and written to
every recipient (RFC 6455 section 5.2), and everything queued for a socket in one loop
tick leaves in one ``write``.

Only the Engine.IO path is served (404 elsewhere); an ``ASGIApp`` with an ``other_app``
is refused: put it behind an ASGI server when other routes share the port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl as ssl_module
import struct
import zlib
from collections.abc import Callable
from typing import Literal, cast
from urllib.parse import parse_qsl

from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)

from plexio.engineio.events import DisconnectReason
from plexio.exceptions import HandshakeError
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
)
from plexio.native.http import (
    BadRequest,
    HttpParserName,
    RequestParser,
    UpgradeRequested,
    make_parser,
    resolve_parser,
)
from plexio.server.engine import EngineEndpoint, EngineServer, WebSocketTarget, WebSocketVerdict
from plexio.transports.base import HttpRequest, HttpResponse

__all__ = ["HttpConnection", "NativeWebSocket", "encode_data_frame", "servable", "serve"]

logger = logging.getLogger(__name__)

#: How long a connection closed after a refused request may take to read the response.
_LINGER_SECONDS = 2.0
#: SO_LINGER on, 0 s: closing the socket sends a reset and frees its kernel buffers.
_LINGER_RESET = struct.pack("ii", 1, 0)
_REASONS = {
    101: "Switching Protocols",
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    413: "Payload Too Large",
    500: "Internal Server Error",
}


class _FrameCache:
    """Remembers the wire bytes of the last frame object encoded (encode-once fan-out)."""

    __slots__ = ("frame", "data")

    def __init__(self) -> None:
        self.frame: str | bytes | None = None
        self.data = b""

    def encode(self, frame: str | bytes) -> bytes:
        if frame is self.frame:
            return self.data
        data = encode_data_frame(frame)
        self.frame = frame
        self.data = data
        return data


class _DeflateFrameCache:
    """Wire bytes of data frames for connections that negotiated permessage-deflate.

    The server compresses each message on its own (``server_no_context_takeover``), so
    the compressed bytes of a frame are the same for every recipient with the same
    window size and are computed once per broadcast, as plain frames are. Frames under
    the threshold, and frames sent with ``compress(False)`` (marked by their type),
    are written uncompressed.
    """

    __slots__ = ("frame", "data", "_wbits", "_threshold", "_plain")

    def __init__(self, window_bits: int, threshold: int, plain: _FrameCache) -> None:
        self.frame: str | bytes | None = None
        self.data = b""
        self._wbits = -window_bits
        self._threshold = threshold
        self._plain = plain

    def encode(self, frame: str | bytes) -> bytes:
        if frame is self.frame:
            return self.data
        kind = type(frame)
        if kind is str:
            payload = frame.encode()  # type: ignore[union-attr]
            first = 0xC1  # FIN, RSV1 (compressed), text
        elif kind is bytes:
            payload = frame
            first = 0xC2
        else:
            return self._plain.encode(frame)  # sent with compress(False)
        if len(payload) < self._threshold:
            return self._plain.encode(frame)
        compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, self._wbits)
        data = encode_frame(first, deflate_payload(compressor, payload))
        self.frame = frame
        self.data = data
        return data


#: The listener's permessage-deflate parameters: no compression context kept between
#: the messages it sends (each can be compressed once for every recipient of a broadcast).
_DEFLATE = ServerPerMessageDeflateFactory(server_no_context_takeover=True)

_BY_SOCKET = 1  # NativeWebSocket._stops: the Engine.IO socket paused reading
_HELD = 2  # ... the rest of a read waits to be inflated


class NativeWebSocket(FrameReader):
    """An accepted WebSocket on an asyncio transport; a :class:`FrameSink`.

    Its frames are read by the :class:`~plexio.native.frames.FrameReader` it is (no
    object of its own per connection): messages go to the Engine.IO socket, pings are
    answered, the peer's close is answered and ends the connection, and bad input ends
    the session with its reason, then the WebSocket with the matching close code.
    """

    __slots__ = (
        "on_drain",
        "paused",
        "_conn",
        "_transport",
        "_cache",
        "socket",
        "_closing",
        "_close_timeout",
        "_stops",
    )

    def __init__(
        self,
        conn: HttpConnection,
        max_size: int,
        cache: _FrameCache | _DeflateFrameCache,
        close_timeout: float,
        inflate: Inflate | None = None,
    ) -> None:
        # With permessage-deflate, a read is inflated at most max_size at a time: one
        # read of small compressed frames cannot become hundreds of MB of messages at once.
        super().__init__(max_size, inflate, None if inflate is None else max_size)
        #: Why reading is stopped: _BY_SOCKET (the Engine.IO socket's backpressure),
        #: _HELD (the rest of a read waits to be inflated, see :meth:`_read_held`).
        self._stops = 0
        self.on_drain: Callable[[], None] | None = None
        #: True while the transport's write buffer is over its high-water mark (set by
        #: the connection's ``pause_writing``/``resume_writing``: a plain attribute, read
        #: once per delivery by the server's flush).
        self.paused = conn.write_paused
        self._conn = conn
        # the connection's transport while frames may be written (None once closing
        # or lost): a delivery's write reads one object and one flag less
        self._transport = conn.transport
        self._cache = cache
        self.socket: WebSocketTarget | None = None
        self._closing = False
        self._close_timeout = close_timeout

    @property
    def buffered_size(self) -> int:
        """Bytes in the transport's write buffer."""
        transport = self._conn.transport
        return 0 if transport is None else transport.get_write_buffer_size()

    def pause_reading(self) -> None:
        """Stops reading from the socket (the kernel's buffers then push back)."""
        self._stops |= _BY_SOCKET
        transport = self._conn.transport
        if transport is not None and not transport.is_closing():
            transport.pause_reading()

    def resume_reading(self) -> None:
        """Reads from the socket again (what a read held back first)."""
        self._stops &= ~_BY_SOCKET
        if self.held:
            self._hold()
            return
        if self._stops:
            return
        transport = self._conn.transport
        if transport is not None and not transport.is_closing():
            transport.resume_reading()

    def _hold(self) -> None:
        # The rest of a read is inflated in a later pass (other connections get theirs
        # meanwhile), and nothing more is read until it is.
        if self._stops & _HELD:
            return
        self._stops |= _HELD
        transport = self._conn.transport
        if transport is None or transport.is_closing():
            return
        transport.pause_reading()
        asyncio.get_running_loop().call_soon(self._read_held)

    def _read_held(self) -> None:
        self._stops &= ~_HELD
        if self._stops or self._closing:
            return  # the socket's resume_reading (or nothing, once closing) goes on
        self.data_received(b"")  # the next max_size of the held rest (holds again if more)
        if not self._stops:
            transport = self._conn.transport
            if transport is not None and not transport.is_closing():
                transport.resume_reading()

    def write(self, frames: list[str | bytes]) -> int:
        """Writes frames in one transport write.

        Returns:
            The bytes the transport holds unsent after it (:attr:`buffered_size`).
        """
        transport = self._transport
        if transport is None or transport.is_closing():
            return self.buffered_size
        cache = self._cache
        if len(frames) == 1:
            frame = frames[0]
            # the frame cache's hit inline: a broadcast's recipients after the first
            transport.write(cache.data if frame is cache.frame else cache.encode(frame))
        else:
            encode = cache.encode
            transport.write(b"".join([encode(f) for f in frames]))
        return transport.get_write_buffer_size()

    def close(self, code: int = 1000) -> None:
        """Starts the close handshake (the peer's answer, or EOF, ends the connection)."""
        if self._closing:
            return
        self._closing = True
        self._transport = None
        transport = self._conn.transport
        if transport is not None and not transport.is_closing():
            transport.write(encode_close_frame(code))
        self._conn.close_within(self._close_timeout)

    def data_received(self, data: bytes) -> None:
        """Hands the messages in ``data`` to the Engine.IO socket (and what else came)."""
        messages = self.feed(data)
        if messages and self.socket is not None and not self._closing:
            self.socket.ws_received(self, messages)
        if self.replies is not None:
            self._control()
            if self.held:  # inflated max_size of this read: the rest in a later pass
                self._hold()

    def _control(self) -> None:
        # Pongs to send, the peer's close, or bad input (rare: off the hot path).
        replies = self.replies
        transport = self._conn.transport
        self.replies = None
        if replies and transport is not None and not transport.is_closing() and not self._closing:
            transport.write(b"".join(replies))
        error = self.error
        if error is not None:
            if self.socket is not None and not self._closing:
                if error is FrameError.TOO_BIG:
                    reason = DisconnectReason.PAYLOAD_TOO_LARGE
                    detail = "WebSocket frame over max_http_buffer_size"
                elif error is FrameError.NOT_UTF8:
                    reason = DisconnectReason.PARSE_ERROR
                    detail = self.detail
                else:
                    reason = DisconnectReason.PROTOCOL_ERROR
                    detail = f"bad WebSocket frame: {self.detail}"
                self.socket.ws_failed(self, reason, detail)
            self.close(error.close_code)
            return
        code = self.closed
        if code is not None:
            # The peer's close: answer it (unless ours went first), then the TCP
            # connection ends (the server closes it first: RFC 6455 section 7.1.1).
            if not self._closing:
                self._closing = True
                self._transport = None
                if transport is not None and not transport.is_closing():
                    transport.write(
                        encode_control_frame(8) if code == 1005 else encode_close_frame(code)
                    )
            self._conn.close_within(self._close_timeout)

    def connection_lost(self) -> None:
        """The TCP connection is gone."""
        self._closing = True
        self._transport = None
        if self.socket is not None:
            self.socket.ws_closed(self)


class _Upgraded:
    """The parser of a connection that became a WebSocket: HTTP is over for it (the
    real parser, about 1 KB, is released)."""

    __slots__ = ()

    def feed(self, data: bytes) -> None:
        pass

    def get_method(self) -> bytes:
        return b"GET"

    def should_keep_alive(self) -> bool:
        return False

    def should_upgrade(self) -> bool:
        return True


_UPGRADED = _Upgraded()
#: The body of a connection between requests: never appended to (each request's
#: body starts as a list of its own in ``on_message_begin``).
_NO_BODY: list[bytes] = []
#: Lower-cased header names seen so far, shared by every request (bounded: names past
#: the bound are decoded per request).
_HEADER_NAMES: dict[bytes, str] = {}
_MAX_HEADER_NAMES = 512
#: Short strings of requests (header values, paths, query strings and values) kept once
#: for every connection that holds them: most repeat (``websocket``, ``Upgrade``, ``13``,
#: the host, the user agent, ``EIO=4&transport=websocket``). Bounded: past the bound,
#: new values are simply not shared.
_SHARED: dict[str, str] = {}
_MAX_SHARED = 4096
_MAX_SHARED_LENGTH = 128
#: Header values unique to each request: never shared.
_UNIQUE_HEADERS = frozenset({"sec-websocket-key", "cookie", "authorization"})
#: Query parameters whose values repeat across clients.
_SHARED_PARAMS = frozenset({"EIO", "transport", "b64"})
#: Query strings made only of those (``EIO=4&transport=websocket``), parsed: each
#: request gets a copy of the dict. Bounded like ``_SHARED``.
_QUERIES: dict[str, tuple[str, dict[str, str]]] = {}
_MAX_QUERIES = 64


def _shared(text: str) -> str:
    """The copy of ``text`` every request shares (or ``text`` itself)."""
    known = _SHARED.get(text)
    if known is not None:
        return known
    if len(text) <= _MAX_SHARED_LENGTH and len(_SHARED) < _MAX_SHARED:
        _SHARED[text] = text
    return text


class HttpConnection(asyncio.Protocol):
    """One TCP connection: HTTP/1.1 requests, possibly upgraded to a WebSocket."""

    __slots__ = (
        "_listener",
        "transport",
        "write_paused",
        "_parser",
        "_url",
        "_headers",
        "_body",
        "_body_size",
        "_too_large",
        "_ws",
        "_task",
        "_body_future",
        "_requests",
        "_client",
        "_lingering",
    )

    def __init__(self, listener: _Listener) -> None:
        self._listener = listener
        self.transport: asyncio.Transport | None = None
        self.write_paused = False
        self._parser: RequestParser = make_parser(self, listener.parser)
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body = _NO_BODY
        self._body_size = 0
        self._too_large = False
        self._ws: NativeWebSocket | None = None
        self._task: asyncio.Task[None] | None = None
        self._body_future: asyncio.Future[bytes | None] | None = None
        self._requests: set[asyncio.Task[None]] | None = None  # made for the first one
        self._client: tuple[str, int] | None = None
        self._lingering = False

    # ------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self._client = (str(peer[0]), int(peer[1]))
        self._listener.connection_made(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._listener.connection_lost(self)
        if self._ws is not None:
            self._ws.connection_lost()
        for task in list(self._requests or ()):
            task.cancel()
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self.transport = None

    def pause_writing(self) -> None:
        self.write_paused = True
        if self._ws is not None:
            self._ws.paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        ws = self._ws
        if ws is not None:
            ws.paused = False
            if ws.on_drain is not None:
                ws.on_drain()

    def data_received(self, data: bytes) -> None:
        if self._ws is not None:
            self._ws.data_received(data)
            return
        if self._lingering:
            return  # the rest of a refused request: not parsed
        try:
            self._parser.feed(data)
        except UpgradeRequested as upgrade:
            self._start_upgrade(upgrade.extra)
        except BadRequest:
            self._write_response(HttpResponse(400, b"Bad Request"), close=True)

    def close_soon(self) -> None:
        """Closes the TCP connection after what is buffered."""
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Drops the TCP connection now with a reset, discarding what is buffered
        here and in the kernel (a plain close would let the kernel go on trickling
        its send buffer to a peer that does not read)."""
        transport = self.transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        transport.abort()

    def close_within(self, timeout: float) -> None:
        """Closes the TCP connection after what is buffered, or aborts it after
        ``timeout`` seconds (a peer that stopped reading never takes the rest)."""
        transport = self.transport
        if transport is None:
            return
        transport.close()
        if transport.get_write_buffer_size():
            asyncio.get_running_loop().call_later(timeout, self.abort)

    def _linger(self) -> None:
        # Closing a socket whose peer is still sending makes the kernel answer with a
        # reset, which may destroy the response not yet read: stop reading, send FIN
        # after the response, and drop the connection after a short deadline.
        transport = self.transport
        if transport is None or self._lingering:
            return
        self._lingering = True
        transport.pause_reading()
        if transport.can_write_eof():
            transport.write_eof()
            asyncio.get_running_loop().call_later(_LINGER_SECONDS, self.abort)
        else:  # pragma: no cover - every asyncio/uvloop TCP transport can
            transport.close()

    # ------------------------------------------------------------ httptools callbacks

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._body = []
        self._body_size = 0
        self._too_large = False

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        key = _HEADER_NAMES.get(name)
        if key is None:
            key = name.decode("latin-1").lower()
            if len(_HEADER_NAMES) < _MAX_HEADER_NAMES:
                _HEADER_NAMES[bytes(name)] = key
        text = value.decode("latin-1")
        if key not in _UNIQUE_HEADERS:
            text = _shared(text)
        self._headers[key] = f"{self._headers[key]},{text}" if key in self._headers else text

    def on_body(self, body: bytes) -> None:
        if self._too_large:
            return
        self._body_size += len(body)
        if self._body_size > self._listener.engine.options.limits.max_http_buffer_size:
            self._refuse_body()
            return
        self._body.append(body)

    def _refuse_body(self) -> None:
        # Over max_http_buffer_size (announced or counted): the request is answered now (413
        # from the engine, which closes the session) and the rest is never read.
        self._too_large = True
        self._body = _NO_BODY
        future = self._body_future
        if future is not None and not future.done():
            future.set_result(None)
        if self.transport is not None:
            self.transport.pause_reading()

    def on_headers_complete(self) -> None:
        # The engine sees a request as soon as its headers are in, as under ASGI: a
        # POST whose body is still arriving is "in flight", so an overlapping POST is
        # detected (Engine.IO v4: at most one POST at a time) instead of reordered.
        self._listener.request_started(self)
        if self._parser.should_upgrade():
            return
        request = self._request()
        length = self._headers.get("content-length", "")
        announced_too_large = (
            length.isdigit()
            and int(length) > self._listener.engine.options.limits.max_http_buffer_size
        )
        if request is None:
            self._body_future = None
            if announced_too_large:
                self._too_large = True
                self._write_response(HttpResponse(413, b"Payload Too Large"), close=True)
            return
        loop = asyncio.get_running_loop()
        self._body_future = loop.create_future()
        if announced_too_large:
            self._refuse_body()
        keep_alive = bool(self._parser.should_keep_alive())
        task = loop.create_task(
            self._serve_http(request, self._body_future, self._task, keep_alive)
        )
        self._task = task
        if self._requests is None:
            self._requests = set()
        self._requests.add(task)
        task.add_done_callback(self._request_done)

    def _request_done(self, task: asyncio.Task[None]) -> None:
        if self._requests is not None:
            self._requests.discard(task)
        if not self._requests and self._ws is None and (self._task is None or self._task.done()):
            self._listener.idle(self)

    def on_message_complete(self) -> None:
        if self._parser.should_upgrade():
            return  # handled by HttpParserUpgrade
        future = self._body_future
        if future is None:
            self._write_response(HttpResponse(404, b"Not Found"), close=False)
            if not self._requests:
                self._listener.idle(self)
            return
        self._body_future = None
        # Reading goes on while a GET is held, so a client that goes away is noticed
        # (connection_lost cancels its requests); responses still leave in order.
        if not future.done():
            future.set_result(None if self._too_large else b"".join(self._body))
        self._body = _NO_BODY

    # ------------------------------------------------------------ requests

    def _request(self) -> HttpRequest | None:
        target, _, query_string = self._url.decode("latin-1").partition("?")
        if "://" in target:  # absolute-form (RFC 9112 section 3.2.2): keep the path
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        path = target or "/"
        query_string = query_string.partition("#")[0]
        if not self._listener.matches(path):
            return None
        known = _QUERIES.get(query_string)
        if known is not None:  # the query every new WebSocket sends: parsed once
            query_string, parsed = known
            query = parsed.copy()
        else:
            query = {}
            for key, value in parse_qsl(query_string, keep_blank_values=True):
                if key in _SHARED_PARAMS:
                    key, value = _shared(key), _shared(value)
                query.setdefault(key, value)
            if query.keys() <= _SHARED_PARAMS:  # no sid, no cache-busting timestamp
                query_string = _shared(query_string)
                if len(query_string) <= _MAX_SHARED_LENGTH and len(_QUERIES) < _MAX_QUERIES:
                    _QUERIES[query_string] = (query_string, query.copy())
        return HttpRequest(
            method=self._parser.get_method().decode("ascii"),
            path=_shared(path),
            query=query,
            headers=self._headers,
            client=self._client,
            scheme=self._listener.scheme,
            query_string=query_string,
        )

    async def _serve_http(
        self,
        request: HttpRequest,
        body: asyncio.Future[bytes | None],
        previous: asyncio.Task[None] | None,
        keep_alive: bool,
    ) -> None:
        async def read(limit: int) -> bytes | None:
            data = await body
            if data is None or len(data) > limit:
                return None
            return data

        try:
            response = await self._listener.engine.handle_request(request, read)
        except Exception:
            logger.exception("request failed")
            response = HttpResponse(500, b"Internal Server Error")
        if previous is not None and not previous.done():
            await previous  # responses leave in request order
        if not body.done():
            # Answered before the body arrived (an error): the rest of the body cannot
            # be skipped reliably, so this connection closes after the response.
            keep_alive = False
        else:
            keep_alive = keep_alive and body.result() is not None
        self._write_response(response, close=not keep_alive, head=request.method == "HEAD")

    def _write_response(self, response: HttpResponse, *, close: bool, head: bool = False) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        lines = [f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Unknown')}"]
        lines.extend(f"{k}: {v}" for k, v in response.headers)
        lines.append(f"Content-Length: {len(response.body)}")
        if close:
            lines.append("Connection: close")
        head_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        transport.write(head_bytes if head else head_bytes + response.body)
        if close:
            self._linger()

    def _start_upgrade(self, extra: bytes) -> None:
        request = self._request()
        # No more HTTP on this connection, whatever the outcome: release the parser
        # and the request's body list.
        self._parser = _UPGRADED
        self._url = b""
        self._body = _NO_BODY
        headers = self._headers
        key = headers.get("sec-websocket-key")
        if (
            request is None
            or headers.get("upgrade", "").lower() != "websocket"
            or key is None
            or headers.get("sec-websocket-version") != "13"
        ):
            self._write_response(HttpResponse(400, b"Bad Request"), close=True)
            return
        assert self.transport is not None
        self.transport.pause_reading()
        self._task = asyncio.get_running_loop().create_task(
            self._serve_upgrade(request, key, extra)
        )

    async def _serve_upgrade(self, request: HttpRequest, key: str, extra: bytes) -> None:
        engine = self._listener.engine
        try:
            target = await engine.prepare_websocket(request)
        except HandshakeError as exc:
            self._write_response(
                HttpResponse(
                    exc.status,
                    f'{{"code":{exc.code},"message":"{exc.message}"}}'.encode(),
                    [("Content-Type", "application/json")],
                ),
                close=True,
            )
            return
        transport = self.transport
        if transport is None:
            if target is not None and target is not WebSocketVerdict.DUPLICATE:
                target.abort_upgrade()
            return
        accept = accept_key(key.encode()).decode()
        options = engine.options
        deflate: PerMessageDeflate | None = None
        extension_header = ""
        offer = self._headers.get("sec-websocket-extensions")
        if options.per_message_deflate and offer:
            deflate, response = negotiate_deflate(offer, _DEFLATE)
            if deflate is not None:
                extension_header = f"Sec-WebSocket-Extensions: {response}\r\n"
        transport.write(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
                f"{extension_header}\r\n"
            ).encode()
        )
        cache: _FrameCache | _DeflateFrameCache = self._listener.cache
        if deflate is not None:
            cache = self._listener.deflate_cache(deflate.local_max_window_bits)
        inflate = None
        if deflate is not None:
            inflate = Inflate(deflate.remote_max_window_bits, deflate.remote_no_context_takeover)
        ws = NativeWebSocket(
            self,
            options.limits.max_http_buffer_size,
            cache,
            options.close_timeout,
            inflate,
        )
        self._ws = ws
        if target is WebSocketVerdict.DUPLICATE:
            self._task = None
            ws.close(1000)  # as Node: accepted, then closed at once
            return
        if target is None:
            ws.socket = await engine.open_websocket(request, ws)
        else:
            ws.socket = target
            engine.attach_probe(target, ws)
        self._task = None
        if self.transport is not None:
            self.transport.resume_reading()
            if extra:
                ws.data_received(extra)


class _Listener:
    """What the connections of one listening socket share.

    Slowloris guard: a connection waiting for the headers of a request (a new one, or
    an idle keep-alive one) is closed ``handshake_timeout`` seconds after it started
    waiting, and at most ``max_pending_connections`` new connections may be waiting
    for their first request: one more drops the oldest of them (a real client sends
    its request at once, so the oldest waiter is the likeliest attacker).
    """

    def __init__(
        self,
        engine: EngineEndpoint,
        path: str,
        parser: Literal["httptools", "h11"],
        scheme: str,
    ) -> None:
        self.engine = engine
        self.parser: Literal["httptools", "h11"] = parser
        self.scheme = scheme
        self.path = "/" + path.strip("/") + "/"
        self._bare = self.path.rstrip("/")
        self.connections: set[HttpConnection] = set()
        self.cache = _FrameCache()
        self._deflate_caches: dict[int, _DeflateFrameCache] = {}
        options = engine.options
        self._timeout = options.handshake_timeout
        self._max_pending = options.max_pending_connections
        self._waiting: dict[HttpConnection, float] = {}  # since when, oldest first
        self._fresh: dict[HttpConnection, None] = {}  # no request yet, oldest first
        self._sweep: asyncio.TimerHandle | None = None
        self._draining = False
        #: Connections closed by the slowloris guard (timed out, or evicted).
        self.timed_out = 0
        self.evicted = 0

    def deflate_cache(self, window_bits: int) -> _DeflateFrameCache:
        """The compressed-frame cache shared by connections with this window size."""
        cache = self._deflate_caches.get(window_bits)
        if cache is None:
            threshold = self.engine.options.per_message_deflate_threshold
            cache = _DeflateFrameCache(window_bits, threshold, self.cache)
            self._deflate_caches[window_bits] = cache
        return cache

    def matches(self, path: str) -> bool:
        return path == self._bare or path.startswith(self.path)

    def connection_made(self, conn: HttpConnection) -> None:
        self.connections.add(conn)
        if len(self._fresh) >= self._max_pending:
            oldest = next(iter(self._fresh))
            self._forget(oldest)
            self.evicted += 1
            if self.evicted == 1 or self.evicted % 1000 == 0:
                logger.warning(
                    "more than max_pending_connections=%d connections sent no request: "
                    "dropping the oldest (%d so far)",
                    self._max_pending,
                    self.evicted,
                )
            oldest.abort()
        self._fresh[conn] = None
        self.idle(conn)

    def connection_lost(self, conn: HttpConnection) -> None:
        self.connections.discard(conn)
        self._forget(conn)

    def request_started(self, conn: HttpConnection) -> None:
        """``conn`` sent the headers of a request."""
        self._forget(conn)

    def idle(self, conn: HttpConnection) -> None:
        """``conn`` waits for the headers of its next request."""
        if self._draining:
            self._forget(conn)
            conn.close_soon()
            return
        waiting = self._waiting
        waiting.pop(conn, None)
        loop = self.engine.loop
        waiting[conn] = loop.time()
        if self._sweep is None:
            self._sweep = loop.call_later(self._sweep_period(), self._on_sweep)

    def _forget(self, conn: HttpConnection) -> None:
        self._waiting.pop(conn, None)
        self._fresh.pop(conn, None)

    def _sweep_period(self) -> float:
        return min(1.0, max(0.05, self._timeout / 4))

    def _on_sweep(self) -> None:
        self._sweep = None
        loop = self.engine.loop
        cutoff = loop.time() - self._timeout
        expired: list[HttpConnection] = []
        for conn, since in self._waiting.items():
            if since > cutoff:
                break
            expired.append(conn)
        for conn in expired:
            self._forget(conn)
            conn.close_soon()
        if expired:
            self.timed_out += len(expired)
            logger.info(
                "closed %d connections that sent no request within handshake_timeout=%gs",
                len(expired),
                self._timeout,
            )
        if self._waiting:
            self._sweep = loop.call_later(self._sweep_period(), self._on_sweep)

    def drain(self) -> None:
        """Shutting down: idle connections close now, the others once idle."""
        self._draining = True
        idle = list(self._waiting)
        self._waiting.clear()
        self._fresh.clear()
        for conn in idle:
            conn.close_soon()

    def close(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None


async def serve(
    target: object,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    path: str | None = None,
    ready: Callable[[int], None] | None = None,
    backlog: int = 2048,
    ssl: ssl_module.SSLContext | None = None,
    http: HttpParserName = "auto",
    sock: socket.socket | None = None,
) -> None:
    """Serves an Engine.IO/Socket.IO server with the native listener until cancelled.

    Args:
        target: an :class:`EngineServer`, a Socket.IO ``Server``, or an ``ASGIApp``
            without ``other_app``.
        host: address to bind.
        port: port to bind (0 for a free one).
        path: mount path (defaults to the target's).
        ready: called with the bound port once listening.
        backlog: listen backlog.
        ssl: a server TLS context (HTTPS and WSS), or ``None`` for plain TCP.
        http: the HTTP parser: ``"auto"`` (httptools when installed, else h11),
            ``"httptools"`` or ``"h11"``.
        sock: a listening socket to serve instead of binding ``host:port``.

    Raises:
        TypeError: ``target`` is not servable, or is an ``ASGIApp`` with ``other_app``.
        RuntimeError: ``http="httptools"`` without httptools installed.
    """
    engine, default_path = servable(target)
    listener = _Listener(
        engine, path or default_path, resolve_parser(http), "https" if ssl else "http"
    )
    loop = asyncio.get_running_loop()
    if sock is not None:
        server = await loop.create_server(
            lambda: HttpConnection(listener), sock=sock, backlog=backlog, ssl=ssl
        )
    else:
        server = await loop.create_server(
            lambda: HttpConnection(listener),
            host,
            port,
            backlog=backlog,
            reuse_address=True,
            ssl=ssl,
        )
    bound = server.sockets[0].getsockname()[1]
    if ready is not None:
        ready(int(bound))
    try:
        # Not server.serve_forever(): cancelling it would close the listening socket
        # at once, and polling clients need new requests during the shutdown.
        await loop.create_future()
    finally:
        # Graceful shutdown, within shutdown_timeout: new sessions are refused at
        # once; the server lets its handlers in flight finish (the sessions keep
        # working meanwhile: a polling client needs new requests to get its acks)
        # and closes every session after its queued output; then the listening
        # socket closes, idle HTTP connections too, and connections still open at
        # the deadline are reset.
        engine.stop_accepting()
        deadline = loop.time() + engine.options.shutdown_timeout
        shutdown = getattr(target, "shutdown", None)
        try:
            if shutdown is not None:
                await shutdown()
            else:
                await engine.shutdown(deadline)
        except Exception:
            logger.exception("shutdown failed")
        server.close()
        listener.drain()
        while listener.connections and loop.time() < deadline:
            await asyncio.sleep(0.02)
        listener.close()
        for conn in list(listener.connections):
            conn.abort()


def servable(target: object) -> tuple[EngineEndpoint, str]:
    """The engine and default path the native listener would serve for ``target``.

    Raises:
        TypeError: not an ``EngineServer``, a ``Server`` or an ``ASGIApp`` without
            ``other_app``.
    """
    if getattr(target, "other_app", None) is not None:
        raise TypeError(
            "the native listener serves only Engine.IO/Socket.IO, not an ASGIApp's "
            "other_app; serve this app with an ASGI server: plexio.run(app, "
            "server='uvicorn'), or pass the Server to run it alone"
        )
    if isinstance(target, EngineServer):
        return target, "/engine.io/"
    engine = getattr(target, "engine", None)
    if isinstance(engine, EngineServer):
        path = getattr(target, "path", None) or getattr(target, "default_path", "/socket.io/")
        return engine, str(path)
    raise TypeError("serve() needs an EngineServer, a Server or an ASGIApp")
