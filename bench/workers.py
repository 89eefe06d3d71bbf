"""A long-polling request answered where it lands vs forwarded to the worker holding its
session (``plexio.run(..., workers=2)``), and a Redis pub/sub round trip for comparison.

``python -m bench.workers [--requests N]`` starts redis-server on a free port and the app of
``bench/workers_app.py`` with two workers, opens sessions until both workers own some, then
sends the same POST (one Socket.IO event) over one keep-alive connection for sessions of
each worker in turn. The connection sits on one worker, so one group of requests is served
directly and the other forwarded over a unix socket; the group that costs the other worker
no CPU is the direct one. Reported: median and p99 latency per request, and CPU per request
of each worker (``/proc/PID/stat`` plus schedstat), then what one PUBLISH answered by a
second client through Redis costs (the least a Redis-based forward, as Node's cluster engine
does it, pays per hop; it does two: the lock, then the data).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import statistics
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis
from measure.process import children, running_process
from measure.procstat import cpu_sample
from measure.redis import running_redis

__all__ = ["main", "measure"]

ROOT = Path(__file__).resolve().parents[1]


@contextlib.asynccontextmanager
async def redis_server() -> AsyncIterator[str]:
    """A private redis-server on a free port; its URL."""
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is not installed (make system-deps)")
    async with running_redis() as (port, _pid):
        yield f"redis://127.0.0.1:{port}"


@contextlib.asynccontextmanager
async def server_process(
    *argv: str, cwd: Path = ROOT, timeout: float = 60
) -> AsyncIterator[tuple[int, str]]:
    """Runs a server process in a session of its own; yields (pid, its first stdout line,
    which says where it listens). Stopped with SIGTERM, its whole group killed after 15 s."""
    async with running_process(*argv, cwd=cwd, timeout=timeout) as (proc, line):
        yield proc.pid, line


@contextlib.asynccontextmanager
async def workers_app(
    redis_url: str, workers: int, timeout: float = 30
) -> AsyncIterator[tuple[int, list[int]]]:
    """The bench app on ``workers`` workers: (port, worker pids; the supervisor's own pid
    when it has no children)."""
    argv = (sys.executable, "-m", "bench.workers_app", redis_url, str(workers))
    async with server_process(*argv, timeout=timeout) as (pid, line):
        port = int(json.loads(line)["port"])
        yield port, children(pid) or [pid]


def _eio(sid: str | None = None) -> dict[str, str]:
    params = {"EIO": "4", "transport": "polling"}
    if sid:
        params["sid"] = sid
    return params


async def _sessions(base: str, per_worker: int) -> dict[str, list[str]]:
    """Socket.IO sessions, grouped by the worker their id names (first character)."""
    groups: dict[str, list[str]] = {}
    fresh = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=fresh, timeout=10) as client:
        for _ in range(200):
            opened = await client.get(base, params=_eio())
            sid = json.loads(opened.text[1:])["sid"]
            await client.post(base, params=_eio(sid), content="40")
            await client.get(base, params=_eio(sid))  # the CONNECT reply
            groups.setdefault(sid[0], []).append(sid)
            if len(groups) >= 2 and all(len(g) >= per_worker for g in groups.values()):
                break
    return groups


async def measure(requests: int) -> dict[str, Any]:
    """Runs the comparison; returns the figures."""
    result: dict[str, Any] = {"requests_per_group": requests}
    async with redis_server() as url, workers_app(url, 2) as (port, pids):
        base = f"http://127.0.0.1:{port}/socket.io/"
        groups = await _sessions(base, 4)
        pinned = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(limits=pinned, timeout=10) as client:
            rows = []
            for owner, sids in sorted(groups.items()):
                for sid in sids:  # warm-up
                    await client.post(base, params=_eio(sid), content='42["noop"]')
                before = [cpu_sample(pid) for pid in pids]
                times = []
                for n in range(requests):
                    sid = sids[n % len(sids)]
                    start = time.perf_counter()
                    posted = await client.post(base, params=_eio(sid), content='42["noop"]')
                    times.append(time.perf_counter() - start)
                    assert posted.text == "ok", posted.text
                after = [cpu_sample(pid) for pid in pids]
                cpu = [
                    (a - b).precise_s / requests * 1e6 for a, b in zip(after, before, strict=True)
                ]
                times.sort()
                rows.append(
                    {
                        "owner": owner,
                        "median_us": statistics.median(times) * 1e6,
                        "p99_us": times[int(len(times) * 0.99) - 1] * 1e6,
                        "cpu_us_per_worker": cpu,
                    }
                )
        # the direct group is the one whose other worker did (almost) nothing
        direct = min(rows, key=lambda row: min(row["cpu_us_per_worker"]))
        for row in rows:
            row["kind"] = "direct" if row is direct else "forwarded"
        result["polls"] = rows
        result["redis_round_trip_us"] = await _redis_round_trip(url, requests)
    return result


async def _redis_round_trip(url: str, count: int) -> float:
    """Median time of PUBLISH → another client → PUBLISH back → received (µs)."""
    a, b = aioredis.Redis.from_url(url), aioredis.Redis.from_url(url)
    sub_a, sub_b = a.pubsub(), b.pubsub()
    await sub_a.subscribe("back")
    await sub_b.subscribe("there")
    times = []
    try:
        for _ in range(count):
            start = time.perf_counter()
            await a.publish("there", b"x")
            while (await sub_b.get_message(ignore_subscribe_messages=True, timeout=1)) is None:
                pass
            await b.publish("back", b"y")
            while (await sub_a.get_message(ignore_subscribe_messages=True, timeout=1)) is None:
                pass
            times.append(time.perf_counter() - start)
    finally:
        for closing in (sub_a, sub_b):
            await closing.aclose()
        await a.aclose()
        await b.aclose()
    return statistics.median(times) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.workers", description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args(argv)
    figures = asyncio.run(measure(args.requests))
    for row in figures["polls"]:
        cpu = " + ".join(f"{c:.0f}" for c in row["cpu_us_per_worker"])
        print(
            f"{row['kind']:>9}: median {row['median_us']:.0f} µs, p99 {row['p99_us']:.0f} µs, "
            f"server CPU {cpu} µs per request (the two workers)"
        )
    print(f"Redis pub/sub round trip (two clients): median {figures['redis_round_trip_us']:.0f} µs")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
