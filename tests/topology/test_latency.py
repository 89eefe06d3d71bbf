"""Protocol facts through the delay proxy, for small N, asserted exactly (no timings).

The counting client's requests and packets, and the round trips the proxy saw on the
critical path (its TCP handshakes included), for each connect style.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from topology.latency import LatencyPlan, Network, effective_round_trips, run_latency
from topology.progress import Progress

N = 3
# (kind, style) -> (round trips seen by the proxy, HTTP requests, packets sent, received)
EXPECTED = {
    # WebSocket: TCP, upgrade (the open packet comes with the 101), then the CONNECTs.
    ("wire-ws", "A"): (3, 1, N, N),
    ("wire-ws", "A-seq"): (2 + N, 1, N, N),
    ("wire-ws", "B"): (3, 1, 1, 1),
    ("wire-ws", "B-sub"): (4, 1, 2, 2),
    # Polling: TCP, handshake GET, TCP of the second connection, POST (+ held GET).
    ("wire-polling", "A"): (4, 3, N, N),
    ("wire-polling", "A-seq"): (3 + N, 1 + 2 * N, N, N),
    ("wire-polling", "B"): (4, 3, 1, 1),
    ("wire-polling", "B-sub"): (5, 5, 2, 2),
}


@pytest.fixture(scope="module")
def points() -> list[dict[str, Any]]:
    plan = LatencyPlan(
        networks=(Network(0), Network(120)),
        per_user=(N,),
        kinds=("wire-ws", "wire-polling"),
        samples=1,
    )
    result = asyncio.run(run_latency(plan, Progress(plan.steps())))
    assert result["errors"] == []
    found: list[dict[str, Any]] = result["points"]
    return found


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "style"), sorted(EXPECTED))
def test_counts_through_the_proxy(points: list[dict[str, Any]], kind: str, style: str) -> None:
    round_trips, requests, sent, received = EXPECTED[(kind, style)]
    (point,) = [
        p for p in points if p["kind"] == kind and p["style"] == style and p["rtt_ms"] == 120
    ]
    assert point["proxy_round_trips"] == round_trips
    traffic = point["traffic"]
    assert traffic["http_requests"] == requests
    assert traffic["packets_tx"] == sent
    assert traffic["packets_rx"] == received
    assert point["n"] == N


@pytest.mark.slow
def test_every_style_is_measured_on_every_network(points: list[dict[str, Any]]) -> None:
    assert len(points) == 2 * len(EXPECTED)
    effective = effective_round_trips(points)
    assert set(effective) == {(k, s, N, "120 ms") for k, s in EXPECTED}
