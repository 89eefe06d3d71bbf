"""Command line of the benchmark: `python -m bench [--smoke] [--only ...] [--scenarios ...]`."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from measure.procstat import raise_nofile_limit

from bench.machine import describe
from bench.report import markdown, summarize, target_status, write_json, write_plots
from bench.runner import Options, RunError, ServerProcess, run_scenario
from bench.scenarios import Scenario, scenarios
from bench.targets import Target, availability, select_targets

__all__ = ["main", "parse_args"]

DEFAULT_OUT: Path = Path(__file__).resolve().parent / "results"


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _cpu_list(text: str) -> list[int]:
    cpus: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            lo, hi = part.split("-", 1)
            cpus.extend(range(int(lo), int(hi) + 1))
        else:
            cpus.append(int(part))
    return cpus


def _names(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    return names or None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line (see `python -m bench --help`)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Side-by-side benchmark: plexio vs python-socketio 5.x vs Node socket.io 4.8",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny counts, one short run per scenario, one server process per server",
    )
    parser.add_argument("--only", help="servers, comma-separated (plexio,psio,node,ceiling,...)")
    parser.add_argument("--scenarios", help="scenario names or kinds, comma-separated")
    parser.add_argument("--duration", type=float, help="measured window in seconds (5; smoke 0.2)")
    parser.add_argument("--warmup", type=float, help="warm-up before the window (1; smoke 0.05)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per pair, median reported")
    parser.add_argument("--timeout", type=float, help="bound on any single step (120; smoke 30)")
    parser.add_argument("--server-cpus", help="cores for the server (default: 1)")
    parser.add_argument("--loadgen-cpus", help="cores for the load generator (default: the rest)")
    parser.add_argument("--workers", type=int, help="load-generator processes (default: one/core)")
    parser.add_argument(
        "--nice",
        type=int,
        default=-10,
        help="priority of the server and load generator (default -10; ignored if not permitted)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results directory")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    for name in ("duration", "warmup", "timeout"):
        value = getattr(args, name)
        if value is not None and value <= 0 and not (name == "warmup" and value == 0):
            parser.error(f"--{name} must be positive")
    return args


def _options(args: argparse.Namespace) -> Options:
    ncpu = len(os.sched_getaffinity(0))
    all_cpus = sorted(os.sched_getaffinity(0))
    if args.server_cpus is not None:
        server_cpus = _cpu_list(args.server_cpus)
    else:
        server_cpus = [all_cpus[1]] if ncpu >= 2 else []
    if args.loadgen_cpus is not None:
        loadgen_cpus = _cpu_list(args.loadgen_cpus)
    else:
        loadgen_cpus = [c for c in all_cpus if c not in server_cpus] if server_cpus else []
    if ncpu < 2:
        _log("warning: a single core: server and load generator share it, no pinning")
    workers = args.workers or max(1, len(loadgen_cpus) or 1)
    return Options(
        duration=args.duration or (0.2 if args.smoke else 5.0),
        warmup=args.warmup if args.warmup is not None else (0.05 if args.smoke else 1.0),
        settle=0.1 if args.smoke else 1.0,
        timeout=args.timeout or (30.0 if args.smoke else 120.0),
        server_cpus=server_cpus,
        loadgen_cpus=loadgen_cpus,
        workers=workers,
        nice=args.nice,
        log=_log,
    )


def _plural(unit: str) -> str:
    return unit[:-1] + "ies" if unit.endswith("y") else unit + "s"


def _describe_run(record: dict[str, Any], scenario: Scenario) -> str:
    if not record.get("ok"):
        return f"FAILED: {record.get('error', '')[:300]}"
    lat = record.get("latency_us", {})
    parts = [
        f"{record['throughput']:,.0f} {_plural(scenario.unit)}/s",
        f"{record['cpu_us_per_op']:.1f} CPU-µs/op" if record.get("cpu_us_per_op") else "",
        f"p50 {lat['p50']:,.0f} µs, p99 {lat['p99']:,.0f} µs" if lat else "",
        f"{record['kb_per_connection']:.1f} KB/conn" if record.get("kb_per_connection") else "",
        f"server {record['server_cpu_pct']:.0f}%",
        f"load-gen {record['loadgen_cpu_pct']:.0f}%",
        f"errors {record['errors']}" if record.get("errors") else "",
    ]
    return ", ".join(p for p in parts if p)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the selected servers through the selected scenarios and write the results.

    Args:
        args: parsed command line.

    Returns:
        The results document (also written to `args.out`).
    """
    raise_nofile_limit()
    opts = _options(args)
    if opts.loadgen_cpus:
        os.sched_setaffinity(0, opts.loadgen_cpus)
    chosen = scenarios(_names(args.scenarios), small=args.smoke)
    targets = select_targets(_names(args.only))
    statuses: dict[str, str] = {}
    for target in targets:
        statuses[target.key] = availability(target)
        if statuses[target.key] != "ok":
            _log(f"{target.key}: not available — {statuses[target.key]}")
    ready = [t for t in targets if statuses[t.key] == "ok"]
    pairs: list[tuple[Scenario, Target]] = [
        (s, t) for s in chosen for t in ready if s.ceiling or not t.raw
    ]
    reuse = bool(args.smoke)
    machine = describe()
    _log(
        f"bench: {len(ready)} server(s) × {len(chosen)} scenario(s) × {args.repeat}: "
        f"{len(pairs) * args.repeat} run(s); server on cores {opts.server_cpus or '-'}, "
        f"load generator on {opts.loadgen_cpus or '-'} ({opts.workers} process(es))"
    )
    runs: list[dict[str, Any]] = []
    started = time.monotonic()
    total = len(pairs) * args.repeat
    done = 0
    for repeat in range(args.repeat):
        if reuse:
            # One server process per server for all scenarios (smoke): start/stop costs dominate.
            for target in ready:
                server = ServerProcess(target, opts.server_cpus, nice=opts.nice)
                try:
                    server.start()
                except RunError as exc:
                    server.stop()
                    for scenario, t in pairs:
                        if t is target:
                            done += 1
                            runs.append(_failed(scenario, target, repeat, str(exc)))
                            _log(f"[{done}/{total}] {target.key} {scenario.name}: FAILED: {exc}")
                    continue
                try:
                    for scenario, t in pairs:
                        if t is not target:
                            continue
                        done += 1
                        record = run_scenario(scenario, target, opts, server)
                        record["repeat"] = repeat
                        runs.append(record)
                        _log(
                            f"[{done}/{total}] {target.key} {scenario.name}: "
                            + _describe_run(record, scenario)
                        )
                finally:
                    server.stop()
        else:
            for scenario, target in pairs:
                done += 1
                _log(f"[{done}/{total}] {target.key} {scenario.name} ...")
                record = run_scenario(scenario, target, opts)
                record["repeat"] = repeat
                runs.append(record)
                _log(
                    f"[{done}/{total}] {target.key} {scenario.name}: "
                    + _describe_run(record, scenario)
                )
    results: dict[str, Any] = {
        "machine": machine,
        "config": {
            "smoke": bool(args.smoke),
            "duration": opts.duration,
            "warmup": opts.warmup,
            "repeat": args.repeat,
            "reuse_server": reuse,
            "server_cpus": opts.server_cpus,
            "loadgen_cpus": opts.loadgen_cpus,
            "workers": opts.workers,
            "nice": opts.nice,
            "elapsed_s": round(time.monotonic() - started, 1),
            "scenarios": [dataclasses.asdict(s) for s in chosen],
            "targets": {
                t.key: {"label": t.label, "family": t.family, "status": statuses[t.key]}
                for t in targets
            },
        },
        "runs": runs,
        "summary": summarize(runs),
    }
    results["targets"] = target_status(results)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    write_json(results, out / "results.json")
    text = markdown(results)
    (out / "results.md").write_text(text)
    if not args.no_plots:
        write_plots(results, out)
    print(text)
    _log(f"bench: results in {out} ({results['config']['elapsed_s']} s)")
    return results


def _failed(scenario: Scenario, target: Target, repeat: int, error: str) -> dict[str, Any]:
    return {
        "server": target.key,
        "scenario": scenario.name,
        "ok": False,
        "error": error,
        "repeat": repeat,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 0 when at least one run succeeded, 1 otherwise."""
    args = parse_args(argv)

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        results = run(args)
    except ValueError as exc:
        _log(f"bench: {exc}")
        return 2
    except KeyboardInterrupt:
        _log("bench: interrupted; servers stopped")
        return 130
    return 0 if any(r.get("ok") for r in results["runs"]) else 1
