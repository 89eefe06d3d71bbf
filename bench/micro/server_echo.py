"""Micro-benchmark: the server's user-space cost of one echo ack and one fan-out delivery.

No network: a WebSocket sink that drops bytes stands in for the transport, so what is
timed is decode → dispatch → handler → ack encode → frame queue/flush (and, for fan-out,
encode once + queue per member). Run: ``python -m bench.micro.server_echo``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import plexio
from plexio.native.listener import _FrameCache
from plexio.transports.base import HttpRequest


class NullSink:
    """A FrameSink that encodes frames like the native listener and drops them."""

    def __init__(self, cache: _FrameCache) -> None:
        self.on_drain: Callable[[], None] | None = None
        self.paused = False
        self.buffered_size = 0
        self.written = 0
        self._cache = cache

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def write(self, frames: list[str | bytes]) -> int:
        data = b"".join([self._cache.encode(f) for f in frames])
        self.written += len(data)
        return 0  # what it holds unsent (as the native listener's sink answers)

    def close(self, code: int = 1000) -> None:
        pass


async def main() -> None:
    sio = plexio.Server()

    @sio.on("echo")
    async def echo(socket: Any, data: Any) -> Any:
        return data

    @sio.on("fanout")
    def fanout(socket: Any, data: Any) -> None:
        sio.to("room").emit("news", data)

    cache = _FrameCache()
    request = HttpRequest("GET", "/socket.io/", {"EIO": "4", "transport": "websocket"}, {})
    sockets = []
    sinks = []
    for _ in range(1000):
        sink = NullSink(cache)
        engine_socket = await sio.engine.open_websocket(request, sink)
        engine_socket.ws_received(sink, ["40"])
        sockets.append(engine_socket)
        sinks.append(sink)
    await asyncio.sleep(0)
    sio.sockets_join("room")
    first, sink = sockets[0], sinks[0]
    n = 100_000
    frame = '42["echo",{"id":1,"text":"hello world"}]'
    start = time.process_time()
    for i in range(n):
        first.ws_received(sink, ["421" + frame[2:]] if i % 2 else [frame])
        sio.engine._flush_dirty()
    elapsed = time.process_time() - start
    print(f"echo: {elapsed / n * 1e6:.2f} µs per ack (user+sys CPU, no network)")
    rounds = 200
    start = time.process_time()
    for _ in range(rounds):
        first.ws_received(sink, ['42["fanout",{"text":"hello"}]'])
        sio.engine._flush_dirty()
    elapsed = time.process_time() - start
    print(f"fan-out: {elapsed / (rounds * len(sockets)) * 1e6:.2f} µs per delivery")


if __name__ == "__main__":
    asyncio.run(main())
