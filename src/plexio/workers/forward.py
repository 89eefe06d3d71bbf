"""Long-polling requests handed to the worker that owns their session (layer L4).

Every worker of one machine listens on a unix socket of its own, ``{rundir}/{index}.sock``.
A session id names the worker that opened it (its first character is the worker's index in
the URL-safe base64 alphabet), so a worker that receives a polling request for a session it
does not hold knows the owner at once, with no lookup and no broadcast: it sends the request
over the owner's unix socket, the owner's Engine.IO server answers it as if it had received
it, and the answer goes back the same way.

A unix-socket connection carries one forwarded request at a time and is kept for the next
one (a few idle ones per owner). A held GET holds its connection; a client that goes away
(its request cancelled here) closes that connection, which cancels the request at the owner
(the session ends there as it would have with a direct request).

A WebSocket upgrade that lands on another worker than the owner is relayed: the worker that
accepted it opens a connection of its own to the owner, which makes it the upgrade probe of the
session as if it had accepted it; frames then cross that connection both ways for the life of
the WebSocket (one more hop for those clients; the others are direct).

Framing, both ways: ``>II`` (header length, body length), a JSON header, the body bytes.
Request header: ``{"m", "p", "q", "h", "c", "s", "qs"}`` (the
:class:`~plexio.transports.base.HttpRequest` fields), plus ``"ws": true`` for a WebSocket;
response header: ``{"s", "h"}`` (a WebSocket: ``{"s": 101}``, or the refusal's
``{"s", "code", "message"}``). Relayed WebSocket frames: ``{"t": "s"}`` (text, UTF-8 body) or
``{"t": "b"}`` (binary); ``{"close": code}`` closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Final

import orjson

from plexio.engineio.events import DisconnectReason
from plexio.engineio.sid import generate_sid
from plexio.exceptions import HandshakeError
from plexio.server.engine import EngineEndpoint, WebSocketTarget, WebSocketVerdict
from plexio.transports.base import FrameSink, HttpRequest, HttpResponse
from plexio.typing import JSONValue

__all__ = ["MAX_WORKERS", "WorkerForwarder", "worker_of"]

logger = logging.getLogger(__name__)

_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
#: The most workers one machine can run (one session id character names the worker).
MAX_WORKERS: Final = len(_ALPHABET)
_INDEX: Final = {char: index for index, char in enumerate(_ALPHABET)}
_PREFIX = struct.Struct(">II")
#: Largest header accepted on a worker's unix socket (headers of one HTTP request).
_MAX_HEADER: Final = 1 << 20
#: Idle connections kept per other worker.
_IDLE_KEPT: Final = 8
#: Bytes of client frames a relay lets wait for the owner before it stops reading the client.
_RELAY_BACKLOG: Final = 1 << 20


def worker_of(sid: str) -> int | None:
    """The index of the worker a session id names (``None`` for a foreign id)."""
    if len(sid) != 20:
        return None
    return _INDEX.get(sid[0])


async def _read_message(reader: asyncio.StreamReader, max_body: int) -> tuple[JSONValue, bytes]:
    head_size, body_size = _PREFIX.unpack(await reader.readexactly(_PREFIX.size))
    if head_size > _MAX_HEADER or body_size > max_body:
        raise ValueError("message over the size limit")
    head = orjson.loads(await reader.readexactly(head_size))
    body = await reader.readexactly(body_size) if body_size else b""
    return head, body


def _message(head: JSONValue, body: bytes) -> bytes:
    encoded = orjson.dumps(head)
    return _PREFIX.pack(len(encoded), len(body)) + encoded + body


def _request_head(request: HttpRequest) -> dict[str, JSONValue]:
    return {
        "m": request.method,
        "p": request.path,
        "q": request.query,
        "h": request.headers,
        "c": request.client,
        "s": request.scheme,
        "qs": request.query_string,
    }


def _frame_message(frame: str | bytes) -> bytes:
    if isinstance(frame, str):
        return _message({"t": "s"}, frame.encode())
    return _message({"t": "b"}, frame)


def _frame_of(head: JSONValue, body: bytes) -> str | bytes | None:
    """A relayed frame, or ``None`` for a close."""
    kind = head.get("t")
    if kind == "s":
        return body.decode()
    if kind == "b":
        return body
    return None


class _UnixSink:
    """The owner's end of a relayed WebSocket: a :class:`FrameSink` writing to the unix
    socket (the relaying worker writes to the client)."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.on_drain: Callable[[], None] | None = None
        self._writer = writer
        self._closed = False

    @property
    def paused(self) -> bool:
        return False

    @property
    def buffered_size(self) -> int:
        transport = self._writer.transport
        return 0 if transport.is_closing() else transport.get_write_buffer_size()

    def pause_reading(self) -> None:
        transport = self._writer.transport
        if not transport.is_closing():
            transport.pause_reading()  # type: ignore[attr-defined]

    def resume_reading(self) -> None:
        transport = self._writer.transport
        if not transport.is_closing():
            transport.resume_reading()  # type: ignore[attr-defined]

    def write(self, frames: list[str | bytes]) -> None:
        if not self._closed:
            self._writer.write(b"".join(_frame_message(frame) for frame in frames))

    def close(self, code: int = 1000) -> None:
        if not self._closed:
            self._closed = True
            self._writer.write(_message({"close": code}, b""))
            self._writer.close()


class RelayedWebSocket:
    """The accepting worker's end of a relayed WebSocket (a ``WebSocketTarget``): frames
    from the client go to the owner, the owner's frames go to the client.

    Backpressure crosses the relay both ways: while the client's WebSocket is backed up,
    nothing more is read from the owner (whose session then counts what waits, and applies
    its slow-client limits); while the owner reads nothing (its handlers are busy), the
    client's WebSocket is not read either.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._pump: asyncio.Task[None] | None = None
        self._drained = asyncio.Event()
        self._drained.set()
        self._waiting_owner: asyncio.Task[None] | None = None

    def attach(self, sink: FrameSink) -> None:
        sink.on_drain = self._drained.set
        self._pump = asyncio.get_running_loop().create_task(self._from_owner(sink))

    async def _from_owner(self, sink: FrameSink) -> None:
        code = 1000
        try:
            while True:
                head, body = await _read_message(self._reader, 1 << 31)
                frame = _frame_of(head, body)
                if frame is None:
                    code = int(head.get("close", 1000))
                    break
                sink.write([frame])
                if sink.paused:  # the client is behind: leave the rest with the owner
                    self._drained.clear()
                    while sink.paused:
                        await self._drained.wait()
                        self._drained.clear()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            self._writer.close()
        sink.close(code)

    def ws_received(self, sink: FrameSink, frames: list[str | bytes]) -> None:
        writer = self._writer
        if writer.is_closing():
            return
        writer.write(b"".join(_frame_message(frame) for frame in frames))
        if writer.transport.get_write_buffer_size() > _RELAY_BACKLOG and (
            self._waiting_owner is None or self._waiting_owner.done()
        ):
            sink.pause_reading()  # the owner reads nothing for now
            self._waiting_owner = asyncio.get_running_loop().create_task(
                self._resume_when_taken(sink)
            )

    async def _resume_when_taken(self, sink: FrameSink) -> None:
        with contextlib.suppress(ConnectionError):
            await self._writer.drain()
        sink.resume_reading()

    def ws_closed(self, sink: FrameSink) -> None:
        self._writer.close()
        for task in (self._pump, self._waiting_owner):
            if task is not None:
                task.cancel()

    def ws_failed(self, sink: FrameSink, reason: DisconnectReason, detail: str) -> None:
        logger.info("relayed websocket failed (%s: %s)", reason, detail)
        self.ws_closed(sink)

    def abort_upgrade(self) -> None:
        self._writer.close()


class WorkerForwarder:
    """One worker's end of request forwarding (an Engine.IO ``RequestForwarder``).

    Args:
        index: this worker's index, from 0.
        count: how many workers the machine runs.
        rundir: the directory of the workers' unix sockets.
    """

    def __init__(self, index: int, count: int, rundir: str | Path) -> None:
        if not 1 <= count <= MAX_WORKERS:
            raise ValueError(f"workers must be between 1 and {MAX_WORKERS}")
        if not 0 <= index < count:
            raise ValueError("worker index out of range")
        self.index = index
        self.count = count
        self.rundir = Path(rundir)
        self._char = _ALPHABET[index]
        self._idle: dict[int, list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]] = {}
        #: forwarded requests sent to other workers, and received from them
        self.forwarded = 0
        self.served = 0

    def path(self, index: int) -> Path:
        """The unix socket of worker ``index``."""
        return self.rundir / f"{index}.sock"

    # ------------------------------------------------------------ RequestForwarder

    def new_sid(self) -> str:
        """A new 20-character session id whose first character names this worker."""
        return self._char + generate_sid()[1:]

    def elsewhere(self, sid: str) -> bool:
        """Whether ``sid`` names another worker of this machine."""
        owner = worker_of(sid)
        return owner is not None and owner != self.index and owner < self.count

    async def forward(self, sid: str, request: HttpRequest, body: bytes) -> HttpResponse:
        """Has the owner of ``sid`` answer ``request``.

        Raises:
            OSError: the owner's unix socket does not answer (the worker is gone).
        """
        owner = worker_of(sid)
        assert owner is not None
        self.forwarded += 1
        idle = self._idle.setdefault(owner, [])
        while idle:
            reader, writer = idle.pop()
            if not writer.is_closing() and not reader.at_eof():
                break
            writer.close()
        else:
            reader, writer = await asyncio.open_unix_connection(self.path(owner))
        done = False
        try:
            writer.write(_message(_request_head(request), body))
            try:
                answer, payload = await _read_message(reader, 1 << 31)
            except (asyncio.IncompleteReadError, ValueError) as exc:
                raise ConnectionError(f"worker {owner} broke off: {exc}") from None
            headers = [(str(k), str(v)) for k, v in answer["h"]]
            done = True
            return HttpResponse(int(answer["s"]), payload, headers)
        finally:
            if done and len(idle) < _IDLE_KEPT:
                idle.append((reader, writer))
            else:
                writer.close()

    async def websocket(self, sid: str, request: HttpRequest) -> WebSocketTarget:
        """Asks the owner of ``sid`` to take an upgrade WebSocket; returns the relay.

        Raises:
            HandshakeError: the owner refused it, or is gone.
        """
        owner = worker_of(sid)
        assert owner is not None
        try:
            reader, writer = await asyncio.open_unix_connection(self.path(owner))
        except OSError:
            raise HandshakeError(1, "Session ID unknown", 400) from None
        try:
            writer.write(_message({**_request_head(request), "ws": True}, b""))
            answer, _body = await _read_message(reader, 0)
        except (asyncio.IncompleteReadError, ValueError, ConnectionError):
            writer.close()
            raise HandshakeError(1, "Session ID unknown", 400) from None
        if answer.get("s") != 101:
            writer.close()
            raise HandshakeError(
                int(answer.get("code", 3)),
                str(answer.get("message", "Bad request")),
                int(answer.get("s", 400)),
            )
        return RelayedWebSocket(reader, writer)

    # ------------------------------------------------------------ the owner's side

    @contextlib.asynccontextmanager
    async def serving(self, engine: EngineEndpoint) -> AsyncIterator[None]:
        """Answers the other workers' forwarded requests for ``engine`` while inside."""
        engine.use_forwarder(self)
        path = self.path(self.index)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # left by a worker that died in this slot

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._serve_one(engine, reader, writer)

        server = await asyncio.start_unix_server(handle, path)
        os.chmod(path, 0o600)
        try:
            yield
        finally:
            server.close()
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            for idle in self._idle.values():
                for _reader, writer in idle:
                    writer.close()
                    with contextlib.suppress(OSError):
                        await writer.wait_closed()
            self._idle.clear()

    async def _serve_one(
        self, engine: EngineEndpoint, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while await self._answer_one(engine, reader, writer):
                pass
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _answer_one(
        self, engine: EngineEndpoint, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Answers one request of the connection; whether it may carry another."""
        limit = engine.options.limits.max_http_buffer_size
        try:
            head, body = await _read_message(reader, limit)
            client = head["c"]
            request = HttpRequest(
                method=str(head["m"]),
                path=str(head["p"]),
                query=dict(head["q"]),
                headers=dict(head["h"]),
                client=(str(client[0]), int(client[1])) if client else None,
                scheme=str(head["s"]),
                query_string=str(head["qs"]),
            )
        except asyncio.IncompleteReadError:
            return False  # closed between two requests
        except (ValueError, KeyError, TypeError) as exc:
            logger.debug("bad forwarded request: %s", exc)
            return False
        self.served += 1
        if head.get("ws"):
            await self._relayed_websocket(engine, request, reader, writer)
            return False

        async def read(size: int) -> bytes | None:
            return body if len(body) <= size else None

        answer = asyncio.ensure_future(engine.handle_request(request, read))
        # the forwarding worker closes the connection when its client went away
        gone = asyncio.ensure_future(reader.read(1))
        try:
            await asyncio.wait((answer, gone), return_when=asyncio.FIRST_COMPLETED)
        finally:
            out_of_turn = gone.done()
            if not out_of_turn:
                gone.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await gone  # the reader is free again for the next request
        if not answer.done():
            answer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await answer
            return False
        try:
            response = answer.result()
        except Exception:
            logger.exception("forwarded request failed")
            response = HttpResponse(500, b"Internal Server Error")
        writer.write(_message({"s": response.status, "h": response.headers}, response.body))
        await writer.drain()
        # a byte before the answer is out of turn (or the end): no further request here
        return not out_of_turn

    async def _relayed_websocket(
        self,
        engine: EngineEndpoint,
        request: HttpRequest,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        """Takes a WebSocket another worker accepted, as this session's upgrade probe."""
        try:
            target = await engine.prepare_websocket(request)
        except HandshakeError as exc:
            answer = {"s": exc.status, "code": exc.code, "message": exc.message}
            writer.write(_message(answer, b""))
            return
        if target is None or target is WebSocketVerdict.DUPLICATE:
            # not an upgrade of a session here (a relay only carries those)
            writer.write(_message({"s": 400, "code": 3, "message": "Bad request"}, b""))
            return
        writer.write(_message({"s": 101}, b""))
        sink = _UnixSink(writer)
        engine.attach_probe(target, sink)
        limit = engine.options.limits.max_http_buffer_size
        try:
            while True:
                head, body = await _read_message(reader, limit)
                frame = _frame_of(head, body)
                if frame is None:
                    break
                target.ws_received(sink, [frame])
        except ValueError:
            target.ws_failed(
                sink, DisconnectReason.PAYLOAD_TOO_LARGE, "relayed frame over the limit"
            )
            sink.close(1009)
            return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        target.ws_closed(sink)
