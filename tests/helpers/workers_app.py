"""A plexio app served by ``plexio.run(..., workers=N)`` on a Redis adapter, for the tests.

``python -m tests.helpers.workers_app REDIS_URL WORKERS [native|uvicorn]`` prints
``{"port": N}`` once every worker listens, and runs until SIGTERM/SIGINT.

Events: ``join(room)``; ``where()`` answers ``{"pid", "sid"}`` (the worker holding the
socket); ``shout(room, *args)`` broadcasts ``heard`` to the room (every worker);
``count()`` answers how many sockets the whole cluster has (``fetch_sockets``).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import plexio
from plexio.server.adapters.redis import create_adapter


def build(redis_url: str) -> plexio.Server:
    """The app (nothing started: the workers are forked from it)."""
    sio = plexio.Server(adapter=create_adapter(redis_url, requests_timeout=3.0))

    @sio.on("join")
    def join(socket: plexio.ServerSocket, room: str) -> str:
        socket.join(room)
        return room

    @sio.on("where")
    def where(socket: plexio.ServerSocket) -> dict[str, Any]:
        return {"pid": os.getpid(), "sid": socket.id}

    @sio.on("shout")
    def shout(socket: plexio.ServerSocket, room: str, *args: Any) -> bool:
        sio.to(room).emit("heard", *args)
        return True

    @sio.on("count")
    async def count(socket: plexio.ServerSocket) -> int:
        return len(await sio.fetch_sockets())

    return sio


def main() -> None:
    redis_url, workers = sys.argv[1], int(sys.argv[2])
    server = sys.argv[3] if len(sys.argv) > 3 else "native"
    sio = build(redis_url)

    def ready(port: int) -> None:
        print(json.dumps({"port": port}), flush=True)

    plexio.run(sio, port=0, workers=workers, server=server, ready=ready)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
