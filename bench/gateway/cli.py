"""``python -m bench.gateway``: the gateway against the reference, on SQLite and PostgreSQL.

For each database: make it (SQLite file, or a PostgreSQL database with a random name on
127.0.0.1:5432, dropped at the end), start the gateway (its start-up migrates), create the users,
communities and channels through its REST API, then run the socket phases first against the
reference (:mod:`bench.gateway.reference`) and then against the gateway, each in its own
process on the same database. The paced run sends at half the reference's burst rate, to both.

Writes ``report.json`` and ``report.md`` to ``--out`` and prints the table. Exit status 0 when
every run finished with nothing lost or duplicated, 1 otherwise, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from measure.procstat import system_busy_s

from bench.gateway.database import Database, postgres_available
from bench.gateway.load import LoadParams, ServerRun, run_phases, set_up

__all__ = ["build_report", "main", "run_bench"]

REPO_ROOT = Path(__file__).resolve().parents[2]
SMOKE = LoadParams(
    users=6, messages=3, edits=2, joins=1, presence=2, duplicates=1, paced_seconds=0.5, paced_max=40
)


class ServerProcess:
    """``python -m bench.gateway.server`` in a subprocess (optionally under py-spy)."""

    def __init__(self, config: dict[str, Any], profile: Path | None = None) -> None:
        self.config = config
        self.profile = profile
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0
        self.pid = 0

    async def __aenter__(self) -> ServerProcess:
        command = [sys.executable, "-m", "bench.gateway.server", json.dumps(self.config)]
        if self.profile is not None:
            command = [
                "py-spy", "record", "--rate", "250", "--format", "raw", "-o",
                str(self.profile), "--", *command,
            ]  # fmt: skip
        self.proc = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        loop = asyncio.get_running_loop()
        line = ""
        for _ in range(10):  # py-spy prints a line of its own first
            line = await asyncio.wait_for(loop.run_in_executor(None, self.proc.stdout.readline), 60)
            if line.startswith("READY ") or not (line.startswith("py-spy") or not line.strip()):
                break
        if not line.startswith("READY "):
            raise RuntimeError(f"server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.pid = self.proc.pid if self.profile is None else _python_child(self.proc.pid)
        return self

    async def __aexit__(self, *exc: object) -> None:
        proc = self.proc
        if proc is None:
            return
        assert proc.stdin is not None
        proc.stdin.close()
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.run_in_executor(None, proc.wait), 30)
        except TimeoutError:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    @property
    def http_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:PORT``."""
        return f"ws://127.0.0.1:{self.port}"


def _python_child(pid: int) -> int:
    """The server's pid when it runs under ``py-spy record`` (its only child)."""
    for _ in range(50):
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            children = []
        if children:
            return int(children[0])
        time.sleep(0.1)
    return pid


async def run_bench(
    databases: list[str],
    params: LoadParams,
    work_dir: Path,
    profile_dir: Path | None = None,
    workers: tuple[int, ...] = (1,),
) -> dict[str, Any]:
    """Run everything and return the report data."""
    secret = secrets.token_hex(32)
    busy_before, started = system_busy_s(), time.monotonic()
    results: dict[str, Any] = {"params": asdict(params), "databases": {}}
    for kind in databases:
        database = Database(kind, work_dir)
        await database.create()
        try:
            config = {"database_url": database.url, "secret": secret}
            tag = secrets.token_hex(3)
            runs: dict[str, ServerRun] = {}
            gateway_profile = None if profile_dir is None else profile_dir / f"gateway-{kind}.txt"
            kinds = {w: "gateway" if w == 1 else f"workers{w}" for w in workers}
            async with ServerProcess({**config, "kind": "gateway"}) as setup_server:
                users = await set_up(
                    setup_server.http_url, params, tag, ["reference", *kinds.values()]
                )
            async with ServerProcess({**config, "kind": "reference"}) as reference:
                runs["reference"] = await run_phases(
                    reference.ws_url, reference.pid, "reference", users, params, None, database
                )
            capacity = runs["reference"].phases["message:send"].per_second
            for count, run_kind in kinds.items():
                server_config = {**config, "kind": "gateway", "workers": count}
                profile = gateway_profile if count == 1 else None
                async with ServerProcess(server_config, profile) as gateway:
                    runs[run_kind] = await run_phases(
                        gateway.ws_url, gateway.pid, run_kind, users, params, capacity / 2, database
                    )
            results["databases"][kind] = {
                name: {
                    "phases": {p: r.as_json() for p, r in run.phases.items()},
                    "check": {**asdict(run.check), "clean": run.check.clean},
                }
                for name, run in runs.items()
            }
        finally:
            await database.drop()
    elapsed = time.monotonic() - started
    results["elapsed_s"] = round(elapsed, 1)
    results["machine"] = {
        "cpus": os.cpu_count(),
        "busy_cpu_s_all_processes": round(system_busy_s() - busy_before, 1),
        "loadavg": os.getloadavg(),
    }
    return results


def _ratio(value: float, reference: float) -> str:
    if not reference or reference != reference or value != value:
        return "—"
    return f"{value / reference:.2f}×"


def build_report(results: dict[str, Any]) -> str:
    """The Markdown report of a run."""
    lines = [
        "# Gateway hot path against the reference",
        "",
        f"{results['params']['users']} users over WebSocket on `/socket`; burst: each sends "
        f"{results['params']['messages']} messages to its own channel (fan-out 1), one in "
        "flight per user. CPU is the server process's, from /proc. Machine: "
        f"{results['machine']['cpus']} CPUs, load average {results['machine']['loadavg'][0]:.2f} "
        "at the end (shared machine: compare the ratios within one run).",
        "",
        "| database | phase | server | ok | per s | p50 ms | p99 ms | CPU µs/op | CPU vs ref "
        "| p99 vs ref |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for db, runs in results["databases"].items():
        ref = runs["reference"]["phases"]
        for phase in runs["reference"]["phases"]:
            for name in runs:
                p = runs[name]["phases"].get(phase)
                if p is None:
                    continue
                r = ref.get(phase, p)
                label = phase if p.get("rate") is None else f"{phase} @ {p['rate']}/s"
                gateway = name != "reference"
                cpu_ratio = _ratio(p["cpu_us_per_op"], r["cpu_us_per_op"]) if gateway else ""
                p99_ratio = _ratio(p["p99_ms"], r["p99_ms"]) if gateway else ""
                lines.append(
                    f"| {db} | {label} | {name} | {p['ok']}/{p['requests']} | "
                    f"{p['per_second']} | {p['p50_ms']} | {p['p99_ms']} | {p['cpu_us_per_op']} | "
                    f"{cpu_ratio} | {p99_ratio} |"
                )
    lines += [
        "",
        "| database | server | acked | stored | unacked | lost | dup rows | undelivered "
        "| dup deliveries | dup pairs (violations) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for db, runs in results["databases"].items():
        for name, run in runs.items():
            c = run["check"]
            lines.append(
                f"| {db} | {name} | {c['sent_ok']} | {c['stored']} | {c['unacknowledged']} | "
                f"{c['lost']} | {c['duplicated_rows']} | {c['undelivered']} | "
                f"{c['duplicate_deliveries']} | {c['concurrent_pairs']} ({c['pair_violations']}) |"
            )
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, write the report."""
    parser = argparse.ArgumentParser(prog="python -m bench.gateway", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny counts (for tests)")
    parser.add_argument("--databases", default="sqlite,postgres", help="sqlite,postgres")
    parser.add_argument("--users", type=int, help="users (200)")
    parser.add_argument("--messages", type=int, help="messages per user in the burst (15)")
    parser.add_argument("--paced-seconds", type=float, help="length of the paced run (4)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "gateway" / "results")
    parser.add_argument("--profile", type=Path, help="record the gateway with py-spy here")
    parser.add_argument("--timeout", type=float, default=900, help="bound on the whole run (s)")
    parser.add_argument(
        "--workers",
        default="1",
        help="gateway worker counts to run, e.g. 1,2 (above 1: Redis adapter, redis-server)",
    )
    args = parser.parse_args(argv)
    params = SMOKE if args.smoke else LoadParams()
    for name in ("users", "messages", "paced_seconds"):
        value = getattr(args, name)
        if value is not None:
            if value <= 0:
                parser.error(f"--{name.replace('_', '-')} must be positive")
            params = replace(params, **{name: value})
    try:
        workers = tuple(int(w) for w in args.workers.split(",") if w.strip())
    except ValueError:
        parser.error("--workers takes worker counts, e.g. 1,2")
    if not workers or any(not 1 <= w <= 16 for w in workers) or len(set(workers)) != len(workers):
        parser.error("--workers takes distinct worker counts from 1 to 16")
    if any(w > 1 for w in workers) and shutil.which("redis-server") is None:
        parser.error("--workers above 1 needs redis-server (scripts/system-deps.sh)")
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    if not databases or any(d not in ("sqlite", "postgres") for d in databases):
        parser.error("--databases takes sqlite and/or postgres")
    if args.profile is not None and shutil.which("py-spy") is None:
        parser.error("--profile needs py-spy on PATH (pip install py-spy)")
    if "postgres" in databases and not asyncio.run(postgres_available()):
        print("postgres: not available on 127.0.0.1:5432 — skipped", file=sys.stderr)
        databases.remove("postgres")
        if not databases:
            return 1
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as work:
        results = asyncio.run(
            asyncio.wait_for(
                run_bench(databases, params, Path(work), args.profile, workers), args.timeout
            )
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(results, indent=2) + "\n")
    report = build_report(results)
    (args.out / "report.md").write_text(report)
    print(report)
    clean = all(
        run["check"]["clean"] for runs in results["databases"].values() for run in runs.values()
    )
    return 0 if clean else 1
