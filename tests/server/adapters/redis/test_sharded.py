"""plexio.server.adapters.redis.sharded: plexio servers on a Redis Cluster of 3 masters.

The cluster is three Debian redis-server processes in cluster mode joined by
``redis-cli --cluster create`` on free ports (tests/helpers/redis.py). Node's
``createShardedAdapter`` is checked against it in tests/interop/test_redis_cluster.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

import plexio
from plexio.client import ClientSocket, ManagerCache
from plexio.exceptions import ClusterTimeoutError
from plexio.server.adapters.redis import (
    ShardedRedisAdapter,
    SubscriptionMode,
    create_sharded_adapter,
)
from plexio.server.adapters.redis.link import ShardedRedisLink
from plexio.server.adapters.remote import RemoteSocket
from tests.helpers.redis import RedisCluster, running_redis_cluster
from tests.helpers.waiting import eventually
from tests.server.adapters.redis.test_classic import Client

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.timeout(90)]


@pytest.fixture
async def cluster() -> AsyncIterator[RedisCluster]:
    async with running_redis_cluster(3) as started:
        yield started


async def node_channels(cluster: RedisCluster) -> dict[int, set[str]]:
    """The shard channels each master has subscribers for."""
    found: dict[int, set[str]] = {}
    for node in cluster.nodes:
        client = aioredis.Redis(host="127.0.0.1", port=node.port)
        try:
            channels = await client.execute_command("PUBSUB", "SHARDCHANNELS")
            found[node.port] = {c.decode() for c in channels}
        finally:
            await client.aclose()
    return found


@pytest.mark.parametrize("mode", [SubscriptionMode.DYNAMIC, SubscriptionMode.STATIC])
async def test_two_servers_on_a_three_master_cluster(
    cluster: RedisCluster, serve_native: Any, mode: SubscriptionMode
) -> None:
    servers: list[plexio.Server] = []
    sockets: list[ClientSocket] = []
    clients: list[Client] = []
    cache = ManagerCache()
    try:
        for name in ("a", "b"):
            server = plexio.Server(
                adapter=create_sharded_adapter(
                    cluster.url, subscription_mode=mode, requests_timeout=2.0
                )
            )
            server.on("join", lambda socket, room: socket.join(room))
            server.on_server_side_emit("hello", lambda *args, name=name: f"from-{name}")
            running = await serve_native(server)
            client = await Client.connect(running.port, name, cache)
            socket = client.socket
            socket.on("q", lambda *args, name=name: name)
            servers.append(server)
            sockets.append(socket)
            clients.append(client)
        a, b = servers
        ca, cb = clients
        adapter_b = b.sockets.adapter
        assert isinstance(adapter_b, ShardedRedisAdapter)
        assert await adapter_b.server_count() == 2
        sockets[1].emit("join", "room1")
        await eventually(lambda: "room1" in adapter_b.rooms)
        if mode is SubscriptionMode.DYNAMIC:
            # the room's own shard channel, on whichever master owns its slot
            await eventually(lambda: "socket.io#/#room1#" in adapter_b.link.subscribed())
            channels = await node_channels(cluster)
            assert sum("socket.io#/#room1#" in c for c in channels.values()) == 1
        a.emit("all", 1, b"\x02")
        a.to("room1").emit("room", "r")
        a.except_("room1").emit("except")
        a.local.emit("local")
        await eventually(lambda: cb.events("room") and ca.events("except") and cb.events("all"))
        assert cb.events("all") == [[1, b"\x02"]]
        assert ca.events("room") == []
        assert cb.events("except") == [] and cb.events("local") == []
        assert sorted(await a.timeout(3).emit_with_ack("q")) == ["a", "b"]
        found = await a.fetch_sockets()
        (far,) = [s for s in found if isinstance(s, RemoteSocket)]
        assert far.id == sockets[1].id and "room1" in far.rooms
        far.emit("direct")
        await eventually(lambda: cb.events("direct") == [[]])
        a.in_("room1").sockets_join("room2")
        await eventually(lambda: "room2" in adapter_b.rooms)
        a.sockets_leave("room1")
        await eventually(lambda: "room1" not in adapter_b.rooms)
        assert await a.server_side_emit_with_ack("hello") == ["from-b"]
        with pytest.raises(ClusterTimeoutError, match="1 of 1 servers did not answer"):
            await a.server_side_emit_with_ack("nobody-handles-this")
        far.disconnect()
        await eventually(lambda: cb.disconnects == ["io server disconnect"])
    finally:
        for socket in sockets:
            with contextlib.suppress(Exception):
                await socket.disconnect()
        for server in servers:
            await server.shutdown()


async def test_many_rooms_subscribed_at_once_reach_every_master(cluster: RedisCluster) -> None:
    # Many room channels subscribed while the reader connects go out together; Redis
    # refuses an SSUBSCRIBE whose channels hash to different slots (CROSSSLOT) even on
    # one master, so the link sends one per slot: every channel is subscribed, no outage.
    link = ShardedRedisLink(cluster.url)
    await link.acquire()
    channels = [f"socket.io#/#room{i}#" for i in range(60)]
    try:
        await asyncio.gather(*(link.subscribe(c, lambda _c, _d: None) for c in channels))
        await eventually(lambda: set(channels) <= link.subscribed())
        found = await node_channels(cluster)
        assert sorted(c for chans in found.values() for c in chans) == sorted(channels)
        assert link.outages == 0
    finally:
        await link.release()


async def test_a_room_joined_while_connecting_gets_what_another_server_sends_at_once(
    cluster: RedisCluster, serve_native: Any
) -> None:
    # In the dynamic mode a room has a shard channel of its own: a room the connecting
    # socket joins in a middleware is subscribed (and confirmed) before its CONNECT is
    # answered, so a broadcast to it from another server right after the connect arrives.
    a = plexio.Server(adapter=create_sharded_adapter(cluster.url))
    b = plexio.Server(adapter=create_sharded_adapter(cluster.url))

    confirmed: list[bool] = []

    @b.use
    def join(socket: plexio.ServerSocket) -> None:
        socket.join(f"room-{socket.handshake.auth['n']}")

    @b.on("connection")
    def connected(socket: plexio.ServerSocket) -> None:
        # right after the CONNECT was answered: Redis has confirmed the room's channel
        adapter = b.sockets.adapter
        assert isinstance(adapter, ShardedRedisAdapter)
        channel = f"socket.io#/#room-{socket.handshake.auth['n']}#"
        confirmed.append(channel in adapter.link.subscribed())

    await a.sockets.ready()
    b_port = (await serve_native(b)).port
    cache = ManagerCache()
    try:
        for n in range(10):
            client = await Client.connect(b_port, "b", cache, auth={"n": n})
            a.to(f"room-{n}").emit("reliable", n)
            await eventually(client.has(["reliable"]), timeout=2)
            await client.socket.disconnect()
        assert confirmed == [True] * 10
    finally:
        await a.shutdown()
        await b.shutdown()


async def test_dynamic_private_a_socket_id_channel_is_confirmed_before_the_connect_answer(
    cluster: RedisCluster, serve_native: Any
) -> None:
    # In dynamic-private a socket's own room has a channel: a server without middleware
    # (whose CONNECTs are otherwise accepted at once) waits for it too.
    mode = SubscriptionMode.DYNAMIC_PRIVATE
    a = plexio.Server(adapter=create_sharded_adapter(cluster.url, subscription_mode=mode))
    b = plexio.Server(adapter=create_sharded_adapter(cluster.url, subscription_mode=mode))
    confirmed: list[bool] = []

    @b.on("connection")
    def connected(socket: plexio.ServerSocket) -> None:
        adapter = b.sockets.adapter
        assert isinstance(adapter, ShardedRedisAdapter)
        confirmed.append(f"socket.io#/#{socket.id}#" in adapter.link.subscribed())

    await a.sockets.ready()
    b_port = (await serve_native(b)).port
    cache = ManagerCache()
    try:
        for _ in range(5):
            client = await Client.connect(b_port, "b", cache)
            assert client.socket.id is not None
            a.to(client.socket.id).emit("direct")
            await eventually(client.has(["direct"]), timeout=2)
            await client.socket.disconnect()
        assert confirmed == [True] * 5
    finally:
        await a.shutdown()
        await b.shutdown()
