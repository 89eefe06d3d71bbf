"""Debian's redis-server, started by the test set-up on free ports of 127.0.0.1.

* :func:`running_redis` — one standalone server; ``kill()`` ends it like a crash
  (SIGKILL) and ``start()`` starts it again on the same port (an empty server, as
  after a real restart without persistence);
* :func:`running_redis_cluster` — a Redis Cluster of N masters (no replicas) made with
  ``redis-cli --cluster create``.

Every process runs in its own process group, without persistence, in a temporary
directory, and is killed on exit from its context manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from measure.redis import HOST, free_port, server_args

__all__ = [
    "RedisCluster",
    "RedisProcess",
    "free_port",
    "running_redis",
    "running_redis_cluster",
    "watch",
]


def require_redis() -> str:
    """The ``redis-server`` executable, failing the test with a hint when missing."""
    path = shutil.which("redis-server")
    if path is None:
        pytest.fail("redis-server is not installed (run `make system-deps`)")
    return path


async def _ping(port: int) -> bool:
    try:
        reader, writer = await asyncio.open_connection(HOST, port)
    except OSError:
        return False
    try:
        writer.write(b"PING\r\n")
        await writer.drain()
        async with asyncio.timeout(1.0):
            line = await reader.readline()
        return line.startswith(b"+PONG")
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


@dataclass(slots=True)
class RedisProcess:
    """One redis-server process on a fixed port."""

    port: int
    workdir: Path
    extra: tuple[str, ...] = ()
    _proc: asyncio.subprocess.Process | None = None
    _log: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>``."""
        return f"redis://{HOST}:{self.port}"

    async def start(self, timeout: float = 10.0) -> None:
        """Starts the server (again) on :attr:`port` and waits until it answers PING."""
        if self._proc is not None and self._proc.returncode is None:
            raise RuntimeError("already running")
        server = require_redis()
        logfile = self.workdir / f"redis-{self.port}.log"
        self._proc = await asyncio.create_subprocess_exec(
            server,
            *server_args(self.port, self.workdir),
            "--daemonize",
            "no",
            "--logfile",
            str(logfile),
            *self.extra,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not await _ping(self.port):
            if self._proc.returncode is not None or loop.time() > end:
                text = logfile.read_text("utf-8", "replace") if logfile.exists() else ""
                await self.kill()
                raise RuntimeError(f"redis-server on port {self.port} did not start:\n{text}")
            await asyncio.sleep(0.02)

    def pause(self) -> None:
        """Freezes the server (SIGSTOP): connections stay open, nothing answers."""
        assert self._proc is not None
        os.killpg(self._proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Lets a paused server go on (SIGCONT)."""
        assert self._proc is not None
        os.killpg(self._proc.pid, signal.SIGCONT)

    async def kill(self) -> None:
        """Ends the server abruptly (SIGKILL to its process group)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()


@contextlib.asynccontextmanager
async def running_redis(*extra: str) -> AsyncIterator[RedisProcess]:
    """A standalone redis-server on a free port, killed on exit.

    Args:
        extra: more ``redis-server`` command-line arguments.
    """
    with tempfile.TemporaryDirectory(prefix="plexio-redis-") as workdir:
        server = RedisProcess(free_port(), Path(workdir), extra)
        await server.start()
        try:
            yield server
        finally:
            await server.kill()


@dataclass(slots=True)
class RedisCluster:
    """A Redis Cluster of masters started by :func:`running_redis_cluster`."""

    nodes: list[RedisProcess]

    @property
    def url(self) -> str:
        """The URL of the first node (a cluster client discovers the others)."""
        return self.nodes[0].url


@contextlib.asynccontextmanager
async def running_redis_cluster(masters: int = 3) -> AsyncIterator[RedisCluster]:
    """A Redis Cluster of ``masters`` masters (no replicas) on free ports, killed on exit."""
    cli = shutil.which("redis-cli")
    if cli is None:
        pytest.fail("redis-cli is not installed (run `make system-deps`)")
    with tempfile.TemporaryDirectory(prefix="plexio-redis-cluster-") as workdir:
        nodes: list[RedisProcess] = []
        try:
            for n in range(masters):
                node_dir = Path(workdir) / str(n)
                node_dir.mkdir()
                node = RedisProcess(
                    free_port(),
                    node_dir,
                    (
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                        # its own free port for the cluster bus (the default, port +
                        # 10000, may be taken or beyond 65535)
                        "--cluster-port",
                        str(free_port()),
                    ),
                )
                await node.start()
                nodes.append(node)
            create = await asyncio.create_subprocess_exec(
                cli,
                "--cluster",
                "create",
                *(f"{HOST}:{node.port}" for node in nodes),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
            async with asyncio.timeout(30):
                output, _ = await create.communicate()
            if create.returncode != 0:
                raise RuntimeError(f"redis-cli --cluster create failed:\n{output.decode()}")
            await _wait_cluster_ok(cli, nodes)
            yield RedisCluster(nodes)
        finally:
            for node in nodes:
                await node.kill()


async def _wait_cluster_ok(cli: str, nodes: list[RedisProcess], timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    for node in nodes:
        while True:
            proc = await asyncio.create_subprocess_exec(
                cli,
                "-p",
                str(node.port),
                "cluster",
                "info",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
            out, _ = await proc.communicate()
            if b"cluster_state:ok" in out:
                break
            if loop.time() > end:
                raise RuntimeError(f"cluster not ok on port {node.port}:\n{out.decode()}")
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def watch(url: str, pattern: str = "*") -> AsyncIterator[list[tuple[str, bytes]]]:
    """Records what goes through Redis (a subscriber of our own)."""
    client = aioredis.Redis.from_url(url)
    pubsub = client.pubsub()
    seen: list[tuple[str, bytes]] = []
    await pubsub.psubscribe(pattern)

    async def read() -> None:
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is not None:
                seen.append((message["channel"].decode(), message["data"]))

    task = asyncio.get_running_loop().create_task(read())
    try:
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await pubsub.aclose()
        await client.aclose()
