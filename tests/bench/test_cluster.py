"""bench.workers and bench.cluster, run for real but small: the figures are well formed."""

from __future__ import annotations

import pytest

from bench import cluster, workers

pytestmark = [pytest.mark.redis, pytest.mark.timeout(300)]


async def test_forwarded_and_direct_polls_are_both_measured() -> None:
    figures = await workers.measure(40)
    kinds = sorted(row["kind"] for row in figures["polls"])
    assert kinds == ["direct", "forwarded"]
    for row in figures["polls"]:
        assert row["median_us"] > 0 and len(row["cpu_us_per_worker"]) == 2
    assert figures["redis_round_trip_us"] > 0


async def test_every_configuration_delivers_without_errors() -> None:
    results = await cluster.measure(members=10, seconds=0.5)
    assert sorted(results) == ["node x1", "node x2", "plexio x1", "plexio x2"]
    for name, row in results.items():
        assert row["errors"] == 0, name
        assert row["deliveries"] > 0, name
        assert row["processes"] == int(name[-1])
