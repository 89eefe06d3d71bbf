"""``python -m topology``: measure both Socket.IO topologies and write the report.

Two sweeps, each point on a fresh server process:

* ``communities``: a fixed number of users, communities per user growing
  (1, 2, 5, 10, 20, 50), every topology over WebSocket and over long-polling;
* ``users``: 10 and 50 communities per user, users growing (100, 300, 1000): the size
  of a reconnect storm (A and B).

Then the parts beyond loopback (``--parts``, all by default):

* ``latency``: time to ready and round trips through a delay proxy (:mod:`topology.latency`);
* ``moving``: leaving and joining channels and communities (:mod:`topology.moving`);
* ``clients``: socket.io-client under Node and in Chromium, plexio's client: client-side
  cost per namespace, and the browser's HAR (:mod:`topology.clientcost`);
* ``cluster``: what a channel message costs Redis and every node of a cluster: Redis's
  costs measured on a real redis-server, 3 real gateway processes on plexio's Redis
  adapter, and the model up to 100 nodes and a million users (:mod:`topology.cluster`).

Writes ``results.json``, ``report.md`` and PNG plots to ``--out``
(default ``topology/results``). ``--smoke`` runs tiny counts quickly. A progress line on
stderr shows where the run is.
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

from topology.clientcost import ClientCostPlan, run_client_costs
from topology.clients import CLIENT_KINDS
from topology.cluster import ClusterPlan, run_cluster
from topology.clusterrun import ClusterRunPlan
from topology.latency import NETWORKS, LatencyPlan, Network, run_latency
from topology.moving import MovingPlan, run_moving
from topology.procstat import raise_nofile_limit
from topology.progress import Progress
from topology.redisbench import RedisPlan
from topology.runner import PointSpec, run_point
from topology.scenario import TOPOLOGIES, TRANSPORTS

__all__ = ["main", "parse_args", "plan_points", "run"]

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
PARTS: tuple[str, ...] = ("sweeps", "latency", "moving", "clients", "cluster")


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
    parser.add_argument("--parts", type=_names(PARTS), default=list(PARTS), help="what to measure")
    parser.add_argument(
        "--rtt-ms",
        type=_ints,
        default=None,
        help="latency: round-trip times to add (loopback is always measured)",
    )
    parser.add_argument("--kbps", type=int, default=1000, help="latency: capped network, kbit/s")
    parser.add_argument("--clients", type=_names(CLIENT_KINDS), default=list(CLIENT_KINDS))
    parser.add_argument("--samples", type=int, default=None, help="connects per latency point")
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
    if args.samples is None:
        args.samples = 1 if smoke else 3
    if args.samples < 1 or args.kbps < 0:
        parser.error("--samples must be positive, --kbps >= 0")
    return args


def latency_plan(args: argparse.Namespace) -> LatencyPlan:
    """The latency sweep the arguments ask for."""
    if args.rtt_ms is not None:
        networks = tuple(Network(r) for r in [0, *args.rtt_ms])
        if args.kbps:
            networks += (Network(max(args.rtt_ms), args.kbps),)
    elif args.smoke:
        networks = (Network(0), Network(100))
    else:
        networks = tuple(
            Network(n.rtt_ms, args.kbps if n.kbps else 0)
            for n in NETWORKS
            if args.kbps or not n.kbps
        )
    smoke_kinds = [k for k in args.clients if k in ("wire-ws", "wire-polling", "node", "chromium")]
    return LatencyPlan(
        networks=networks,
        per_user=(2,) if args.smoke else (1, 10, 50),
        kinds=tuple(smoke_kinds if args.smoke else args.clients),
        samples=args.samples,
    )


def moving_plan(args: argparse.Namespace) -> MovingPlan:
    """The moving-around measurement the arguments ask for."""
    return MovingPlan(
        per_user=(2,) if args.smoke else (10, 50),
        transports=tuple(args.transports),
        reps=5 if args.smoke else 200,
    )


def client_cost_plan(args: argparse.Namespace) -> ClientCostPlan:
    """The client-cost measurement the arguments ask for."""
    if args.smoke:
        return ClientCostPlan(per_user=(1, 3), samples=1, har_n=3)
    return ClientCostPlan(samples=args.samples)


def cluster_plan(args: argparse.Namespace) -> ClusterPlan:
    """The cluster measurement the arguments ask for."""
    if args.smoke:
        return ClusterPlan(
            redis=RedisPlan(patterns=(0, 1000), receivers=(1, 3), messages=200),
            run=ClusterRunPlan(users=12, messages=20),
        )
    return ClusterPlan()


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
    """Measures every planned part (the sweeps within their budget); returns the results."""
    raise_nofile_limit()
    points = plan_points(args) if "sweeps" in args.parts else []
    plans: dict[str, Any] = {}
    if "latency" in args.parts:
        plans["latency"] = latency_plan(args)
    if "moving" in args.parts:
        plans["moving"] = moving_plan(args)
    if "clients" in args.parts:
        plans["clients"] = client_cost_plan(args)
    if "cluster" in args.parts:
        plans["cluster"] = cluster_plan(args)
    progress = Progress(len(points) + sum(p.steps() for p in plans.values()))
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
    for sweep, spec in points:
        left = args.budget - (time.monotonic() - started)
        label = f"{sweep}: {spec.topology} {spec.transport} users={spec.users} N={spec.per_user}"
        if left < 5:
            results["skipped"].append({"sweep": sweep, "spec": dataclasses.asdict(spec)})
            progress.note(f"skip  {label} (budget spent)")
            progress.step(label)
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
        if status != "ok":
            progress.note(f"{label}: {status}")
        progress.step(f"{label} ({record['elapsed_s']:.1f}s)")
    if "latency" in plans:
        results["latency"] = await run_latency(plans["latency"], progress)
    if "moving" in plans:
        results["moving"] = await run_moving(plans["moving"], progress)
    if "clients" in plans:
        results["clients"] = await run_client_costs(plans["clients"], args.out, progress)
    if "cluster" in plans:
        results["cluster"] = await run_cluster(plans["cluster"], progress)
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
    part_errors = [
        e
        for part in ("latency", "moving", "clients", "cluster")
        for e in results.get(part, {}).get("errors", [])
        if not e.startswith("skipped")
    ]
    return 1 if failed or part_errors else 0
