"""The gateway on three workers (``plexio.run(..., workers=3)``) sharing a Redis adapter.

The set-up starts redis-server on a free port and ``tests/helpers/community_workers.py`` (the
whole community app, uvicorn, three forked workers on one port, one SQLite file). The test
process holds one more member of the cluster: its own app and gateway on the same database
and Redis, whose service plays REST (its events reach the workers' sockets through Redis).
Clients are spread over the workers by the kernel; where a test needs two users on two
different workers, it connects until they are.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from community.app import create_app, get_services
from hypothesis import HealthCheck, given, settings

from community.gateway import GatewayOptions, create_gateway_app, get_gateway
from plexio.workers import worker_of
from tests.community.gateway.helpers import Clients, Live, Recorder, User, eventually, make_user
from tests.community.gateway.test_isolation import Scenario, check_isolation, scenarios
from tests.helpers.community_workers import settings as app_settings
from tests.helpers.redis import running_redis
from tests.helpers.workers import running_workers, worker_pids

pytestmark = [pytest.mark.redis, pytest.mark.timeout(300)]

WORKERS = 3


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Live]:
    database_url = f"sqlite:///{tmp_path / 'cluster.sqlite3'}"
    async with running_redis() as redis_server:
        api = create_app(app_settings(database_url))
        create_gateway_app(api, GatewayOptions(redis_url=redis_server.url))
        gateway = get_gateway(api)
        async with api.router.lifespan_context(api):  # migrates, once, before the workers
            args = [database_url, redis_server.url, str(WORKERS)]
            async with running_workers(
                "tests.helpers.community_workers", args, timeout=90
            ) as running:
                assert len(worker_pids(running.proc.pid)) == WORKERS
                async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
                    try:
                        yield Live(running.url, get_services(api), gateway, http)
                    finally:
                        await gateway.close()
                        await gateway.server.shutdown()


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
async def test_isolation_with_clients_spread_over_three_workers(
    cluster: Live, scenario: Scenario
) -> None:
    await check_isolation(cluster, scenario, cluster=True)


async def _on_another_worker(
    clients: Clients, connect: Callable[[Any], Any], taken: set[int]
) -> tuple[Recorder, int]:
    """Connects (a new connection each time) until the socket is on a worker not in
    ``taken``; the others are closed."""
    for _ in range(40):  # 3 workers: a new one at least 1 time in 3
        manager = clients.manager()
        recorder = await connect(manager)
        engine_id = manager.engine_id
        assert engine_id is not None
        worker = worker_of(engine_id)
        assert worker is not None
        if worker not in taken:
            return recorder, worker
        await manager.close()
    raise AssertionError("the kernel never chose another worker")


def statuses(recorder: Recorder, community_id: int, user_id: int) -> list[str]:
    return [
        p["status"]
        for p in recorder.of("presence")
        if p["community_id"] == community_id and p["user_id"] == user_id
    ]


async def test_presence_typing_messages_and_removal_across_workers(cluster: Live) -> None:
    services = cluster.services
    alice, bob = await make_user(services, "ca"), await make_user(services, "cb")
    lounge = await services.communities.create(alice.id, "cluster lounge")
    await services.members.join(bob.id, lounge.id)
    general = (await services.channels.of_community(alice.id, lounge.id))[0]
    if not await services.channels.is_member(bob.id, general.id):
        await services.channels.join(bob.id, general.id)
    clients = Clients(cluster)
    try:
        alice_single, alice_worker = await _on_another_worker(
            clients, lambda m: clients.single(alice, manager=m), set()
        )

        def bob_connects(user: User) -> Callable[[Any], Any]:
            return lambda m: clients.community(user, lounge.id, manager=m)

        bob_community, bob_worker = await _on_another_worker(
            clients, bob_connects(bob), {alice_worker}
        )
        assert bob_worker != alice_worker
        # presence: bob's connection, on his worker, reaches alice on hers; bob's state
        # (fetch_sockets over every worker) lists alice
        await eventually(lambda: statuses(alice_single, lounge.id, bob.id)[-1:] == ["online"])
        await eventually(lambda: bool(bob_community.of("presence:state")))
        [state] = bob_community.of("presence:state")
        assert state == {"community_id": lounge.id, "online": sorted([alice.id, bob.id])}
        got = await alice_single.ok("presence:get", {"community_id": lounge.id})
        assert got["online"] == sorted([alice.id, bob.id])
        # typing (volatile, within one namespace): alice's reaches bob's /socket elsewhere
        bob_single, bob_single_worker = await _on_another_worker(
            clients, lambda m: clients.single(bob, manager=m), {alice_worker}
        )
        assert bob_single_worker != alice_worker
        where = {"community_id": lounge.id, "channel_id": general.id}
        # typing is volatile: dropped only for a client that is behind. Bob's connection
        # handler is still writing presence frames to him when this one hint comes; a
        # WebSocket write that was merely unfinished (under ASGI, for a loop turn or two)
        # once counted as "behind", and this hint was lost now and then
        await alice_single.ok("typing", where)
        await eventually(lambda: bool(bob_single.of("typing")))
        assert [t["user_id"] for t in bob_single.of("typing")][:1] == [alice.id]
        # messages, both ways
        sent = await bob_community.ok("message:send", {"channel_id": general.id, "body": "hi"})
        await eventually(lambda: [m["id"] for m in alice_single.of("message:new")] == [sent["id"]])
        by_service = await services.messages.post(alice.id, general.id, "from the 4th member")
        await eventually(
            lambda: by_service.message.id in [m["id"] for m in bob_community.of("message:new")]
        )
        # removal (in the test process's member): bob is told, then his community
        # namespace on his worker is closed; alice sees him leave and go offline
        await services.members.remove(lounge.id, bob.id, actor_id=alice.id)
        await eventually(lambda: bob_community.disconnects == ["io server disconnect"])
        assert bob_community.of("community:left") == [
            {"community_id": lounge.id, "reason": "removed"}
        ]
        await eventually(lambda: bool(alice_single.of("member:left")))
        await eventually(lambda: statuses(alice_single, lounge.id, bob.id)[-1:] == ["offline"])
        got = await alice_single.ok("presence:get", {"community_id": lounge.id})
        assert got["online"] == [alice.id]
    finally:
        with contextlib.suppress(Exception):
            await clients.close()
