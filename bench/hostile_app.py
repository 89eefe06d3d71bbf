"""The server the hostile-client measurements run against (``python -m bench.hostile``).

Started as ``python -m bench.hostile_app``: a plexio Server with default settings on the
native listener, printing ``PORT <n>`` once listening. Its events:

``join`` joins room ``r``; ``flood(count, size, gap)`` broadcasts ``count`` messages
of ``size`` bytes to ``r``, ``gap`` seconds apart, and acks when they are queued; ``echo`` acks its
argument; ``hang`` never returns; ``boom`` raises; ``stats`` acks the number of asyncio
tasks and sessions; ``loopstats`` acks the loop's own stalls since the last call (see
:class:`LoopWatch`) and starts counting again.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import statistics
import sys
import time
from typing import Any

from measure.procstat import raise_nofile_limit

import plexio


class LoopWatch:
    """What the server's loop itself costs its clients, whatever the machine's load.

    A callback every millisecond reads the CPU time its thread spent since the
    previous one: a well-behaved client's message waits for at most that much of the
    server's own work (wall-clock latencies add the scheduler's delays on a loaded
    machine). Full (generation 2) collections are timed in CPU too.
    """

    def __init__(self) -> None:
        self.ticks: list[float] = []
        self.walls: list[float] = []
        self.full_gcs: list[float] = []
        self._last = 0.0
        self._last_wall = 0.0
        self._gc_started = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._last = time.thread_time()
            self._last_wall = time.perf_counter()
            self._loop.call_later(0.001, self._tick)
            gc.callbacks.append(self._gc)

    def _tick(self) -> None:
        now, wall = time.thread_time(), time.perf_counter()
        self.ticks.append(now - self._last)
        self.walls.append(wall - self._last_wall)
        self._last, self._last_wall = now, wall
        assert self._loop is not None
        self._loop.call_later(0.001, self._tick)

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._gc_started = time.thread_time()
        else:
            self.full_gcs.append(time.thread_time() - self._gc_started)

    def report(self) -> dict[str, Any]:
        """The figures since the last report (in ms), then starts again."""
        ticks, walls, gcs = self.ticks, self.walls, self.full_gcs
        self.ticks, self.walls, self.full_gcs = [], [], []
        # inclusive: a window with few ticks (a saturated loop) never reports a p99
        # above its maximum
        p99 = statistics.quantiles(ticks, n=100, method="inclusive")[98] if len(ticks) >= 2 else 0.0
        return {
            "tick_cpu_p99_ms": round(p99 * 1000, 2),
            "tick_cpu_max_ms": round(max(ticks, default=0.0) * 1000, 2),
            # wall-clock gaps between the 1 ms ticks: the CPU above plus the time the
            # process waited for a CPU (the machine's load, not the server's work)
            "tick_wall_max_ms": round(max(walls, default=0.0) * 1000, 2),
            "ticks_over_3ms_wall": sum(w > 0.003 for w in walls),
            "ticks_over_3ms_cpu": sum(t > 0.003 for t in ticks),
            "full_gcs": len(gcs),
            "full_gc_max_ms": round(max(gcs, default=0.0) * 1000, 2),
        }


def build(ping_interval: float | None = None) -> plexio.Server:
    sio = plexio.Server(ping_interval=ping_interval)
    watch = LoopWatch()

    @sio.on("join")
    def join(socket: plexio.ServerSocket) -> str:
        socket.join("r")
        return "ok"

    @sio.on("flood")
    async def flood(socket: plexio.ServerSocket, count: int, size: int, gap: float) -> str:
        body = "x" * size
        room = sio.to("r")
        for n in range(count):
            room.emit("m", n, body)
            await asyncio.sleep(gap)
        return "sent"

    @sio.on("echo")
    def echo(socket: plexio.ServerSocket, data: Any) -> Any:
        return data

    @sio.on("hang")
    async def hang(socket: plexio.ServerSocket) -> None:
        await asyncio.Event().wait()

    @sio.on("boom")
    def boom(socket: plexio.ServerSocket) -> None:
        raise ValueError("a handler that always fails")

    @sio.on("stats")
    def stats(socket: plexio.ServerSocket) -> dict[str, int]:
        return {"tasks": len(asyncio.all_tasks()), "sessions": len(sio.engine.sockets)}

    @sio.on("loopstats")
    def loopstats(socket: plexio.ServerSocket) -> dict[str, Any]:
        watch.start()
        return watch.report()

    return sio


def main() -> None:
    """``python -m bench.hostile_app [PORT [PING_INTERVAL [native|uvicorn]]]``."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    raise_nofile_limit(65536)
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    ping = float(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] != "-" else None
    if len(sys.argv) > 3 and sys.argv[3] == "uvicorn":
        if not port:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        print("PORT", port, flush=True)  # the client retries until uvicorn listens
        plexio.run(build(ping), port=port, server="uvicorn", log_level="error")
        return
    plexio.run(build(ping), port=port, ready=lambda p: print("PORT", p, flush=True))


if __name__ == "__main__":
    main()
