"""Three real gateway processes on plexio's classic Redis adapter (one redis-server) and on
its sharded adapter (a 3-master Redis Cluster whose masters announce counting proxies):
every node's publishes, receptions and discards are counted on its Redis connections and
equal what the placement predicts, exactly."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from topology.clusterrun import ClusterRunPlan, expected_routing, run_cluster_measurement
from topology.model import Membership, ModelParams, PubSub
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
    # sharded, dynamic mode: the room's own channel, only where a member is, in A and B
    for design in ("A", "B"):
        sharded = expected_routing(membership, 3, design, members[0], community, PubSub.SHARDED)
        assert sharded["subscribed"] == route["subscribed"]


@pytest.fixture(scope="module")
def measured() -> dict[str, Any]:
    plan = ClusterRunPlan(users=12, messages=30)
    result = asyncio.run(run_cluster_measurement(plan, Progress(plan.steps())))
    assert result["errors"] == []
    return result


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.parametrize("design", ["A classic", "B classic", "A sharded", "B sharded"])
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
        if design != "B classic":
            assert node["discarded"] == 0  # only nodes holding the room hear it
    if design == "B classic":  # every node hears every message
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


@pytest.mark.slow
@pytest.mark.redis
def test_sharded_pubsub_gives_b_the_routing_of_a(measured: dict[str, Any]) -> None:
    # The same posts (seeded): with a shard channel per room, B's nodes hear exactly what
    # A's nodes hear on classic Redis, and nothing is discarded; B classic discards.
    designs = measured["designs"]
    received = {name: [n["received"] for n in d["per_node"]] for name, d in designs.items()}
    assert received["B sharded"] == received["A classic"] == received["A sharded"]
    assert designs["B sharded"]["discarded_per_message"] == 0
    assert designs["B classic"]["discarded_per_message"] > 0
