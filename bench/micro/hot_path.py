"""Micro-benchmark for instruction counts: a bounded number of echo acks or fan-out
deliveries through the server's user-space path, in-process (no network).

The same path as :mod:`bench.micro.server_echo` (decode → dispatch → handler → ack
encode → queue → flush; broadcast → per-member queue → flush), but run a fixed number
of times so that ``valgrind --tool=callgrind`` can count it. The set-up (1,000
connections, warm-up) costs the same whatever the count, so the instructions of one
operation are the difference between two counts divided by the difference in
operations::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/tmp/a.out \\
        .venv/bin/python -m bench.micro.hot_path echo 2000
    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/tmp/b.out \\
        .venv/bin/python -m bench.micro.hot_path echo 12000
    # (total(b) - total(a)) / 10000 instructions per ack

``python -m bench.micro.hot_path --report echo`` does exactly that and also reports
the pymalloc allocations (calls of ``_PyObject_Malloc``) per operation. Without
valgrind, ``--alloc`` prints the blocks still allocated per operation (a leak check) and
the CPU time per operation.

Scenarios: ``echo`` (an event with an ack id, answered by an ``async def`` handler
that returns at once), ``echo-sync`` (the same with a plain function), ``emit``
(an event without ack), ``fanout`` (one broadcast to a room of ``--members``
sockets, per delivery).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import sys
import time
from typing import Any

import plexio
from bench.micro import callgrind
from bench.micro.server_echo import NullSink
from plexio.native.listener import _FrameCache
from plexio.server.engine import EngineSocket
from plexio.transports.base import HttpRequest

SCENARIOS = ("echo", "echo-sync", "emit", "fanout")


async def _setup(members: int) -> tuple[plexio.Server, list[EngineSocket], list[NullSink]]:
    # No heartbeat during the run: under valgrind a run lasts long enough in wall time
    # for pings (and their timeouts) to fire, in one run and not the other.
    sio = plexio.Server(ping_interval=86_400, ping_timeout=86_400)

    @sio.on("echo")
    async def echo(socket: Any, data: Any) -> Any:
        return data

    @sio.on("echo-sync")
    def echo_sync(socket: Any, data: Any) -> Any:
        return data

    @sio.on("fanout")
    def fanout(socket: Any, data: Any) -> None:
        sio.to("room").emit("news", data)

    cache = _FrameCache()
    request = HttpRequest("GET", "/socket.io/", {"EIO": "4", "transport": "websocket"}, {})
    sockets = []
    sinks = []
    for _ in range(members):
        sink = NullSink(cache)
        engine_socket = await sio.engine.open_websocket(request, sink)
        engine_socket.ws_received(sink, ["40"])
        sockets.append(engine_socket)
        sinks.append(sink)
    await asyncio.sleep(0)
    sio.sockets_join("room")
    return sio, sockets, sinks


def _frames(scenario: str) -> list[str]:
    if scenario == "echo":
        return ['421["echo",{"id":1,"text":"hello world"}]']
    if scenario == "echo-sync":
        return ['421["echo-sync",{"id":1,"text":"hello world"}]']
    if scenario == "emit":
        return ['42["echo",{"id":1,"text":"hello world"}]']
    return ['42["fanout",{"text":"hello"}]']


async def run(scenario: str, count: int, members: int, alloc: bool, calls: bool = False) -> None:
    sio, sockets, sinks = await _setup(members if scenario == "fanout" else 1)
    first, sink = sockets[0], sinks[0]
    frames = _frames(scenario)
    received = first.ws_received
    flush = sio.engine._flush_dirty
    for _ in range(200):  # warm-up: caches, free lists, the ack id counter
        received(sink, frames)
        flush()
        await asyncio.sleep(0)
    # The set-up's objects (1,000 connections) are moved out of the collector's way: a
    # full collection of them landing in one run and not the other would swamp the
    # difference of two runs. Collections of what the measured path allocates remain.
    gc.collect()
    gc.freeze()
    profiler = cProfile.Profile() if calls else None
    blocks = sys.getallocatedblocks()
    if profiler is not None:
        profiler.enable()
    start = time.process_time()
    for i in range(count):
        received(sink, frames)
        flush()
        if i % 100 == 99:
            await asyncio.sleep(0)  # the loop runs the flush callbacks scheduled meanwhile
    elapsed = time.process_time() - start
    if profiler is not None:
        profiler.disable()
    await asyncio.sleep(0)
    ops = count * (members if scenario == "fanout" else 1)
    if profiler is not None:
        _print_calls(profiler, ops)
    if alloc:
        per = (sys.getallocatedblocks() - blocks) / ops
        print(f"{scenario}: {elapsed / ops * 1e6:.2f} µs CPU per op; {per:+.3f} blocks kept per op")


def _print_calls(profiler: cProfile.Profile, ops: int) -> None:
    """Function calls per operation, most frequent first (cProfile's counts)."""
    stats = pstats.Stats(profiler)
    rows = []
    for (filename, line, name), (_, ncalls, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = "~" if filename == "~" else f"{filename.rsplit('/src/', 1)[-1]}:{line}"
        rows.append((ncalls / ops, tottime / ops * 1e6, where, name))
    rows.sort(key=lambda row: -row[0])
    print(f"{sum(r[0] for r in rows):.1f} calls per op")
    for per, own, where, name in rows:
        if per >= 0.01:
            print(f"{per:7.2f} {own:7.3f} µs  {name}  {where}")


def _callgrind(scenario: str, count: int, members: int, keep: str) -> tuple[int, int]:
    """Instructions and _PyObject_Malloc calls of one run under callgrind."""
    args = [scenario, str(count), "--members", str(members)]
    return callgrind.measure("bench.micro.hot_path", args, f"{scenario}.{count}", keep)


def report(scenario: str, low: int, high: int, members: int, keep: str) -> None:
    a = _callgrind(scenario, low, members, keep)
    b = _callgrind(scenario, high, members, keep)
    ops = (high - low) * (members if scenario == "fanout" else 1)
    print(
        f"{scenario}: {(b[0] - a[0]) / ops:,.0f} instructions, "
        f"{(b[1] - a[1]) / ops:.1f} pymalloc allocations per "
        f"{'delivery' if scenario == 'fanout' else 'op'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=SCENARIOS)
    parser.add_argument("count", type=int, nargs="?", default=10_000)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--alloc", action="store_true", help="print CPU and kept blocks per op")
    parser.add_argument("--calls", action="store_true", help="print function calls per op")
    parser.add_argument(
        "--report", action="store_true", help="run twice under callgrind, print per-op counts"
    )
    parser.add_argument("--low", type=int, default=0, help="--report: the smaller count")
    parser.add_argument("--keep", default="", help="--report: keep the profiles in this folder")
    args = parser.parse_args()
    if args.report:
        low = args.low or args.count // 5
        report(args.scenario, low, args.count, args.members, args.keep)
    else:
        asyncio.run(run(args.scenario, args.count, args.members, args.alloc, args.calls))


if __name__ == "__main__":
    main()
