"""The cluster model's formulas on cases that can be counted by hand."""

from __future__ import annotations

import asyncio

import pytest
from topology.cluster import ClusterInputs, ClusterPlan, cluster_model, holders, run_cluster
from topology.clusterrun import ClusterRunPlan
from topology.progress import Progress
from topology.redisbench import RedisPlan


def test_holders_counts_nodes_with_a_member() -> None:
    assert holders(1, 5) == 1.0
    assert holders(4, 0) == 0.0
    assert holders(2, 1) == pytest.approx(1.0)
    assert holders(2, 2) == pytest.approx(1.5)  # both on one node half of the time
    assert holders(100, 1_000_000) == pytest.approx(100.0)
    with pytest.raises(ValueError):
        holders(0, 1)


def test_b_classic_reaches_every_node_and_a_only_the_holders() -> None:
    # 10 online members per community on 100 nodes: at most 10 nodes hold the community.
    model = cluster_model(ClusterInputs(nodes=100, users=6000, online=0.2, members=50))
    a, b = model["designs"]["A classic"], model["designs"]["B classic"]
    dyn = model["designs"]["B sharded-dynamic"]
    assert model["holders_community"] == pytest.approx(100 * (1 - 0.99**10))
    assert a["redis_deliveries"] == pytest.approx(model["holders_community"])
    assert a["discarded"] == pytest.approx(0.0)  # every member is in every channel
    assert b["redis_deliveries"] == 100
    assert b["discarded"] == pytest.approx(100 - model["holders_channel"])
    assert dyn["redis_deliveries"] == pytest.approx(model["holders_channel"])
    # 6000 users, 20 % online, 1 message per minute each: 20 channel messages per second.
    assert model["rate_per_s"] == pytest.approx(20.0)
    assert b["node_received_s"] == pytest.approx(20.0)
    assert b["redis_msgs_out_s"] == pytest.approx(2000.0)


def test_a_smaller_channel_makes_a_discard_too() -> None:
    model = cluster_model(ClusterInputs(nodes=3, channel_share=0.25, members=40, online=1.0))
    a = model["designs"]["A classic"]
    assert a["discarded"] == pytest.approx(holders(3, 40) - holders(3, 10))


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        ClusterInputs(online=0)
    with pytest.raises(ValueError):
        ClusterInputs(nodes=0)


@pytest.mark.slow
@pytest.mark.redis
def test_run_measures_and_evaluates_the_grid() -> None:
    plan = ClusterPlan(
        sizes=((1_000_000, 3), (1_000_000, 100)),
        redis=RedisPlan(patterns=(0, 500), receivers=(1, 2), messages=100),
        run=ClusterRunPlan(users=9, messages=10),
    )
    progress = Progress(plan.steps())
    result = asyncio.run(run_cluster(plan, progress))
    assert result["errors"] == []
    assert progress.done == progress.total
    assert [g["inputs"]["nodes"] for g in result["model"]] == [3, 100]
    # the measured Redis coefficients went into the model
    assert result["inputs"]["redis_per_pattern_us"] == result["redis"]["classic"]["per_pattern_us"]
    assert set(result["check"]["designs"]) == {"A classic", "B classic", "A sharded", "B sharded"}
    for check in result["check"]["designs"].values():
        assert check["received_per_message"] > 0


def test_a_classic_scans_a_pattern_per_live_community() -> None:
    inputs = ClusterInputs(users=1000, per_user=5, members=10, online=0.5)
    model = cluster_model(inputs)
    assert inputs.pool == 500
    assert model["designs"]["A classic"]["patterns"] == pytest.approx(500 * (1 - 0.5**10))
    assert model["designs"]["B classic"]["patterns"] == 1
    assert model["designs"]["A sharded"]["patterns"] == 0
    expected = (
        inputs.redis_base_us
        + inputs.redis_per_pattern_us * inputs.live_communities
        + inputs.redis_per_receiver_us * model["holders_community"]
    )
    assert model["designs"]["A classic"]["redis_cpu_us_per_message"] == pytest.approx(expected)
