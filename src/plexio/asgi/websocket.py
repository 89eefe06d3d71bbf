"""ASGI WebSocket messages ↔ the Engine.IO server's push-based sink (layer L4).

The ASGI connection's own coroutine reads ``websocket.receive`` messages and feeds
them to the Engine.IO socket; one writer task per WebSocket (ASGI ``send`` is async)
pulls frames from the session while the previous batch is being sent, so a slow
client's backlog stays in its session, where it is bounded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from plexio.asgi.types import Receive, Send
from plexio.engineio.events import DisconnectReason
from plexio.exceptions import HandshakeError
from plexio.server.engine import EngineServer, EngineSocket
from plexio.transports.base import HttpRequest

__all__ = ["ASGIWebSocketSink", "serve_websocket"]

logger = logging.getLogger(__name__)


class ASGIWebSocketSink:
    """A :class:`~plexio.transports.base.FrameSink` over ASGI ``send``."""

    __slots__ = ("on_drain", "_send", "_queue", "_busy", "_close_code", "_wake", "_done")

    def __init__(self, send: Send) -> None:
        self.on_drain: Callable[[], None] | None = None
        self._send = send
        self._queue: list[str | bytes] = []
        self._busy = False
        self._close_code: int | None = None
        self._wake: asyncio.Future[None] | None = None
        self._done = False

    @property
    def paused(self) -> bool:
        """True while a batch is being sent."""
        return self._busy

    def write(self, frames: list[str | bytes]) -> None:
        """Queues frames for the writer task."""
        if self._done:
            return
        self._queue.extend(frames)
        self._busy = True
        self._poke()

    def close(self, code: int = 1000) -> None:
        """Closes after the queued frames."""
        if self._close_code is None:
            self._close_code = code
        self._poke()

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
        while not self._done:
            if self._queue:
                batch, self._queue = self._queue, []
                try:
                    for frame in batch:
                        if isinstance(frame, str):
                            await send({"type": "websocket.send", "text": frame})
                        else:
                            await send({"type": "websocket.send", "bytes": frame})
                except Exception:  # the peer went away mid-write
                    self._done = True
                    return
                self._busy = False
                if self.on_drain is not None:
                    self.on_drain()
                continue
            if self._close_code is not None:
                self._done = True
                try:
                    await send({"type": "websocket.close", "code": self._close_code})
                except Exception:  # already closed by the peer
                    pass
                return
            self._wake = loop.create_future()
            await self._wake
            self._wake = None


async def serve_websocket(
    engine: EngineServer, request: HttpRequest, receive: Receive, send: Send
) -> None:
    """Serves one ASGI WebSocket (after ``websocket.connect`` was received)."""
    try:
        target = await engine.prepare_websocket(request)
    except HandshakeError as exc:
        logger.debug("websocket refused: %s", exc.message)
        await send({"type": "websocket.close", "code": 1008})
        return
    await send({"type": "websocket.accept"})
    sink = ASGIWebSocketSink(send)
    writer = asyncio.get_running_loop().create_task(sink.run())
    socket: EngineSocket
    if target is None:
        socket = await engine.open_websocket(request, sink)
    else:
        socket = target
        engine.attach_probe(socket, sink)
    max_size = engine.options.limits.max_http_buffer_size
    try:
        while True:
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
        if sink._close_code is None:
            sink.stop()
        await writer
