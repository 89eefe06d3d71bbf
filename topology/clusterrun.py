"""One channel message on a real 3-node cluster: plexio's classic Redis adapter, A vs B.

Three gateway processes (:mod:`topology.server` with ``redis_url``) share one
redis-server of our own. Each node reaches Redis through its own counting proxy
(:class:`~topology.delayproxy.DelayProxy`, no delay), which counts the RESP it carries —
``PUBLISH`` commands going up, ``pmessage`` pushes coming down — so every node's
publishes and receptions are counted on the wire, whatever the adapter does inside.

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
from typing import Any

from topology.delayproxy import DelayProxy
from topology.model import Membership, ModelParams
from topology.procstat import cpu_seconds
from topology.progress import Progress
from topology.redisbench import running_redis
from topology.runner import ServerProcess
from topology.scenario import User

__all__ = ["ClusterRunPlan", "expected_routing", "run_cluster_measurement"]

HOST = "127.0.0.1"
#: RESP as redis-py writes a PUBLISH and as Redis pushes a pattern message.
WATCH = {
    "publish": ("up", b"$7\r\npublish\r\n"),
    "pmessage": ("down", b"$8\r\npmessage\r\n"),
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
    """

    nodes: int = 3
    users: int = 60
    per_user: int = 3
    members: int = 4
    channels: int = 4
    messages: int = 200
    seed: int = 1

    def steps(self) -> int:
        """Points in the plan (A and B)."""
        return 2

    @property
    def model(self) -> ModelParams:
        """The population."""
        return ModelParams(self.users, self.per_user, self.members, self.channels, self.seed)


def expected_routing(
    membership: Membership, nodes: int, design: str, sender: int, community: int
) -> dict[str, Any]:
    """Where a message goes in a classic-Redis cluster, from the placement ``u % nodes``.

    Returns:
        ``subscribed``: nodes Redis sends it to (A: nodes with a member of the community,
        whose namespace exists there; B: every node with a user); ``useful``: nodes with a
        recipient (a member other than the sender; every member is in every channel);
        ``self``: the sender's node.
    """
    members = membership.members.get(community, [])
    holding = {u % nodes for u in members}
    everyone = {u % nodes for u in range(len(membership.of_user))}
    subscribed = holding if design == "A" else everyone
    useful = {u % nodes for u in members if u != sender}
    return {"subscribed": sorted(subscribed), "useful": sorted(useful), "self": sender % nodes}


async def _design(
    plan: ClusterRunPlan, design: str, redis_port: int, redis_pid: int
) -> dict[str, Any]:
    membership = Membership(plan.model)
    proxies = [
        DelayProxy(HOST, redis_port, 0.0, tcp_handshake=False, watch=WATCH)
        for _ in range(plan.nodes)
    ]
    for proxy in proxies:
        await proxy.start()
    servers = [
        ServerProcess(plan.model, redis_url=f"redis://{HOST}:{proxy.port}/0") for proxy in proxies
    ]
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
        before = [p.stats.as_dict() for p in proxies]
        cpu0 = [cpu_seconds(s.pid)[1] for s in servers]
        redis0 = cpu_seconds(redis_pid)[1]
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
        redis_cpu = cpu_seconds(redis_pid)[1] - redis0
        after = [p.stats.as_dict() for p in proxies]
    finally:
        await asyncio.gather(*(u.close() for u in users), return_exceptions=True)
        for server in servers:
            await server.__aexit__(None, None, None)
        for proxy in proxies:
            await proxy.close()
    # What the placement predicts, per node.
    predicted = [{"subscribed": 0, "useful": 0, "self": 0} for _ in range(plan.nodes)]
    published = [0] * plan.nodes
    for sender, community, _ in posts:
        route = expected_routing(membership, plan.nodes, design, sender, community)
        published[route["self"]] += 1
        for node in route["subscribed"]:
            predicted[node]["subscribed"] += 1
        for node in route["useful"]:
            if node != route["self"]:
                predicted[node]["useful"] += 1
        predicted[route["self"]]["self"] += 1
    per_node = []
    for node in range(plan.nodes):
        got = after[node]["matches"].get("pmessage", 0) - before[node]["matches"].get("pmessage", 0)
        sent = after[node]["matches"].get("publish", 0) - before[node]["matches"].get("publish", 0)
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
                "redis_bytes_down": after[node]["bytes_down"] - before[node]["bytes_down"],
            }
        )
    total_received = sum(n["received"] for n in per_node)
    return {
        "design": design,
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
    """Measures A and B on one redis-server; failures are recorded, not raised."""
    out: dict[str, Any] = {"plan": asdict(plan), "designs": {}, "errors": []}
    async with running_redis() as (port, pid):
        for design in ("A", "B"):
            label = f"cluster {plan.nodes} nodes, design {design}"
            try:
                out["designs"][design] = await _design(plan, design, port, pid)
            except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
                out["errors"].append(f"{label}: {type(exc).__name__}: {exc}")
                progress.note(f"failed {label}: {exc}")
            progress.step(label)
    return out
