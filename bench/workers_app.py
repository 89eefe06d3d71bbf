"""The app of the cluster benchmarks: ``python -m bench.workers_app REDIS_URL WORKERS``.

A plexio server on the Redis adapter, served by ``plexio.run(..., workers=WORKERS)`` on a
free port (printed as ``{"port": N}`` once every worker listens). The handlers of the
benchmark's other servers: ``join(room)`` (acked), ``fanout(room, payload)`` broadcasts
``msg`` to ``room`` (across the workers).
"""

from __future__ import annotations

import json
import sys

import plexio
from plexio.server.adapters.redis import create_adapter

__all__ = ["build", "main"]


def build(redis_url: str) -> plexio.Server:
    """The app (nothing started: the workers are forked from it)."""
    sio = plexio.Server(adapter=create_adapter(redis_url))

    @sio.on("join")
    def join(socket: plexio.ServerSocket, room: str) -> bool:
        socket.join(room)
        return True

    @sio.on("fanout")
    def fanout(socket: plexio.ServerSocket, room: str, payload: str) -> None:
        sio.to(room).emit("msg", payload)

    return sio


def main() -> None:
    redis_url, workers = sys.argv[1], int(sys.argv[2])
    sio = build(redis_url)
    plexio.run(
        sio,
        port=0,
        workers=workers,
        ready=lambda port: print(json.dumps({"port": port}), flush=True),
    )


if __name__ == "__main__":
    main()
