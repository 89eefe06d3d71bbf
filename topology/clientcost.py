"""What a connected user costs the client: socket.io-client under Node and in Chromium, and
plexio's client — objects, memory and CPU, per namespace — and the browser's network log.

Per N and style (``A``: N namespaces, ``B``: one), one user connects straight to a fresh
server (no delay), ``samples`` times per client:

* ``node``: socket.io-client 4.8 under ``node --expose-gc``: heap growth after GC
  (``process.memoryUsage().heapUsed``), CPU of the connect (``process.cpuUsage``), sockets;
* ``chromium``: the same library in the measurement page (:mod:`topology.browser`): JS
  heap growth after a forced GC, main-thread task and script time, sockets;
* ``plexio``: plexio's client in this process: ``tracemalloc`` bytes, ``gc`` objects,
  ``process_time``.

Each client connects once more first, unmeasured (warm-up: imports, JIT, first sockets).
The cost per namespace is the slope between the smallest and the largest N in A.
Then chromium records a HAR of A and B at ``har_rtt_ms`` (``results/har/``), and the
timelines go into the results (``python -m topology.har show`` prints them again).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from topology.browser import browser_available, browser_costs, capture_har, launch
from topology.clients import node_available, plexio_client_cost, run_client
from topology.delayproxy import DelayProxy
from topology.har import render, timeline
from topology.model import Membership, ModelParams
from topology.progress import Progress
from topology.runner import ServerProcess

__all__ = ["ClientCostPlan", "per_namespace", "run_client_costs"]

HOST = "127.0.0.1"
KINDS = ("node", "chromium", "plexio")


@dataclass(frozen=True, slots=True)
class ClientCostPlan:
    """What the client-cost measurement does.

    Attributes:
        per_user: values of N.
        samples: connects per point (medians are reported).
        har_rtt_ms: RTT of the delay proxy while the HAR is recorded.
        har_n: communities of the user in the HAR.
    """

    per_user: tuple[int, ...] = (1, 10, 50)
    samples: int = 3
    har_rtt_ms: float = 50.0
    har_n: int = 3

    def __post_init__(self) -> None:
        if self.samples < 1 or not self.per_user or self.har_n < 1 or self.har_rtt_ms < 0:
            raise ValueError(f"bad client-cost plan: {self}")

    def steps(self) -> int:
        """Points in the plan (HAR captures included)."""
        return len(self.per_user) * 2 * len(KINDS) + 2


def _median(rows: list[dict[str, Any]], key: str) -> float:
    values = [float(r[key]) for r in rows if key in r]
    return statistics.median(values) if values else float("nan")


async def _node(port: int, style: str, communities: list[int], samples: int) -> dict[str, Any]:
    runs = await run_client("node", style, [port] * (samples + 1), 0, communities)
    rows = [{"ready_ms": r.ready_ms, **r.extra} for r in runs[1:]]  # the first one warms up
    out: dict[str, Any] = {k: _median(rows, k) for k in ("ready_ms", "heap_bytes", "cpu_us")}
    out["sockets"] = rows[-1]["sockets"]
    out["samples"] = rows
    return out


async def _plexio(port: int, style: str, communities: list[int], samples: int) -> dict[str, Any]:
    rows = [
        await plexio_client_cost(style, port, 0, communities, ("polling", "websocket"))
        for _ in range(samples + 1)
    ][1:]  # the first one warms up
    out: dict[str, Any] = {
        k: _median(rows, k) for k in ("ready_ms", "heap_bytes", "cpu_us", "gc_objects")
    }
    out["sockets"] = rows[-1]["sockets"]
    out["samples"] = rows
    return out


def per_namespace(points: list[dict[str, Any]], kind: str, key: str) -> float:
    """Slope of ``key`` over N in A for one client kind (NaN without two values of N)."""
    rows = sorted(
        (p["n"], p[key])
        for p in points
        if p["kind"] == kind and p["style"] == "A" and isinstance(p.get(key), int | float)
    )
    if len(rows) < 2 or rows[-1][0] == rows[0][0]:
        return float("nan")
    (n0, v0), (n1, v1) = rows[0], rows[-1]
    return float((v1 - v0) / (n1 - n0))


async def run_client_costs(plan: ClientCostPlan, out: Path, progress: Progress) -> dict[str, Any]:
    """Runs the measurement; failed points are recorded, not raised."""
    points: list[dict[str, Any]] = []
    errors: list[str] = []
    har: dict[str, Any] = {}
    kinds = [
        k
        for k in KINDS
        if (k != "node" or node_available()) and (k != "chromium" or browser_available())
    ]
    for kind in KINDS:
        if kind not in kinds:
            errors.append(f"skipped {kind}: not installed here")
            progress.add(-len(plan.per_user) * 2 - (2 if kind == "chromium" else 0))
    browser_cm = launch() if "chromium" in kinds else None
    browser = await browser_cm.__aenter__() if browser_cm is not None else None
    try:
        for n in plan.per_user:
            model = ModelParams(users=2, per_user=n)
            communities = Membership(model).of_user[0]
            async with ServerProcess(model) as server:
                origin = f"http://{HOST}:{server.port}"
                for style in ("A", "B"):
                    for kind in kinds:
                        label = f"client cost N={n} {style} {kind}"
                        try:
                            if kind == "node":
                                result = await _node(server.port, style, communities, plan.samples)
                            elif kind == "plexio":
                                result = await _plexio(
                                    server.port, style, communities, plan.samples
                                )
                            else:
                                result = await browser_costs(
                                    browser, origin, style, 0, communities, plan.samples
                                )
                            points.append({"n": n, "style": style, "kind": kind, **result})
                        except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
                            errors.append(f"{label}: {type(exc).__name__}: {exc}")
                            progress.note(f"failed {label}: {exc}")
                        progress.step(label)
        if browser is not None:
            model = ModelParams(users=2, per_user=plan.har_n)
            communities = Membership(model).of_user[0]
            async with ServerProcess(model) as server:
                for style in ("A", "B"):
                    label = f"HAR {style} N={plan.har_n} RTT {plan.har_rtt_ms:g} ms"
                    try:
                        async with DelayProxy(HOST, server.port, plan.har_rtt_ms / 2000) as proxy:
                            path = out / "har" / f"{style}.har"
                            result = await capture_har(
                                browser, f"http://{HOST}:{proxy.port}", style, 0, communities, path
                            )
                        events = timeline(json.loads(path.read_text()))
                        har[style] = {
                            "file": f"har/{style}.har",
                            "ready_ms": result["ready_ms"],
                            "events": [asdict(e) for e in events],
                            "text": render(events),
                        }
                    except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
                        errors.append(f"{label}: {type(exc).__name__}: {exc}")
                        progress.note(f"failed {label}: {exc}")
                    progress.step(label)
    finally:
        if browser_cm is not None:
            await browser_cm.__aexit__(None, None, None)
    derived = {
        kind: {
            key: per_namespace(points, kind, key)
            for key in ("heap_bytes", "cpu_us", "task_ms", "gc_objects", "ready_ms")
        }
        for kind in kinds
    }
    return {
        "plan": asdict(plan),
        "points": points,
        "per_namespace": derived,
        "har": har,
        "errors": errors,
    }
