"""Time to ready through a delay proxy: network round-trip times x clients x connect styles.

For each network (RTT, optional bandwidth cap), each N (communities per user), each client
kind and connect style (:mod:`topology.clients`), one user connects ``samples`` times, each
time through a fresh :class:`~topology.delayproxy.DelayProxy` in front of one server
process per N. Recorded per point: time to ready (median and every sample), the round trips
the proxy saw on the critical path (TCP handshakes included; in-process clients only, read
the moment the client is ready), and the counting client's requests, packets and bytes.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Any

from topology.browser import browser_available, launch
from topology.clients import CLIENT_KINDS, STYLES, node_available, run_client
from topology.delayproxy import DelayProxy
from topology.model import Membership, ModelParams
from topology.progress import Progress
from topology.runner import ServerProcess

__all__ = ["NETWORKS", "Network", "LatencyPlan", "effective_round_trips", "run_latency"]

HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Network:
    """A network the proxy imitates.

    Attributes:
        rtt_ms: round-trip time added (half each way).
        kbps: bandwidth cap of each direction of each connection, kbit/s (0: none).
    """

    rtt_ms: float
    kbps: float = 0.0

    @property
    def name(self) -> str:
        """``"50 ms"`` or ``"150 ms, 1000 kbit/s"``."""
        base = f"{self.rtt_ms:g} ms"
        return f"{base}, {self.kbps:g} kbit/s" if self.kbps else base


#: Loopback, a good connection, a typical one, a far or mobile one, and the same capped.
NETWORKS: tuple[Network, ...] = (
    Network(0),
    Network(20),
    Network(50),
    Network(150),
    Network(150, 1000),
)


@dataclass(frozen=True, slots=True)
class LatencyPlan:
    """What the latency sweep measures.

    Attributes:
        networks: the networks.
        per_user: values of N.
        kinds: client kinds.
        styles: connect styles.
        samples: connects per point (the median is reported).
        timeout: bound on each connect, in seconds.
    """

    networks: tuple[Network, ...] = NETWORKS
    per_user: tuple[int, ...] = (1, 10, 50)
    kinds: tuple[str, ...] = CLIENT_KINDS
    styles: tuple[str, ...] = STYLES
    samples: int = 3
    timeout: float = 60.0

    def __post_init__(self) -> None:
        bad = [k for k in self.kinds if k not in CLIENT_KINDS]
        bad += [s for s in self.styles if s not in STYLES]
        if bad or self.samples < 1 or not self.networks or not self.per_user:
            raise ValueError(f"bad latency plan: {self}")

    def steps(self) -> int:
        """Points in the plan."""
        return len(self.networks) * len(self.per_user) * len(self.kinds) * len(self.styles)


async def _point(
    port: int,
    network: Network,
    kind: str,
    style: str,
    user: int,
    communities: list[int],
    plan: Any,
    browser: Any,
) -> dict[str, Any]:
    proxies = [
        DelayProxy(HOST, port, network.rtt_ms / 2000, network.kbps * 1000 or None)
        for _ in range(plan.samples)
    ]
    snapshots: dict[int, dict[str, int]] = {}
    try:
        for proxy in proxies:
            await proxy.start()

        def ready(index: int) -> None:
            snapshots[index] = proxies[index].stats.as_dict()

        samples = await run_client(
            kind, style, [p.port for p in proxies], user, communities, plan.timeout, ready, browser
        )
    finally:
        for proxy in proxies:
            await proxy.close()
    times = [s.ready_ms for s in samples]
    record: dict[str, Any] = {
        "network": asdict(network),
        "rtt_ms": network.rtt_ms,
        "kbps": network.kbps,
        "n": len(communities),
        "kind": kind,
        "style": style,
        "ready_ms": statistics.median(times),
        "ready_ms_samples": [round(t, 3) for t in times],
        "traffic": samples[0].traffic,
        "extra": samples[0].extra,
    }
    record["proxy_total"] = proxies[0].stats.as_dict()  # the whole session, close included
    if snapshots:
        record["proxy_at_ready"] = snapshots[0]
        rts = sorted({s["round_trips"] for s in snapshots.values()})
        record["proxy_round_trips"] = rts[0] if len(rts) == 1 else rts
    return record


async def run_latency(plan: LatencyPlan, progress: Progress) -> dict[str, Any]:
    """Runs the sweep; one server process per N. Failed points are recorded, not raised."""
    kinds = [
        k
        for k in plan.kinds
        if (node_available() or not k.startswith("node"))
        and (browser_available() or k != "chromium")
    ]
    skipped = [k for k in plan.kinds if k not in kinds]
    points: list[dict[str, Any]] = []
    errors: list[str] = []
    if skipped:
        errors.append(f"skipped {skipped}: node, chromium or topology/js/node_modules missing")
        progress.add(-len(skipped) * len(plan.networks) * len(plan.per_user) * len(plan.styles))
    browser_cm = launch() if "chromium" in kinds else None
    browser = await browser_cm.__aenter__() if browser_cm is not None else None
    try:
        await _sweep(plan, kinds, browser, points, errors, progress)
    finally:
        if browser_cm is not None:
            await browser_cm.__aexit__(None, None, None)
    return {"plan": _plan_json(plan), "points": points, "errors": errors}


async def _sweep(
    plan: LatencyPlan,
    kinds: list[str],
    browser: Any,
    points: list[dict[str, Any]],
    errors: list[str],
    progress: Progress,
) -> None:
    for n in plan.per_user:
        model = ModelParams(users=2, per_user=n)
        communities = Membership(model).of_user[0]
        async with ServerProcess(model) as server:
            for network in plan.networks:
                for kind in kinds:
                    for style in plan.styles:
                        label = f"latency {network.name} N={n} {kind} {style}"
                        try:
                            points.append(
                                await _point(
                                    server.port,
                                    network,
                                    kind,
                                    style,
                                    0,
                                    communities,
                                    plan,
                                    browser,
                                )
                            )
                        except Exception as exc:  # noqa: BLE001 - recorded, the sweep goes on
                            errors.append(f"{label}: {type(exc).__name__}: {exc}")
                            progress.note(f"failed {label}: {exc}")
                        progress.step(label)


def _plan_json(plan: LatencyPlan) -> dict[str, Any]:
    out = asdict(plan)
    out["networks"] = [asdict(n) for n in plan.networks]
    return out


def effective_round_trips(points: list[dict[str, Any]]) -> dict[tuple[str, str, int, str], float]:
    """Round trips the delay cost: ``(ready(net) - ready(loopback)) / RTT`` per point.

    Keyed by ``(kind, style, n, network name)``; only networks without a bandwidth cap
    and with an RTT, and only where the loopback point exists.
    """
    base = {
        (p["kind"], p["style"], p["n"]): p["ready_ms"]
        for p in points
        if p["rtt_ms"] == 0 and not p["kbps"]
    }
    out: dict[tuple[str, str, int, str], float] = {}
    for p in points:
        key = (p["kind"], p["style"], p["n"])
        if p["rtt_ms"] > 0 and not p["kbps"] and key in base:
            name = Network(p["rtt_ms"], p["kbps"]).name
            out[(*key, name)] = (p["ready_ms"] - base[key]) / p["rtt_ms"]
    return out
