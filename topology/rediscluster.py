"""A Redis Cluster of our own whose clients all go through counting proxies.

A cluster client connects straight to the addresses the nodes announce, so a proxy in
front of one node is bypassed as soon as the client has read the slot map. Here every
master runs with ``cluster-announce-ip 127.0.0.1``, ``cluster-announce-port`` = the port of
its own :class:`~topology.delayproxy.DelayProxy` and ``cluster-announce-bus-port`` = its
real bus port: the slot map, ``MOVED`` replies and the subscriber connections all name the
proxies, and the nodes still gossip with each other directly. Each proxy counts per
connection (:attr:`DelayProxy.peers`), so what one gateway process sent and received is
the sum over the connections whose peer port that process holds
(:func:`topology.procstat.tcp_ports_of`).

Debian's ``redis-server`` (>= 7, for sharded pub/sub) and ``redis-cli --cluster create``,
on free ports of 127.0.0.1, without persistence, like ``tests/helpers/redis.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from measure.redis import free_port, server_args

from topology.delayproxy import DelayProxy
from topology.redisbench import HOST

__all__ = ["ProxiedCluster", "cluster_available", "running_proxied_cluster"]


def cluster_available() -> bool:
    """Whether redis-server, redis-cli and redis-py are installed."""
    try:
        import redis.asyncio.cluster  # noqa: F401
    except ImportError:
        return False
    return shutil.which("redis-server") is not None and shutil.which("redis-cli") is not None


@dataclass(slots=True)
class ProxiedCluster:
    """The running cluster.

    Attributes:
        proxies: one counting proxy per master (what the master announces).
        pids: the masters' process ids.
    """

    proxies: list[DelayProxy]
    pids: list[int]

    @property
    def url(self) -> str:
        """A node's URL, through its proxy (a cluster client discovers the others)."""
        return f"redis://{HOST}:{self.proxies[0].port}"


async def _cluster_ok(cli: str, port: int) -> bool:
    proc = await asyncio.create_subprocess_exec(
        cli, "-p", str(port), "cluster", "info", stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    out, _ = await proc.communicate()
    return b"cluster_state:ok" in out


@contextlib.asynccontextmanager
async def running_proxied_cluster(
    masters: int, watch: dict[str, tuple[str, bytes]]
) -> AsyncIterator[ProxiedCluster]:
    """``masters`` masters (no replicas), each behind a counting proxy it announces.

    Args:
        masters: cluster nodes (3 at least, as ``redis-cli --cluster create`` wants).
        watch: what the proxies count (see :class:`~topology.delayproxy.DelayProxy`).
    """
    cli = shutil.which("redis-cli")
    server = shutil.which("redis-server")
    if cli is None or server is None:
        raise RuntimeError("redis-server / redis-cli are not installed (make system-deps)")
    workdir = Path(tempfile.mkdtemp(prefix="topology-cluster-"))
    procs: list[asyncio.subprocess.Process] = []
    proxies: list[DelayProxy] = []
    try:
        for n in range(masters):
            port, bus = free_port(), free_port()
            proxy = DelayProxy(HOST, port, 0.0, tcp_handshake=False, watch=watch)
            await proxy.start()
            proxies.append(proxy)
            node_dir = workdir / str(n)
            node_dir.mkdir()
            procs.append(
                await asyncio.create_subprocess_exec(
                    server,
                    *server_args(port, node_dir),
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-port",
                    str(bus),
                    "--cluster-announce-ip",
                    HOST,
                    "--cluster-announce-port",
                    str(proxy.port),
                    "--cluster-announce-bus-port",
                    str(bus),
                    "--client-output-buffer-limit",
                    "pubsub 256mb 256mb 0",
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )  # fmt: skip
            )
        loop = asyncio.get_running_loop()
        for proxy in proxies:
            end = loop.time() + 10
            while True:
                with contextlib.suppress(OSError):
                    _, writer = await asyncio.open_connection(HOST, proxy.target_port)
                    writer.close()
                    break
                if loop.time() > end:
                    raise RuntimeError(f"redis-server on {proxy.target_port} did not start")
                await asyncio.sleep(0.05)
        create = await asyncio.create_subprocess_exec(
            cli, "--cluster", "create", *(f"{HOST}:{p.target_port}" for p in proxies),
            "--cluster-replicas", "0", "--cluster-yes",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        async with asyncio.timeout(60):
            output, _ = await create.communicate()
        if create.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed:\n{output.decode()}")
        end = loop.time() + 30
        for proxy in proxies:
            while not await _cluster_ok(cli, proxy.target_port):
                if loop.time() > end:
                    raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")
                await asyncio.sleep(0.1)
        yield ProxiedCluster(proxies, [p.pid for p in procs])
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
        for proxy in proxies:
            await proxy.close()
        shutil.rmtree(workdir, ignore_errors=True)
