"""The server the hostile-client measurements run against (``python -m bench.hostile``).

Started as ``python -m bench.hostile_app``: a plexio Server with default settings on the
native listener, printing ``PORT <n>`` once listening. Its events:

``join`` joins room ``r``; ``flood(count, size, gap)`` broadcasts ``count`` messages
of ``size`` bytes to ``r``, ``gap`` seconds apart, and acks when they are queued; ``echo`` acks its
argument; ``hang`` never returns; ``boom`` raises; ``stats`` acks the number of asyncio
tasks and sessions.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from typing import Any

from measure.procstat import raise_nofile_limit

import plexio


def build(ping_interval: float | None = None) -> plexio.Server:
    sio = plexio.Server(ping_interval=ping_interval)

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
