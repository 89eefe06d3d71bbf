"""Scale: the most WebSocket connections one plexio process holds, and more across workers.

``python -m bench.scale`` (also run by ``make bench`` and ``make bench-scale``) runs two
phases, each on a fresh server (plexio's native listener, the benchmark's handlers):

1. **One process**: as many idle connections as its open-file limit allows (the hard
   limit here is 20,000: the default asks for 19,900, leaving room for the listening
   socket, the event loop and the standard streams);
2. **Worker processes**: ``plexio.run(..., workers=N)`` holding ``--total`` connections
   (50,000 by default) over ``N`` processes on one port.

The load generator is the benchmark's (picows on uvloop), in several processes so none
passes its own open-file limit, its connections spread over several source addresses
(127.0.0.2...) so the ephemeral ports of one address do not run out. Each phase reports:

- **RSS per connection**: the server's resident memory (all its processes) after the
  connects minus before, divided by the connections;
- **connect CPU**: the server's CPU time over the connect phase divided by the
  connections (WebSocket upgrade, Engine.IO open, CONNECT to ``/`` and its reply);
- **heartbeat CPU**: with every connection idle, the server's CPU per second over a
  window of two ping intervals, and per ping (a ping sent, its pong received). The
  server runs with a short ``--ping-interval`` (5 s) so that the window stays short;
  the cost at Engine.IO's default of 25 s is the cost per ping times connections / 25;
- **nothing fails**: every connection opened and is still open at the end, every one
  answered its pings, no error.

Every step is bounded by ``--timeout``; the servers and load generators are stopped at the
end, also on errors. Results go to ``bench/results/scale.json`` and ``scale.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from measure.procstat import cpu_sample, raise_nofile_limit, rss_bytes

from bench.runner import RunError, ServerProcess, WorkerPool
from bench.targets import Target

__all__ = ["Phase", "main", "run_phase"]

DEFAULT_OUT: Path = Path(__file__).resolve().parent / "results"
#: Connections one load-generator process opens at most (its limit is 20,000 files too).
PER_LOADGEN = 17_000
#: Source addresses the connections are spread over.
SOURCES = [f"127.0.0.{i}" for i in range(2, 10)]


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class Phase:
    """One scale measurement.

    Attributes:
        name: key in the results.
        title: what the tables call it.
        connections: how many idle connections to open.
        workers: server processes (1: ``plexio.run`` without workers).
    """

    name: str
    title: str
    connections: int
    workers: int = 1


def _pids(server: ServerProcess, workers: int) -> list[int]:
    """The server's processes: the supervisor and its workers (or the one process)."""
    if workers == 1:
        return [server.pid]
    path = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    return [server.pid, *(int(p) for p in path.read_text().split())]


def _cpu_s(pids: list[int]) -> float:
    return sum(cpu_sample(pid).precise_s for pid in pids)


def _rss(pids: list[int]) -> int:
    return sum(rss_bytes(pid) for pid in pids)


def _fds(pids: list[int]) -> list[int]:
    return [len(os.listdir(f"/proc/{pid}/fd")) for pid in pids]


def _share(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def run_phase(
    phase: Phase, ping_interval: float, timeout: float, server_cpus: list[int], nice: int
) -> dict[str, Any]:
    """Open the phase's connections, hold them idle for two ping intervals, measure.

    Returns:
        The figures (``ok`` false with ``error`` when something failed).
    """
    command = (
        sys.executable,
        "-m",
        "bench.servers.plexio_server",
        "--port",
        "{port}",
        "--mode",
        "native",
        "--ping-interval",
        str(ping_interval),
        "--workers",
        str(phase.workers),
    )
    target = Target("plexio", "plexio (native listener)", "plexio", command)
    loadgens = max(1, math.ceil(phase.connections / PER_LOADGEN))
    all_cpus = sorted(os.sched_getaffinity(0))
    loadgen_cpus = [c for c in all_cpus if c not in server_cpus] or all_cpus
    record: dict[str, Any] = {
        "phase": phase.name,
        "title": phase.title,
        "connections": phase.connections,
        "server_workers": phase.workers,
        "loadgen_processes": loadgens,
        "ping_interval_s": ping_interval,
    }
    server = ServerProcess(target, server_cpus, timeout=timeout, nice=nice)
    pool: WorkerPool | None = None
    try:
        server.start()
        deadline = time.monotonic() + timeout
        while len(_pids(server, phase.workers)) < phase.workers + (phase.workers > 1):
            if time.monotonic() > deadline or not server.alive():
                raise RunError(f"the workers did not start: {server.tail()}")
            time.sleep(0.1)
        time.sleep(1.0 if phase.workers > 1 else 0.2)
        pids = _pids(server, phase.workers)
        pool = WorkerPool(loadgens, loadgen_cpus, nice)
        specs = [
            {
                "kind": "memory",
                "url": f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket",
                "raw": False,
                "clients": share,
                "namespaces": ["/"],
                "concurrency": 64,
                "warmup": 50,
                "timeout": timeout,
                "sources": SOURCES,
                "read_buffer": 1024,
            }
            for share in _share(phase.connections, loadgens)
        ]
        pool.call("setup", specs, timeout)
        time.sleep(0.5)
        rss0, cpu0, t0 = _rss(pids), _cpu_s(pids), time.monotonic()
        replies = pool.call("load", {}, timeout + 30)
        cpu1, t1 = _cpu_s(pids), time.monotonic()
        connected = sum(int(r["ops"]) for r in replies)
        connect_errors = sum(int(r.get("errors", 0)) for r in replies)
        time.sleep(1.0)
        rss1 = _rss(pids)
        status0 = pool.call("status", {}, timeout)
        cpu_h0, th0 = _cpu_s(pids), time.monotonic()
        time.sleep(2 * ping_interval)
        cpu_h1, th1 = _cpu_s(pids), time.monotonic()
        status1 = pool.call("status", {}, timeout)
        if not server.alive():
            raise RunError(f"the server died: {server.tail()}")
        fds = _fds(pids)
        pings = sum(int(s["pings"]) for s in status1) - sum(int(s["pings"]) for s in status0)
        still_open = sum(int(s["open"]) for s in status1)
        errors = connect_errors + sum(int(s["errors"]) for s in status1)
        window = th1 - th0
        heartbeat_cpu = cpu_h1 - cpu_h0
        per_ping_us = heartbeat_cpu / pings * 1e6 if pings else None
        expected_pings = connected * window / ping_interval
        record.update(
            connected=connected,
            still_open=still_open,
            errors=errors,
            connect_s=t1 - t0,
            connects_per_s=connected / (t1 - t0) if t1 > t0 else None,
            connect_cpu_us=(cpu1 - cpu0) / connected * 1e6 if connected else None,
            rss_before_mb=rss0 / 2**20,
            rss_after_mb=rss1 / 2**20,
            kb_per_connection=(rss1 - rss0) / 1024 / connected if connected else None,
            server_fds=fds,
            heartbeat_window_s=window,
            pings=pings,
            heartbeat_cpu_pct=heartbeat_cpu / window * 100,
            cpu_us_per_ping=per_ping_us,
            # the same connections at Engine.IO's default ping interval (25 s)
            heartbeat_cpu_pct_at_25s=(
                per_ping_us * connected / 25 / 1e4 if per_ping_us is not None else None
            ),
            ok=(
                connected == phase.connections
                and still_open == phase.connections
                and errors == 0
                # a window of two intervals holds at least one whole ping per connection
                and pings >= connected * (window / ping_interval - 1)
            ),
        )
        if not record["ok"]:
            record["error"] = (
                f"connected {connected}, still open {still_open}, errors {errors}, "
                f"pings {pings} (expected about {expected_pings:.0f})"
            )
    except RunError as exc:
        record.update(ok=False, error=str(exc))
    finally:
        if pool is not None:
            pool.close()
        server.stop()
    return record


def markdown(results: dict[str, Any]) -> str:
    """The results as a Markdown table."""
    lines = [
        "# plexio at scale: idle WebSocket connections",
        "",
        f"- Date: {results['date']}; commit {results.get('commit')}; "
        f"{os.cpu_count()} cores; open-file limit {results['nofile_limit']}",
        f"- Ping interval {results['ping_interval_s']} s during the heartbeat window "
        "(its cost at 25 s, Engine.IO's default, is scaled from the cost per ping).",
        "",
        "| phase | connections held | server processes | RSS per connection (KB) "
        "| connect CPU (µs/connection) | connects/s | heartbeat CPU (% of a core, "
        "measured) | CPU per ping (µs) | heartbeat CPU at 25 s (% of a core) | errors | ok |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def fmt(value: Any, digits: int = 1) -> str:
        if value is None:
            return "—"
        return f"{value:,.{digits}f}"

    for rec in results["phases"]:
        lines.append(
            "| "
            + " | ".join(
                [
                    rec["title"],
                    f"{rec.get('still_open', 0):,} / {rec['connections']:,}",
                    str(rec["server_workers"]),
                    fmt(rec.get("kb_per_connection"), 2),
                    fmt(rec.get("connect_cpu_us")),
                    fmt(rec.get("connects_per_s"), 0),
                    fmt(rec.get("heartbeat_cpu_pct")),
                    fmt(rec.get("cpu_us_per_ping")),
                    fmt(rec.get("heartbeat_cpu_pct_at_25s"), 2),
                    str(rec.get("errors", "—")),
                    "yes" if rec.get("ok") else f"**no**: {rec.get('error', '')[:200]}",
                ]
            )
            + " |"
        )
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--connections", type=int, default=19_900, help="one process")
    parser.add_argument("--total", type=int, default=50_000, help="across the workers")
    parser.add_argument("--server-workers", type=int, default=4)
    parser.add_argument("--ping-interval", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--only", choices=["single", "workers"], help="run one phase")
    parser.add_argument("--nice", type=int, default=-10)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    limit = raise_nofile_limit()
    all_cpus = sorted(os.sched_getaffinity(0))
    server_cpus = [all_cpus[1]] if len(all_cpus) >= 2 else []
    phases = [
        Phase("single", "one process", args.connections),
        Phase(
            "workers",
            f"{args.server_workers} worker processes",
            args.total,
            workers=args.server_workers,
        ),
    ]
    if args.only:
        phases = [p for p in phases if p.name == args.only]
    records = []
    for phase in phases:
        _log(f"scale: {phase.title}, {phase.connections:,} connections ...")
        started = time.monotonic()
        record = run_phase(phase, args.ping_interval, args.timeout, server_cpus, args.nice)
        record["elapsed_s"] = round(time.monotonic() - started, 1)
        records.append(record)
        _log(f"scale: {phase.title}: {json.dumps(record)}")
    commit = os.popen("git rev-parse --short HEAD 2>/dev/null").read().strip() or None
    results = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": commit,
        "nofile_limit": limit,
        "ping_interval_s": args.ping_interval,
        "phases": records,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scale.json").write_text(json.dumps(results, indent=2) + "\n")
    text = markdown(results)
    (args.out / "scale.md").write_text(text)
    print(text)
    return 0 if all(r.get("ok") for r in records) else 1


if __name__ == "__main__":
    raise SystemExit(main())
