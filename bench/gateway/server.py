"""One measured server process: the community gateway or the reference, under uvicorn.

``python -m bench.gateway.server '<json config>'`` serves on 127.0.0.1 (port 0: the kernel
picks), prints ``READY <port>`` on stdout once it accepts connections, and serves until stdin
closes or it is terminated. Both kinds run the same way as ``python -m community`` does
(uvicorn, uvloop, httptools, its default WebSocket implementation), so the only difference
between them is what sits between the socket events and the database driver.

Config keys: ``kind`` (``"gateway"`` or ``"reference"``), ``database_url``, ``secret``, and
``workers`` (gateway only): above 1, ``plexio.run(..., workers=N)`` on uvicorn with a private
``redis-server`` for the Redis adapter, as ``WORKERS=N python -m community`` serves it (the
database is already migrated by the set-up's server).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from typing import Any

import uvicorn

__all__ = ["build_app", "main"]

# The bench drives many requests per socket; the gateway's per-socket rate limit is a setting,
# raised here so that it never refuses one (its cost per request is paid all the same).
BENCH_REQUEST_BURST = 1_000_000
BENCH_REQUEST_RATE = 1_000_000.0


def build_app(config: dict[str, Any], redis_url: str | None = None) -> Any:
    """The ASGI app of one kind of server.

    Args:
        config: ``kind``, ``database_url`` and ``secret``.
        redis_url: The Redis adapter's server, for several gateway workers.

    Returns:
        The app to serve (its lifespan migrates the database, for the gateway).
    """
    if config["kind"] == "gateway":
        from community.app import create_app
        from community.settings import PasswordCost, Settings

        from community.gateway import GatewayOptions, create_gateway_app

        settings = Settings(
            database_url=config["database_url"],
            secret=config["secret"],
            # Cheap but real argon2id: the set-up signs up hundreds of users.
            password_cost=PasswordCost(time_cost=1, memory_kib=1024, parallelism=1),
        )
        options = GatewayOptions(request_burst=BENCH_REQUEST_BURST, request_rate=BENCH_REQUEST_RATE)
        return create_gateway_app(create_app(settings), options)
    from bench.gateway.reference import create_reference_app

    return create_reference_app(config["database_url"], config["secret"])


async def _serve(config: dict[str, Any]) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(build_app(config), log_level="warning", lifespan="on", loop="none")
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            await task
            raise RuntimeError("the server stopped during start-up")
        await asyncio.sleep(0.02)
    print(f"READY {port}", flush=True)
    loop = asyncio.get_running_loop()
    stdin_closed = loop.run_in_executor(None, sys.stdin.read)
    await asyncio.wait([task, stdin_closed], return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    await task


def _serve_workers(config: dict[str, Any]) -> None:
    import threading

    from community.__main__ import private_redis

    import plexio

    with private_redis() as redis_url:
        app = build_app(config, redis_url)

        def ready(port: int) -> None:
            print(f"READY {port}", flush=True)

        def stop_when_stdin_closes() -> None:
            sys.stdin.read()
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=stop_when_stdin_closes, daemon=True).start()
        plexio.run(
            app,
            port=0,
            server="uvicorn",
            workers=int(config["workers"]),
            ready=ready,
            log_level="warning",
        )


def main() -> int:
    """Entry point of the server subprocess."""
    config = json.loads(sys.argv[1])
    if int(config.get("workers", 1)) > 1:
        _serve_workers(config)
        return 0
    import uvloop

    uvloop.run(_serve(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
