"""``python -m community``: serve the community application with uvicorn.

Listens on ``HOST``:``PORT`` (default 127.0.0.1:8000) and uses ``DATABASE_URL`` (default: the
SQLite demo database ``./community.sqlite3``, seeded with demo users on first start).

``WORKERS=N`` (default 1) serves the port with N processes (``plexio.run(..., workers=N)``):
they share rooms and broadcasts through the Redis at ``REDIS_URL``; without one, a private
``redis-server`` is started on a free port of 127.0.0.1 for as long as the server runs. The
database is migrated (and the demo seeded) once, before the workers start.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import uvicorn
from pydantic import Field

import plexio
from community.app import create_app, create_asgi_app
from community.gateway import GatewayOptions
from community.settings import EnvironmentVariables, Settings

__all__ = ["ServerEnvironment", "main", "private_redis"]

logger = logging.getLogger("community")


def main(argv: list[str] | None = None) -> int:
    """Start the server and block until it stops.

    Args:
        argv: Unused; present for symmetry with other entry points.

    Returns:
        The process exit status.
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        server = ServerEnvironment.read()
        options = GatewayOptions.from_env()
        settings = Settings.from_env()  # last: it may create the key file
    except ValueError as exc:
        print(f"invalid configuration: {exc}", file=sys.stderr)
        return 2
    host, port, workers = server.host, server.port, server.workers
    if workers == 1:
        app = create_asgi_app(settings, options)
        uvicorn.run(app, host=host, port=port, log_level="info")
        return 0
    with contextlib.ExitStack() as stack:
        if options.redis_url is None:
            try:
                url = stack.enter_context(private_redis())
            except FileNotFoundError:
                print(
                    "WORKERS>1 needs Redis: set REDIS_URL, or install redis-server "
                    "(make system-deps) and one is started for this server",
                    file=sys.stderr,
                )
                return 2
            options = dataclasses.replace(options, redis_url=url)
        # Migrate and seed once here: the workers only check the schema.
        asyncio.run(_prepare(settings))
        app = create_asgi_app(dataclasses.replace(settings, seed_demo=False), options)

        def ready(bound: int) -> None:
            logger.info("%d workers serving http://%s:%d", workers, host, bound)

        plexio.run(
            app, host, port, server="uvicorn", workers=workers, log_level="info", ready=ready
        )
    return 0


class ServerEnvironment(EnvironmentVariables):
    """The listening address and process count, from ``HOST``, ``PORT`` and ``WORKERS`` (read by
    pydantic-settings; blank counts as unset).

    Attributes:
        host: ``HOST``, the address to listen on.
        port: ``PORT``, from 0 (any free port) to 65535.
        workers: ``WORKERS``, processes serving the port, from 1 to 64.
    """

    host: str = Field(default="127.0.0.1", validation_alias="HOST")
    port: int = Field(default=8000, ge=0, le=65535, validation_alias="PORT")
    workers: int = Field(default=1, ge=1, le=64, validation_alias="WORKERS")


async def _prepare(settings: Settings) -> None:
    api = create_app(settings)
    async with api.router.lifespan_context(api):
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def private_redis() -> Iterator[str]:
    """A ``redis-server`` of our own on a free port of 127.0.0.1 (no persistence), stopped on
    exit; yields its URL.

    Raises:
        FileNotFoundError: redis-server is not installed.
    """
    executable = shutil.which("redis-server")
    if executable is None:
        raise FileNotFoundError("redis-server")
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="community-redis-") as workdir:
        process = subprocess.Popen(
            [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no", "--dir", workdir],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 10
            while True:  # bounded: until it accepts connections
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("redis-server did not start") from None
                    time.sleep(0.05)
            logger.info("started redis-server on 127.0.0.1:%d for the workers", port)
            yield f"redis://127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


if __name__ == "__main__":
    sys.exit(main())
