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

Framing, both ways: ``>II`` (header length, body length), a JSON header, the body bytes.
Request header: ``{"m", "p", "q", "h", "c", "s", "qs"}`` (the
:class:`~plexio.transports.base.HttpRequest` fields); response header: ``{"s", "h"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

import orjson

from plexio.engineio.sid import generate_sid
from plexio.server.engine import EngineServer
from plexio.transports.base import HttpRequest, HttpResponse

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


def worker_of(sid: str) -> int | None:
    """The index of the worker a session id names (``None`` for a foreign id)."""
    if len(sid) != 20:
        return None
    return _INDEX.get(sid[0])


async def _read_message(reader: asyncio.StreamReader, max_body: int) -> tuple[Any, bytes]:
    head_size, body_size = _PREFIX.unpack(await reader.readexactly(_PREFIX.size))
    if head_size > _MAX_HEADER or body_size > max_body:
        raise ValueError("message over the size limit")
    head = orjson.loads(await reader.readexactly(head_size))
    body = await reader.readexactly(body_size) if body_size else b""
    return head, body


def _message(head: Any, body: bytes) -> bytes:
    encoded = orjson.dumps(head)
    return _PREFIX.pack(len(encoded), len(body)) + encoded + body


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
            head = {
                "m": request.method,
                "p": request.path,
                "q": request.query,
                "h": request.headers,
                "c": request.client,
                "s": request.scheme,
                "qs": request.query_string,
            }
            writer.write(_message(head, body))
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

    # ------------------------------------------------------------ the owner's side

    @contextlib.asynccontextmanager
    async def serving(self, engine: EngineServer) -> AsyncIterator[None]:
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
        self, engine: EngineServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while await self._answer_one(engine, reader, writer):
                pass
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _answer_one(
        self, engine: EngineServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
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
