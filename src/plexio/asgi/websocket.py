"""ASGI WebSocket messages ↔ the Engine.IO server's push-based sink (layer L4).

The ASGI connection's own coroutine reads ``websocket.receive`` messages and feeds
them to the Engine.IO socket. Frames are sent eagerly: ASGI ``send`` is a coroutine,
but an ASGI server that is not pushing back (uvicorn: its transport under the write
limit) finishes it without waiting, so its first step is run right where the frames
are written, with the WebSocket's writer task current (as if that task ran it), and no
task switch is paid per batch. A ``send`` that does wait is finished by the writer
task, which sends the frames written meanwhile in batches after it. The sink takes one
batch while the previous one is being sent, and is paused only when a batch already
waits behind the one being sent (``send`` did not keep up): a slow client's backlog
then stays in its session, where it is bounded, and its volatile packets are dropped.

What the backlog counts under ASGI: the frames handed to this sink and not yet
accepted by ``websocket.send``. ASGI servers apply backpressure there (uvicorn and
hypercorn wait while their transport is over its write limit, 64 KiB by default), so
what the ASGI server itself holds for a slow reader is bounded by its own write limit
and cannot be seen from here. A closing WebSocket whose last ``send`` is still waiting
after ``close_timeout`` has that send cancelled and ``websocket.close`` sent.
"""

from __future__ import annotations

import asyncio
import logging
import types
from asyncio import tasks as _aio_tasks
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

from plexio.asgi.types import Receive, Send
from plexio.engineio.events import DisconnectReason
from plexio.exceptions import HandshakeError
from plexio.server.engine import EngineEndpoint, WebSocketTarget, WebSocketVerdict
from plexio.transports.base import HttpRequest

__all__ = ["ASGIWebSocketSink", "serve_websocket"]

logger = logging.getLogger(__name__)

# asyncio's own task switching (what a task does around each step of its coroutine).
_TaskSwitch = Callable[[asyncio.AbstractEventLoop, "asyncio.Task[Any]"], None]
_enter_task: _TaskSwitch = getattr(_aio_tasks, "_enter_task")  # noqa: B009
_leave_task: _TaskSwitch = getattr(_aio_tasks, "_leave_task")  # noqa: B009
_current_task = asyncio.current_task
_CoroutineType = types.CoroutineType
_Send = Coroutine[Any, Any, None]


class _Resume:
    """Awaits what a ``send`` coroutine suspended on, then resumes it, as a task would."""

    __slots__ = ("coro", "waiting", "size", "rest")

    def __init__(
        self, coro: _Send | Awaitable[None], waiting: Any, size: int, rest: list[str | bytes]
    ) -> None:
        self.coro = coro
        self.waiting = waiting
        self.size = size  # of the frame it sends
        self.rest = rest  # the frames written with it, sent after it (one batch)

    def __await__(self) -> Generator[Any, None, None]:
        coro = self.coro
        if not isinstance(coro, _CoroutineType):  # not started: awaited the ordinary way
            yield from coro.__await__()
            return
        waiting = self.waiting
        while True:
            # a bare ``yield`` (asyncio.sleep(0)) is passed up as it came; a future
            # is waited for by the task driving this, then the coroutine goes on
            try:
                yield waiting
            except BaseException as exc:  # cancelled while waiting: the send is too
                try:
                    waiting = coro.throw(exc)
                except StopIteration:
                    return
                continue
            try:
                waiting = coro.send(None)
            except StopIteration:
                return


class ASGIWebSocketSink:
    """A :class:`~plexio.transports.base.FrameSink` over ASGI ``send``."""

    __slots__ = (
        "on_drain",
        "_send",
        "_queue",
        "_busy",
        "_close_code",
        "_wake",
        "_done",
        "_unsent",
        "_close_timeout",
        "_task",
        "_cutting",
        "_give_up",
        "_readable",
        "_resume",
    )

    def __init__(self, send: Send, close_timeout: float = 3.0) -> None:
        self.on_drain: Callable[[], None] | None = None
        self._send = send
        self._queue: list[str | bytes] = []
        self._busy = False
        self._close_code: int | None = None
        self._wake: asyncio.Future[None] | None = None
        self._done = False
        self._unsent = 0
        self._close_timeout = close_timeout
        self._task: asyncio.Task[None] | None = None
        self._cutting = False
        self._give_up: asyncio.TimerHandle | None = None
        self._readable: asyncio.Future[None] | None = None  # set while reading is paused
        self._resume: _Resume | None = None  # a send that waited, for the writer task

    @property
    def paused(self) -> bool:
        """True while frames wait behind a batch that is being sent."""
        return self._busy and bool(self._queue)

    @property
    def buffered_size(self) -> int:
        """Bytes handed to this sink that ``websocket.send`` has not accepted yet."""
        return self._unsent

    def write(self, frames: list[str | bytes]) -> None:
        """Sends frames now if the ASGI server takes them at once, else queues them."""
        if self._done:
            return
        task = self._task
        if (
            self._busy
            or self._queue
            or self._resume is not None
            or self._close_code is not None
            or task is None
        ):
            self._queue.extend(frames)
            self._unsent += sum(len(f) for f in frames)
            self._poke()
            return
        # Eager: each send's first step runs here, with the writer task current.
        loop = task.get_loop()
        outer = _current_task(loop)
        if outer is not None:
            _leave_task(loop, outer)
        _enter_task(loop, task)
        try:
            send = self._send
            for index, frame in enumerate(frames):
                if isinstance(frame, str):  # (a str subclass marks compress(False))
                    coro = send({"type": "websocket.send", "text": frame})
                else:
                    coro = send({"type": "websocket.send", "bytes": frame})
                if not isinstance(coro, _CoroutineType):
                    # an awaitable of the server's own kind (granian): the writer task
                    # awaits it as usual
                    waiting = None
                else:
                    try:
                        waiting = coro.send(None)
                    except StopIteration:
                        continue
                    except Exception:  # the peer went away mid-write
                        self._done = True
                        self._poke()
                        return
                # The ASGI server pushes back: the writer task finishes this send,
                # then the frames after it (with it, the batch in flight).
                rest = frames[index + 1 :]
                self._resume = _Resume(coro, waiting, len(frame), rest)
                self._unsent += len(frame) + sum(len(f) for f in rest)
                self._busy = True
                self._poke()
                return
        finally:
            _leave_task(loop, task)
            if outer is not None:
                _enter_task(loop, outer)

    @property
    def closing(self) -> bool:
        """Whether :meth:`close` was called (the close frame leaves after the queue)."""
        return self._close_code is not None

    def close(self, code: int = 1000) -> None:
        """Closes after the queued frames (or after ``close_timeout``, whatever is left)."""
        if self._close_code is None:
            self._close_code = code
            if (self._busy or self._queue) and not self._done:
                loop = asyncio.get_running_loop()
                self._give_up = loop.call_later(self._close_timeout, self._cut)
        self._poke()

    @property
    def reading_paused(self) -> bool:
        """Whether the receive loop should wait before taking the next message."""
        return self._readable is not None

    def pause_reading(self) -> None:
        """The receive loop stops calling ``receive`` (the ASGI server pushes back)."""
        if self._readable is None:
            self._readable = asyncio.get_running_loop().create_future()

    def resume_reading(self) -> None:
        """The receive loop goes on."""
        readable, self._readable = self._readable, None
        if readable is not None and not readable.done():
            readable.set_result(None)

    async def wait_readable(self) -> None:
        """Returns once reading is no longer paused."""
        while self._readable is not None:
            await asyncio.shield(self._readable)

    def _cut(self) -> None:
        # The peer has not taken the last frames within close_timeout: stop waiting.
        self._give_up = None
        self._queue = []
        if not self._busy:
            self._unsent = 0  # nothing in flight either
        task = self._task
        if task is not None and not task.done() and self._busy:
            self._cutting = True
            task.cancel()

    def stop(self) -> None:
        """The peer is gone: end the writer without sending more."""
        self._done = True
        self._poke()

    def _poke(self) -> None:
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    async def run(self) -> None:
        """The writer loop; returns once closed or stopped."""
        send = self._send
        loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        while not self._done:
            if self._queue or self._resume is not None:
                resume, self._resume = self._resume, None
                if resume is None:
                    batch, self._queue = self._queue, []
                else:
                    batch = resume.rest  # the frames queued behind it: the next batch
                self._busy = True
                try:
                    if resume is not None:
                        await resume
                        self._unsent -= resume.size
                    for frame in batch:
                        if isinstance(frame, str):
                            await send({"type": "websocket.send", "text": frame})
                        else:
                            await send({"type": "websocket.send", "bytes": frame})
                        self._unsent -= len(frame)
                except asyncio.CancelledError:
                    if not self._cutting or self._task is None:
                        raise  # the writer itself was cancelled
                    self._task.uncancel()  # cut by close_timeout: go on to the close
                    self._cutting = False
                    self._queue = []
                    self._unsent = 0
                except Exception:  # the peer went away mid-write
                    self._done = True
                    return
                self._busy = False
                if self.on_drain is not None:
                    self.on_drain()
                continue
            if self._close_code is not None:
                self._done = True
                if self._give_up is not None:
                    self._give_up.cancel()
                try:
                    await send({"type": "websocket.close", "code": self._close_code})
                except Exception:  # already closed by the peer
                    pass
                return
            self._wake = loop.create_future()
            await self._wake
            self._wake = None


async def serve_websocket(
    engine: EngineEndpoint, request: HttpRequest, receive: Receive, send: Send
) -> None:
    """Serves one ASGI WebSocket (after ``websocket.connect`` was received)."""
    try:
        target = await engine.prepare_websocket(request)
    except HandshakeError as exc:
        logger.debug("websocket refused: %s", exc.message)
        await send({"type": "websocket.close", "code": 1008})
        return
    await send({"type": "websocket.accept"})
    if target is WebSocketVerdict.DUPLICATE:
        await send({"type": "websocket.close", "code": 1000})
        return
    sink = ASGIWebSocketSink(send, engine.options.close_timeout)
    writer = asyncio.get_running_loop().create_task(sink.run())
    socket: WebSocketTarget
    if target is None:
        socket = await engine.open_websocket(request, sink)
    else:
        socket = target
        engine.attach_probe(socket, sink)
    max_size = engine.options.limits.max_http_buffer_size
    try:
        while True:
            if sink.reading_paused:
                await sink.wait_readable()
            message = await receive()
            if message["type"] != "websocket.receive":
                break
            text = message.get("text")
            frame: str | bytes = text if text is not None else (message.get("bytes") or b"")
            if len(frame) > max_size:
                socket.ws_failed(
                    sink,
                    DisconnectReason.PAYLOAD_TOO_LARGE,
                    f"{len(frame)}-byte WebSocket frame over max_http_buffer_size",
                )
                sink.close(1009)
                break
            socket.ws_received(sink, [frame])
    finally:
        socket.ws_closed(sink)
        if not sink.closing:
            sink.stop()
        await writer
