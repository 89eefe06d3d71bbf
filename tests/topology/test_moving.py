"""Moving around after connecting: what each move sends and waits for, exactly."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from topology.moving import MovingPlan, run_moving
from topology.progress import Progress

# (topology, move) -> (packets sent, packets received, round trips through the proxy)
EXPECTED = {
    ("A", "channel:leave"): (1, 1, 1),
    ("A", "channel:join"): (1, 1, 1),
    ("A", "community:leave"): (1, 0, 0),  # a DISCONNECT: nothing to wait for
    ("A", "community:join"): (1, 1, 1),  # a CONNECT with the token
    ("B", "channel:leave"): (1, 1, 1),
    ("B", "channel:join"): (1, 1, 1),
    ("B", "community:leave"): (1, 1, 1),  # unsubscribe, with an ack
    ("B", "community:join"): (1, 1, 1),  # subscribe, with an ack
}


@pytest.fixture(scope="module")
def points() -> list[dict[str, Any]]:
    plan = MovingPlan(per_user=(2,), transports=("websocket",), reps=3, rtt_ms=120)
    result = asyncio.run(run_moving(plan, Progress(plan.steps())))
    assert result["errors"] == []
    found: list[dict[str, Any]] = result["points"]
    return found


@pytest.mark.slow
@pytest.mark.parametrize(("topology", "move"), sorted(EXPECTED))
def test_each_move_costs_what_the_design_says(
    points: list[dict[str, Any]], topology: str, move: str
) -> None:
    sent, received, round_trips = EXPECTED[(topology, move)]
    (point,) = [p for p in points if p["topology"] == topology]
    m = point["moves"][move]
    assert (m["packets_tx"], m["packets_rx"], m["frames_tx"]) == (sent, received, sent)
    assert m["round_trips"] == round_trips
    assert m["proxy_round_trips"] == round_trips
    assert m["http_requests"] == 0 and m["tcp_connections"] == 0


@pytest.mark.slow
def test_server_cpu_is_reported_per_cycle(points: list[dict[str, Any]]) -> None:
    for point in points:
        assert set(point["cycles"]) == {
            "channel:leave + channel:join",
            "community:leave + community:join",
        }
        for cycle in point["cycles"].values():
            assert cycle["server_cpu_us"] >= 0
