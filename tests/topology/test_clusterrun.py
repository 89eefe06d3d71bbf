"""Three real gateway processes on plexio's classic Redis adapter: every node's publishes,
receptions and discards are counted on its Redis connection and equal what the placement
predicts, exactly."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from topology.clusterrun import ClusterRunPlan, expected_routing, run_cluster_measurement
from topology.model import Membership, ModelParams
from topology.progress import Progress
from topology.redisbench import RedisPlan, adapter_message, measure_redis


def test_routing_follows_the_placement() -> None:
    membership = Membership(ModelParams(users=6, per_user=1, members=3))
    community = membership.of_user[0][0]
    members = membership.members[community]
    route = expected_routing(membership, 3, "A", members[0], community)
    assert route["subscribed"] == sorted({u % 3 for u in members})
    assert route["self"] == members[0] % 3
    assert route["useful"] == sorted({u % 3 for u in members if u != members[0]})
    assert expected_routing(membership, 3, "B", members[0], community)["subscribed"] == [0, 1, 2]


@pytest.fixture(scope="module")
def measured() -> dict[str, Any]:
    plan = ClusterRunPlan(users=12, messages=30)
    result = asyncio.run(run_cluster_measurement(plan, Progress(plan.steps())))
    assert result["errors"] == []
    return result


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.parametrize("design", ["A", "B"])
def test_every_node_counts_what_the_placement_predicts(
    measured: dict[str, Any], design: str
) -> None:
    result = measured["designs"][design]
    assert result["deliveries"] == result["expected_deliveries"]
    assert result["published_per_message"] == 1.0
    for node in result["per_node"]:
        assert node["published"] == node["published_predicted"]
        assert node["received"] == node["received_predicted"]
        assert node["discarded"] == node["discarded_predicted"]
        if design == "A":
            assert node["discarded"] == 0  # only nodes holding the community hear it
    if design == "B":  # every node hears every message
        assert result["received_per_message"] == 3.0


@pytest.mark.slow
@pytest.mark.redis
def test_redis_delivers_each_publish_to_every_subscriber() -> None:
    plan = RedisPlan(patterns=(0, 200), receivers=(1, 2), messages=50)
    result = asyncio.run(measure_redis(plan, Progress(plan.steps())))
    assert result["errors"] == []
    for point in result["points"]:
        assert point["received_per_subscriber"] == [point["messages"]] * point["receivers"]
        assert point["redis_cpu_us_per_message"] >= 0
    assert result["payload_bytes"] == len(adapter_message("/socket", "commu:1:chan:2"))
