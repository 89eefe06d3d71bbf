"""Fan-out across processes through Redis: plexio workers against Node servers with
``@socket.io/redis-adapter``, same run, same load.

``python -m bench.cluster [--members N] [--seconds S]`` starts a private redis-server, then,
one configuration at a time:

* ``plexio x1`` / ``plexio x2``: ``bench/workers_app.py`` (Redis adapter) with 1 and 2 workers
  on one port (``plexio.run(..., workers=N)``; the kernel spreads the connections);
* ``node x1`` / ``node x2``: ``bench/node/server.js --redis`` in 1 and 2 processes (socket.io
  4.8, redis-adapter 8.3), the members split evenly over their ports.

``N`` members (raw WebSocket clients of ``bench/client.py``) join one room; one more client
asks its server to broadcast to the room (``fanout``) with a window of messages in flight.
With two processes, half the deliveries cross Redis. Reported: deliveries per second, server
CPU per delivery (all server processes, ``/proc`` schedstat) and Redis CPU per delivery.
Small by design: the machine has two cores shared with other jobs; compare within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from time import monotonic
from typing import Any

from measure.procstat import cpu_sample
from picows import ws_connect

from bench.client import FanoutSender, SioClient, Stats
from bench.workers import ROOT, redis_server, server_process, workers_app

__all__ = ["main", "measure"]

NODE_DIR = ROOT / "bench" / "node"


@contextlib.asynccontextmanager
async def plexio_servers(
    redis_url: str, workers: int
) -> AsyncIterator[tuple[list[int], list[str]]]:
    """plexio on ``workers`` workers: (server pids, the one URL)."""
    async with workers_app(redis_url, workers, timeout=60) as (port, pids):
        yield pids, [_url(port)]


@contextlib.asynccontextmanager
async def node_servers(redis_url: str, count: int) -> AsyncIterator[tuple[list[int], list[str]]]:
    """``count`` Node servers on the Redis adapter: (pids, their URLs)."""
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is not installed (make system-deps)")
    async with contextlib.AsyncExitStack() as stack:
        pids, urls = [], []
        for _ in range(count):
            argv = (node, "server.js", "--port", "0", "--redis", redis_url)
            pid, line = await stack.enter_async_context(server_process(*argv, cwd=NODE_DIR))
            pids.append(pid)
            urls.append(_url(int(line.strip().rsplit(":", 1)[1])))
        yield pids, urls


def _url(port: int) -> str:
    return f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"


async def _client(stats: Stats, url: str) -> SioClient:
    _, client = await ws_connect(lambda: SioClient(stats, ("/",)), url)
    assert isinstance(client, SioClient)
    async with asyncio.timeout(10):
        await client.ready
    return client


async def _fanout(
    urls: list[str], pids: list[int], redis_pid: int, members: int, seconds: float, window: int
) -> dict[str, Any]:
    stats = Stats()
    clients = [await _client(stats, urls[n % len(urls)]) for n in range(members)]
    sender_client = await _client(stats, urls[0])
    try:
        await asyncio.gather(*(c.join("r", 10) for c in clients))
        for client in clients:
            client.prepare_fanout_member()
        sender = FanoutSender(sender_client, stats, "r", members, window=window, padding=64)
        stats.sender = sender
        stats.running = True
        sender.start()
        await asyncio.sleep(1.0)  # warm-up
        stats.reset()
        stats.recording = True
        servers_before = [cpu_sample(pid) for pid in pids]
        redis_before = cpu_sample(redis_pid)
        started = monotonic()
        await asyncio.sleep(seconds)
        elapsed = monotonic() - started
        stats.recording = False
        servers = sum(
            (cpu_sample(p) - b).precise_s for p, b in zip(pids, servers_before, strict=True)
        )
        redis_cpu = (cpu_sample(redis_pid) - redis_before).precise_s
        stats.running = False
        sender.stop()
        deliveries = stats.ops
        return {
            "processes": len(pids),
            "members": members,
            "deliveries": deliveries,
            "deliveries_per_s": deliveries / elapsed,
            "server_cpu_us_per_delivery": servers / deliveries * 1e6 if deliveries else None,
            "redis_cpu_us_per_delivery": redis_cpu / deliveries * 1e6 if deliveries else None,
            "errors": stats.errors,
        }
    finally:
        for client in [*clients, sender_client]:
            client.disconnect()
        await asyncio.sleep(0.2)


async def measure(members: int, seconds: float, window: int = 4) -> dict[str, dict[str, Any]]:
    """Every configuration, one after the other, on one private Redis."""
    results: dict[str, dict[str, Any]] = {}
    async with redis_server() as url:
        redis_pid = _redis_pid(url)
        for name, servers, count in (
            ("plexio x1", plexio_servers, 1),
            ("node x1", node_servers, 1),
            ("plexio x2", plexio_servers, 2),
            ("node x2", node_servers, 2),
        ):
            async with servers(url, count) as (pids, urls):
                results[name] = await _fanout(urls, pids, redis_pid, members, seconds, window)
            print(f"{name}: {_line(results[name])}", file=sys.stderr, flush=True)
    return results


def _redis_pid(url: str) -> int:
    port = url.rsplit(":", 1)[1]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes()
            # redis-server shows itself as "redis-server 127.0.0.1:PORT"
            if b"redis-server" in cmdline[:80] and f":{port}".encode() in cmdline:
                return int(entry.name)
    raise RuntimeError("redis-server process not found")


def _line(row: dict[str, Any]) -> str:
    cpu = row["server_cpu_us_per_delivery"]
    redis_cpu = row["redis_cpu_us_per_delivery"]
    return (
        f"{row['deliveries_per_s']:,.0f} deliveries/s, server CPU {cpu:.1f} µs/delivery, "
        f"Redis {redis_cpu:.2f} µs/delivery ({row['processes']} processes, "
        f"{row['members']} members, {row['errors']} errors)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--window", type=int, default=4, help="broadcasts in flight")
    args = parser.parse_args(argv)
    results = asyncio.run(measure(args.members, args.seconds, args.window))
    for name, row in results.items():
        print(f"{name:>10}: {_line(row)}")
    for kind in ("plexio", "node"):
        one, two = results[f"{kind} x1"], results[f"{kind} x2"]
        print(f"{kind}: 1 -> 2 processes: x{two['deliveries_per_s'] / one['deliveries_per_s']:.2f}")
    two_p, two_n = results["plexio x2"], results["node x2"]
    rate = two_p["deliveries_per_s"] / two_n["deliveries_per_s"]
    cpu = two_p["server_cpu_us_per_delivery"] / two_n["server_cpu_us_per_delivery"]
    print(f"2 processes, plexio / Node: deliveries/s x{rate:.2f}, CPU per delivery x{cpu:.2f}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
