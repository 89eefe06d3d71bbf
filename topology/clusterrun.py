"""One channel message on a real 3-node cluster: plexio's Redis adapters, A vs B.

Three gateway processes (:mod:`topology.server` with ``redis_url``), first on the classic
adapter sharing one redis-server of our own, then on the sharded adapter (dynamic mode)
sharing a 3-master Redis Cluster. Classic: each node reaches Redis through its own
counting proxy (:class:`~topology.delayproxy.DelayProxy`, no delay), which counts the RESP
it carries — ``PUBLISH`` commands going up, ``pmessage`` pushes coming down. Sharded: each
master announces its own counting proxy (:mod:`topology.rediscluster`), so every
connection of every node goes through one, and a connection is attributed to the gateway
process that holds its peer port; ``SPUBLISH`` and ``smessage`` are counted. Either way
every node's publishes and receptions are counted on the wire, whatever the adapter does
inside.

User ``u`` connects to node ``u % nodes`` (the counting client, WebSocket) in design A or
B; then ``messages`` channel messages are posted by random users and every delivery is
awaited. From the placement, each message's *useful* nodes are known (a node with a
member of the channel other than the sender); so per node:

* published: ``PUBLISH`` commands sent (one per message posted there);
* received: pushes from Redis (the node's own message comes back too: *self*);
* discarded: received − useful − self (a message for a room without a local recipient);

plus every node's CPU (``/proc``) and redis-server's CPU per message.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from topology.delayproxy import DelayProxy
from topology.model import Membership, ModelParams, PubSub
from topology.procstat import cpu_seconds, tcp_ports_of
from topology.progress import Progress
from topology.redisbench import running_redis
from topology.rediscluster import ProxiedCluster, running_proxied_cluster
from topology.runner import ServerProcess
from topology.scenario import User

__all__ = ["ClusterRunPlan", "expected_routing", "run_cluster_measurement"]

HOST = "127.0.0.1"
#: RESP as redis-py writes a PUBLISH and as Redis pushes a pattern message.
WATCH = {
    "publish": ("up", b"$7\r\npublish\r\n"),
    "pmessage": ("down", b"$8\r\npmessage\r\n"),
}
#: The same for sharded pub/sub: ``SPUBLISH`` up, ``smessage`` pushes down.
SHARDED_WATCH = {
    "spublish": ("up", b"$8\r\nspublish\r\n"),
    "smessage": ("down", b"$8\r\nsmessage\r\n"),
}


@dataclass(frozen=True, slots=True)
class ClusterRunPlan:
    """The measured small cluster.

    Attributes:
        nodes: gateway processes.
        users: users (spread round-robin over the nodes).
        per_user: communities per user.
        members: target members per community (small, so that some communities miss
            a node and the designs differ on 3 nodes).
        channels: channels per community.
        messages: channel messages posted.
        seed: membership and traffic seed.
        classic: measure on one redis-server with the classic adapter.
        sharded: measure on a 3-master Redis Cluster with the sharded adapter (dynamic
            mode: a shard channel per room).
    """

    nodes: int = 3
    users: int = 60
    per_user: int = 3
    members: int = 4
    channels: int = 4
    messages: int = 200
    seed: int = 1
    classic: bool = True
    sharded: bool = True

    def steps(self) -> int:
        """Points in the plan (A and B, classic and sharded)."""
        return 2 * (int(self.classic) + int(self.sharded))

    @property
    def model(self) -> ModelParams:
        """The population."""
        return ModelParams(self.users, self.per_user, self.members, self.channels, self.seed)


def expected_routing(
    membership: Membership,
    nodes: int,
    design: str,
    sender: int,
    community: int,
    pubsub: PubSub = PubSub.CLASSIC,
) -> dict[str, Any]:
    """Where a message goes in the cluster, from the placement ``u % nodes``.

    Returns:
        ``subscribed``: nodes Redis sends it to (classic A: nodes with a member of the
        community, whose namespace exists there; classic B: every node with a user;
        sharded, dynamic mode, A and B: nodes with a socket in the channel's room, i.e.
        with a member of the community); ``useful``: nodes with a recipient (a member
        other than the sender; every member is in every channel); ``self``: the sender's
        node.
    """
    members = membership.members.get(community, [])
    holding = {u % nodes for u in members}
    everyone = {u % nodes for u in range(len(membership.of_user))}
    subscribed = holding if design == "A" or pubsub is PubSub.SHARDED else everyone
    useful = {u % nodes for u in members if u != sender}
    return {"subscribed": sorted(subscribed), "useful": sorted(useful), "self": sender % nodes}


class _Counters(Protocol):
    """Per gateway node: PUBLISH-like commands sent, pushes received, bytes from Redis."""

    async def start(self, nodes: int) -> list[str]:
        """Starts the counting proxies; returns each node's Redis URL."""
        ...

    def read(self, servers: list[ServerProcess]) -> list[tuple[int, int, int]]:
        """``(published, received, bytes_down)`` per node, so far."""
        ...

    def redis_cpu(self) -> float:
        """CPU seconds Redis has used (every process of it)."""
        ...

    async def close(self) -> None:
        """Stops what :meth:`start` started."""
        ...


class _ClassicCounters:
    """One redis-server; node ``i`` reaches it through proxy ``i``."""

    def __init__(self, port: int, pid: int) -> None:
        self.port, self.pid = port, pid
        self.proxies: list[DelayProxy] = []

    async def start(self, nodes: int) -> list[str]:
        self.proxies = [
            DelayProxy(HOST, self.port, 0.0, tcp_handshake=False, watch=WATCH) for _ in range(nodes)
        ]
        for proxy in self.proxies:
            await proxy.start()
        return [f"redis://{HOST}:{proxy.port}/0" for proxy in self.proxies]

    def read(self, servers: list[ServerProcess]) -> list[tuple[int, int, int]]:
        return [
            (
                p.stats.matches.get("publish", 0),
                p.stats.matches.get("pmessage", 0),
                p.stats.bytes_down,
            )
            for p in self.proxies
        ]

    def redis_cpu(self) -> float:
        return cpu_seconds(self.pid)[1]

    async def close(self) -> None:
        for proxy in self.proxies:
            await proxy.close()


class _ShardedCounters:
    """A Redis Cluster whose masters announce their counting proxies: every node's
    connections (cluster client, one subscriber per master) go through them, and a
    connection belongs to the gateway process holding its peer port."""

    def __init__(self, cluster: ProxiedCluster) -> None:
        self.cluster = cluster

    async def start(self, nodes: int) -> list[str]:
        return [self.cluster.url] * nodes

    def read(self, servers: list[ServerProcess]) -> list[tuple[int, int, int]]:
        out = []
        for server in servers:
            ports = tcp_ports_of(server.pid)
            own = [
                stats
                for proxy in self.cluster.proxies
                for peer, stats in proxy.peers.items()
                if peer in ports
            ]
            out.append(
                (
                    sum(s.matches.get("spublish", 0) for s in own),
                    sum(s.matches.get("smessage", 0) for s in own),
                    sum(s.bytes_down for s in own),
                )
            )
        return out

    def redis_cpu(self) -> float:
        return sum(cpu_seconds(pid)[1] for pid in self.cluster.pids)

    async def close(self) -> None:
        """The cluster outlives one design."""


async def _design(
    plan: ClusterRunPlan, design: str, pubsub: PubSub, counters: _Counters
) -> dict[str, Any]:
    membership = Membership(plan.model)
    urls = await counters.start(plan.nodes)
    servers = [ServerProcess(plan.model, redis_url=url, pubsub=pubsub) for url in urls]
    users: list[User] = []
    try:
        for server in servers:
            await server.__aenter__()
        for uid in range(plan.users):
            server = servers[uid % plan.nodes]
            users.append(User(uid, membership.of_user[uid], design, "websocket", HOST, server.port))
        # One user per node first: each node's Redis link sets up its subscriber connection
        # on its first subscription; the others then join an established connection.
        for user in users[: plan.nodes]:
            await user.connect()
        await asyncio.gather(*(u.connect() for u in users[plan.nodes :]))
        for user in users:
            user.start_reading()
        await asyncio.sleep(1.0)  # subscriptions settle
        rng = random.Random(plan.seed + 7)
        posts = []
        for _ in range(plan.messages):
            sender = rng.randrange(plan.users)
            posts.append(
                (sender, rng.choice(membership.of_user[sender]), rng.randrange(plan.channels))
            )
        expected_deliveries = sum(len(membership.members[c]) - 1 for _, c, _ in posts)
        before = counters.read(servers)
        cpu0 = [cpu_seconds(s.pid)[1] for s in servers]
        redis0 = counters.redis_cpu()
        delivered0 = sum(u.delivered for u in users)
        for sender, community, channel in posts:  # one at a time: counts stay attributable
            await users[sender].post(community, channel)
        deadline = time.monotonic() + 30
        while (
            sum(u.delivered for u in users) - delivered0 < expected_deliveries
            and time.monotonic() < deadline
        ):
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)  # late pushes to nodes without recipients
        delivered = sum(u.delivered for u in users) - delivered0
        cpu = [cpu_seconds(s.pid)[1] - c for s, c in zip(servers, cpu0, strict=True)]
        redis_cpu = counters.redis_cpu() - redis0
        after = counters.read(servers)
    finally:
        await asyncio.gather(*(u.close() for u in users), return_exceptions=True)
        for server in servers:
            await server.__aexit__(None, None, None)
        await counters.close()
    # What the placement predicts, per node.
    predicted = [{"subscribed": 0, "useful": 0, "self": 0} for _ in range(plan.nodes)]
    published = [0] * plan.nodes
    for sender, community, _ in posts:
        route = expected_routing(membership, plan.nodes, design, sender, community, pubsub)
        published[route["self"]] += 1
        for node in route["subscribed"]:
            predicted[node]["subscribed"] += 1
        for node in route["useful"]:
            if node != route["self"]:
                predicted[node]["useful"] += 1
        predicted[route["self"]]["self"] += 1
    per_node = []
    for node in range(plan.nodes):
        sent, got, down = (a - b for a, b in zip(after[node], before[node], strict=True))
        useful = predicted[node]["useful"]
        own = predicted[node]["self"]
        per_node.append(
            {
                "node": node,
                "published": sent,
                "published_predicted": published[node],
                "received": got,
                "received_predicted": predicted[node]["subscribed"],
                "useful": useful,
                "self": own,
                "discarded": got - useful - own,
                "discarded_predicted": predicted[node]["subscribed"] - useful - own,
                "cpu_us_per_message": cpu[node] / plan.messages * 1e6,
                "redis_bytes_down": down,
            }
        )
    total_received = sum(n["received"] for n in per_node)
    return {
        "design": design,
        "pubsub": pubsub.value,
        "posted_community_sizes": [len(membership.members[c]) for _, c, _ in posts],
        "messages": plan.messages,
        "deliveries": delivered,
        "expected_deliveries": expected_deliveries,
        "per_node": per_node,
        "published_per_message": sum(n["published"] for n in per_node) / plan.messages,
        "received_per_message": total_received / plan.messages,
        "discarded_per_message": sum(n["discarded"] for n in per_node) / plan.messages,
        "redis_cpu_us_per_message": redis_cpu / plan.messages * 1e6,
        "node_cpu_us_per_message": sum(cpu) / plan.messages * 1e6,
        "redis_bytes_down_per_message": sum(n["redis_bytes_down"] for n in per_node)
        / plan.messages,
    }


async def run_cluster_measurement(plan: ClusterRunPlan, progress: Progress) -> dict[str, Any]:
    """Measures A and B on classic Redis, then on a Redis Cluster with sharded pub/sub
    (when ``plan.sharded``); failures are recorded, not raised.

    ``designs`` is keyed ``"A classic"``, ``"B classic"``, ``"A sharded"``, ``"B sharded"``.
    """
    out: dict[str, Any] = {
        "plan": asdict(plan),
        "started_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "designs": {},
        "errors": [],
    }

    async def one(design: str, pubsub: PubSub, counters: _Counters) -> None:
        label = f"cluster {plan.nodes} nodes, design {design}, {pubsub.value}"
        try:
            out["designs"][f"{design} {pubsub.value}"] = await _design(
                plan, design, pubsub, counters
            )
        except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
            out["errors"].append(f"{label}: {type(exc).__name__}: {exc}")
            progress.note(f"failed {label}: {exc}")
        progress.step(label)

    if plan.classic:
        async with running_redis() as (port, pid):
            for design in ("A", "B"):
                await one(design, PubSub.CLASSIC, _ClassicCounters(port, pid))
    if plan.sharded:
        try:
            async with running_proxied_cluster(max(3, plan.nodes), SHARDED_WATCH) as cluster:
                for design in ("A", "B"):
                    await one(design, PubSub.SHARDED, _ShardedCounters(cluster))
        except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
            out["errors"].append(f"Redis Cluster: {type(exc).__name__}: {exc}")
            progress.note(f"failed to start the Redis Cluster: {exc}")
    return out
