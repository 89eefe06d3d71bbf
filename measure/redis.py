"""A private redis-server for a measurement: a free port of 127.0.0.1, no persistence,
its own working directory, stopped and removed afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

__all__ = ["HOST", "free_port", "running_redis", "server_args"]

HOST = "127.0.0.1"


def free_port() -> int:
    """A free TCP port of 127.0.0.1 (free when asked)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def server_args(port: int, workdir: str | Path) -> list[str]:
    """redis-server's options for a private server: ``port`` of 127.0.0.1, no persistence
    (no RDB snapshots, no AOF), ``workdir`` as its working directory."""
    return [
        "--port",
        str(port),
        "--bind",
        HOST,
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
    ]


@contextlib.asynccontextmanager
async def running_redis(*extra: str) -> AsyncIterator[tuple[int, int]]:
    """redis-server (with ``extra`` arguments) on a free port, once it answers PING:
    (port, pid). Raises RuntimeError when it is not installed or does not start."""
    import redis.asyncio as aioredis

    path = shutil.which("redis-server")
    if path is None:
        raise RuntimeError("redis-server is not installed (make system-deps)")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="plexio-measure-redis-")
    proc = await asyncio.create_subprocess_exec(
        path,
        *server_args(port, workdir),
        *extra,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        client = aioredis.Redis(host=HOST, port=port)
        try:
            for _ in range(100):
                try:
                    if await client.ping():
                        break
                except (OSError, ConnectionError, aioredis.ConnectionError):
                    await asyncio.sleep(0.05)
            else:
                raise RuntimeError("redis-server did not start")
        finally:
            await client.aclose()
        yield port, proc.pid
    finally:
        proc.terminate()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await proc.wait()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)
