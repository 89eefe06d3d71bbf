"""``python -m topology``: measure both Socket.IO topologies and write the report.

Two sweeps, each point on a fresh server process:

* ``communities``: a fixed number of users, communities per user growing
  (1, 2, 5, 10, 20, 50), every topology over WebSocket and over long-polling;
* ``users``: 10 and 50 communities per user, users growing (100, 300, 1000): the size
  of a reconnect storm (A and B).

Writes ``results.json``, ``report.md`` and PNG plots to ``--out``
(default ``topology/results``). ``--smoke`` runs tiny counts in a few seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from topology.procstat import raise_nofile_limit
from topology.runner import PointSpec, run_point
from topology.scenario import TOPOLOGIES, TRANSPORTS

__all__ = ["main", "parse_args", "plan_points", "run"]

DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def _ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers: {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers: {text!r}")
    return values


def _names(allowed: tuple[str, ...]) -> Any:
    def parse(text: str) -> list[str]:
        values = [v.strip() for v in text.split(",") if v.strip()]
        bad = [v for v in values if v not in allowed]
        if bad or not values:
            raise argparse.ArgumentTypeError(f"expected some of {','.join(allowed)}: {text!r}")
        return values

    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parses the command line (``--smoke`` swaps in tiny defaults)."""
    parser = argparse.ArgumentParser(prog="python -m topology", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny counts, a few seconds")
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    parser.add_argument("--users", type=int, default=None, help="users in the communities sweep")
    parser.add_argument("--per-user", type=_ints, default=None, help="communities per user")
    parser.add_argument("--scale-users", type=_ints, default=None, help="users sweep")
    parser.add_argument(
        "--scale-per-user", type=_ints, default=None, help="communities per user, users sweep"
    )
    parser.add_argument("--topologies", type=_names(TOPOLOGIES), default=list(TOPOLOGIES))
    parser.add_argument("--scale-topologies", type=_names(TOPOLOGIES), default=["A", "B"])
    parser.add_argument("--transports", type=_names(TRANSPORTS), default=list(TRANSPORTS))
    parser.add_argument("--members", type=int, default=50, help="target members per community")
    parser.add_argument("--channels", type=int, default=4, help="channels per community")
    parser.add_argument("--messages", type=int, default=None, help="messages per point")
    parser.add_argument("--solo", type=int, default=None, help="users timed one at a time")
    parser.add_argument("--budget", type=float, default=None, help="seconds for the whole run")
    parser.add_argument("--point-budget", type=float, default=120.0, help="seconds per point")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    args = parser.parse_args(argv)
    smoke = args.smoke
    defaults: dict[str, Any] = {
        "users": 4 if smoke else 200,
        "per_user": [1, 3] if smoke else [1, 2, 5, 10, 20, 50],
        "scale_users": [6] if smoke else [100, 300, 1000],
        "scale_per_user": [2] if smoke else [10, 50],
        "messages": 10 if smoke else 400,
        "solo": 2 if smoke else 30,
        "budget": 90.0 if smoke else 560.0,
        "out": DEFAULT_OUT,
    }
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.users < 1 or args.members < 1 or args.channels < 1 or args.messages < 0:
        parser.error("--users, --members and --channels must be positive, --messages >= 0")
    if args.solo < 0 or args.budget <= 0 or args.point_budget <= 0:
        parser.error("--solo must be >= 0, budgets positive")
    return args


def plan_points(args: argparse.Namespace) -> list[tuple[str, PointSpec]]:
    """The points to measure, interleaved so that load drift hits every topology alike."""
    points: list[tuple[str, PointSpec]] = []
    common = {
        "members": args.members,
        "channels": args.channels,
        "messages": args.messages,
        "solo": args.solo,
        "budget_s": args.point_budget,
    }
    for per_user in args.per_user:
        for transport in args.transports:
            for topology in args.topologies:
                spec = PointSpec(topology, transport, args.users, per_user, **common)
                points.append(("communities", spec))
    # The steady phase is measured in the communities sweep; here it only checks delivery.
    scale_common = dict(common, solo=min(args.solo, 5), messages=min(args.messages, 100))
    for per_user in args.scale_per_user:
        for users in args.scale_users:
            for transport in args.transports:
                for topology in args.scale_topologies:
                    spec = PointSpec(topology, transport, users, per_user, **scale_common)
                    points.append(("users", spec))
    return points


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Measures every planned point within the budget; returns the results object."""
    raise_nofile_limit()
    started = time.monotonic()
    results: dict[str, Any] = {
        "meta": {
            "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "smoke": args.smoke,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            "loadavg_start": os.getloadavg()[0],
            "members_target": args.members,
            "channels": args.channels,
            "budget_s": args.budget,
        },
        "points": [],
        "skipped": [],
    }
    for sweep, spec in plan_points(args):
        left = args.budget - (time.monotonic() - started)
        label = f"{sweep}: {spec.topology} {spec.transport} users={spec.users} N={spec.per_user}"
        if left < 5:
            results["skipped"].append({"sweep": sweep, "spec": dataclasses.asdict(spec)})
            print(f"skip  {label} (budget spent)", file=sys.stderr)
            continue
        bounded = dataclasses.replace(spec, budget_s=min(spec.budget_s, left))
        t0 = time.monotonic()
        try:
            record = await run_point(bounded)
        except Exception as exc:  # noqa: BLE001 - one failed point must not lose the others
            record = {
                "spec": dataclasses.asdict(bounded),
                "failed": f"{type(exc).__name__}: {exc}",
                "errors": [],
            }
        record["sweep"] = sweep
        record["elapsed_s"] = time.monotonic() - t0
        results["points"].append(record)
        status = record.get("failed") or (
            f"{len(record['errors'])} errors" if record["errors"] else "ok"
        )
        print(f"done  {label} in {record['elapsed_s']:.1f}s: {status}", file=sys.stderr)
    results["meta"]["elapsed_s"] = time.monotonic() - started
    results["meta"]["loadavg_end"] = os.getloadavg()[0]
    return results


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (1 if any point failed)."""
    args = parse_args(argv)
    runner: Any = asyncio.run
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        pass
    results = runner(run(args))
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    from topology.report import write_report

    write_report(results, out, plots=not args.no_plots)
    print(f"wrote {out / 'results.json'} and {out / 'report.md'}", file=sys.stderr)
    failed = [p for p in results["points"] if "failed" in p]
    return 1 if failed else 0
