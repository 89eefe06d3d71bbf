"""What one channel message costs a cluster of gateway nodes on Redis, A against B.

The model (:func:`cluster_model`) follows how a Socket.IO Redis adapter routes a broadcast
(the wire behaviour of ``@socket.io/redis-adapter``, which plexio's adapter speaks):

* **classic** pub/sub: a node subscribes to ``socket.io#<namespace>#*`` for every namespace
  it has *instantiated*; a broadcast is one PUBLISH on ``socket.io#<namespace>#<room>#``
  (one room) and Redis sends it to every node subscribed to the namespace (the publishing
  node included; it drops its own message by uid);
* **sharded** pub/sub (Redis 7 ``SPUBLISH``), ``static`` mode: one channel per namespace
  (same receivers as classic); ``dynamic`` mode: one channel per room as well, and a node
  subscribes to a room's channel only while it has a local socket in the room.

Topology A creates a namespace per community on a node only when a member connects there,
so in classic mode only the nodes holding a member of the community hear its messages:
A is *sharded by community for free*. Topology B has one namespace ``/socket``: every node
hears every message in classic and sharded-static mode and drops those for rooms it has no
member of; sharded-dynamic brings B back to "nodes with a member of the channel".

With users spread evenly over ``K`` nodes, a room with ``m`` online members has at least
one on a given node with probability ``1 - (1 - 1/K)^m``, so the expected number of nodes
holding it is ``K * (1 - (1 - 1/K)^m)``. Per channel message:

* published: 1 (both designs, both modes);
* Redis deliveries ``D``: A classic and sharded ``H(c)`` (nodes holding the community,
  ``c`` online members); B classic / sharded-static ``K``; B sharded-dynamic ``H(m)``
  (nodes holding the channel, ``m`` online members of it);
* received by other nodes ``D - 1`` (the sender's node ignores its own);
* discarded (received, no local member in the room) ``D - H(m)``;
* per node, with ``R`` channel messages per second in the cluster: ``R * D / K`` received,
  ``R * (D - H(m)) / K`` discarded, and Redis sends ``R * D`` messages of ``bytes`` each.

Redis's own CPU per message is ``base + per_pattern * P + per_receiver * D``: ``PUBLISH``
matches the channel against every distinct subscribed pattern ``P`` (A classic: one per
community with an online member anywhere, ``pool * (1 - (1 - online)^members)``; B
classic: 1), ``SPUBLISH`` looks its channel up (``P = 0``). The coefficients come from
:mod:`topology.redisbench` (a real redis-server); Redis runs commands on one core, so a
share above 1 means one Redis (or one shard) cannot keep up.

:func:`run_cluster` measures the Redis coefficients, then a real 3-node cluster of
gateway processes on plexio's classic Redis adapter, then on its sharded adapter on a
3-master Redis Cluster (:mod:`topology.clusterrun`), evaluates
the model at the measured cluster's parameters (checked against what was counted) and at
the planned sizes (up to 100 nodes and a million users).
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass, replace
from typing import Any

from topology.clusterrun import ClusterRunPlan, run_cluster_measurement
from topology.progress import Progress
from topology.redisbench import RedisPlan, measure_redis, redis_available

__all__ = [
    "ClusterInputs",
    "ClusterPlan",
    "adapter_available",
    "check_against",
    "cluster_model",
    "holders",
    "measured_inputs",
    "run_cluster",
]


def holders(nodes: int, members: float) -> float:
    """Expected nodes with at least one of ``members`` users spread evenly over ``nodes``."""
    if nodes < 1:
        raise ValueError("nodes must be >= 1")
    if members <= 0:
        return 0.0
    return float(nodes * (1.0 - (1.0 - 1.0 / nodes) ** members))


@dataclass(frozen=True, slots=True)
class ClusterInputs:
    """The model's inputs (defaults: the sweeps' population, a chat-like message rate).

    Attributes:
        nodes: gateway processes (``K``).
        users: registered users.
        online: share of users connected at a time.
        per_user: communities per user (``N``).
        members: members per community.
        channels: channels per community.
        channel_share: share of a community's members in a given channel.
        messages_per_user_min: channel messages each online user posts per minute.
        message_bytes: bytes of one adapter message on the Redis wire (measured).
        discard_us: node CPU to receive and drop one adapter message (measured: the
            redis-py receive floor).
        deliver_us: node CPU per recipient socket (the sweeps' steady figure).
        redis_base_us: Redis CPU per PUBLISH, fixed part (measured).
        redis_per_pattern_us: Redis CPU per PUBLISH per distinct subscribed pattern.
        redis_per_receiver_us: Redis CPU per PUBLISH per receiving connection.
        sharded_base_us: Redis CPU per SPUBLISH, fixed part.
        sharded_per_receiver_us: Redis CPU per SPUBLISH per receiving connection.
    """

    nodes: int = 3
    users: int = 1_000_000
    online: float = 0.2
    per_user: int = 10
    members: int = 50
    channels: int = 4
    channel_share: float = 1.0
    messages_per_user_min: float = 1.0
    message_bytes: float = 200.0
    discard_us: float = 30.0
    deliver_us: float = 7.0
    redis_base_us: float = 0.8
    redis_per_pattern_us: float = 0.1
    redis_per_receiver_us: float = 0.5
    sharded_base_us: float = 0.7
    sharded_per_receiver_us: float = 0.5

    def __post_init__(self) -> None:
        if self.nodes < 1 or self.users < 1 or self.per_user < 1 or self.members < 1:
            raise ValueError(f"counts must be positive: {self}")
        if not 0 < self.online <= 1 or not 0 < self.channel_share <= 1:
            raise ValueError(f"shares must be in (0, 1]: {self}")

    @property
    def pool(self) -> float:
        """Communities: users × communities per user / members per community."""
        return self.users * self.per_user / self.members

    @property
    def live_communities(self) -> float:
        """Communities with at least one online member (each a namespace somewhere in A)."""
        return self.pool * (1.0 - (1.0 - self.online) ** self.members)


def cluster_model(inputs: ClusterInputs) -> dict[str, Any]:
    """Per channel message and per second, for A and B in classic and sharded pub/sub.

    Returns:
        ``{"inputs": ..., "rate_per_s": R, "designs": {"A classic": {...}, ...}}`` where
        each design has ``published``, ``redis_deliveries``, ``received_per_node``,
        ``discarded``, ``useful_nodes`` per message, and per second ``redis_msgs_out_s``,
        ``redis_bytes_out_s``, ``node_received_s``, ``node_discarded_s``,
        ``node_cpu_discard_share`` (share of one core) and ``node_cpu_deliver_share``.
    """
    k = inputs.nodes
    community_online = inputs.members * inputs.online
    channel_online = community_online * inputs.channel_share
    h_community = holders(k, community_online)
    h_channel = holders(k, channel_online)
    online_users = inputs.users * inputs.online
    rate = online_users * inputs.messages_per_user_min / 60.0
    deliveries_per_message = max(0.0, channel_online - 1)  # sockets that get the message
    # design -> (Redis deliveries per message, distinct patterns PUBLISH scans, sharded)
    designs: dict[str, tuple[float, float, bool]] = {
        "A classic": (h_community, inputs.live_communities, False),
        "A sharded": (h_community, 0.0, True),
        "B classic": (float(k), 1.0, False),
        "B sharded-static": (float(k), 0.0, True),
        "B sharded-dynamic": (h_channel, 0.0, True),
    }
    out: dict[str, Any] = {
        "inputs": asdict(inputs),
        "rate_per_s": rate,
        "holders_community": h_community,
        "holders_channel": h_channel,
        "designs": {},
    }
    for name, (deliveries, patterns, sharded) in designs.items():
        discarded = max(0.0, deliveries - h_channel)
        received_per_node = deliveries / k
        if sharded:
            redis_us = inputs.sharded_base_us + inputs.sharded_per_receiver_us * deliveries
        else:
            redis_us = (
                inputs.redis_base_us
                + inputs.redis_per_pattern_us * patterns
                + inputs.redis_per_receiver_us * deliveries
            )
        out["designs"][name] = {
            "patterns": patterns,
            "redis_cpu_us_per_message": redis_us,
            "redis_cpu_share": rate * redis_us * 1e-6,
            "published": 1.0,
            "redis_deliveries": deliveries,
            "received_by_other_nodes": max(0.0, deliveries - 1),
            "discarded": discarded,
            "useful_nodes": h_channel,
            "received_per_node": received_per_node,
            "redis_msgs_out_s": rate * deliveries,
            "redis_bytes_out_s": rate * deliveries * inputs.message_bytes,
            "node_received_s": rate * received_per_node,
            "node_discarded_s": rate * discarded / k,
            "node_cpu_discard_share": rate * discarded / k * inputs.discard_us * 1e-6,
            "node_cpu_deliver_share": rate * deliveries_per_message / k * inputs.deliver_us * 1e-6,
        }
    return out


@dataclass(frozen=True, slots=True)
class ClusterPlan:
    """What the cluster part measures and evaluates.

    Attributes:
        sizes: (users, nodes) the model is evaluated at.
        redis: the Redis cost measurement.
        run: the measured small cluster.
    """

    sizes: tuple[tuple[int, int], ...] = (
        (10_000, 3),
        (100_000, 10),
        (1_000_000, 30),
        (1_000_000, 100),
    )
    redis: RedisPlan = RedisPlan()
    run: ClusterRunPlan = ClusterRunPlan()

    def steps(self) -> int:
        """Points in the plan."""
        return 1 + self.redis.steps() + self.run.steps()


def adapter_available() -> bool:
    """Whether plexio's Redis adapter and a redis-server are installed."""
    try:
        found = importlib.util.find_spec("plexio.server.adapters.redis") is not None
    except ImportError:
        found = False
    return found and redis_available()


def measured_inputs(base: ClusterInputs, redis: dict[str, Any]) -> ClusterInputs:
    """The model's inputs with the Redis coefficients and costs measured here."""
    classic, sharded = redis.get("classic", {}), redis.get("sharded", {})

    def pick(value: Any, default: float) -> float:
        return float(value) if isinstance(value, int | float) and value == value else default

    return replace(
        base,
        redis_base_us=pick(classic.get("base_us"), base.redis_base_us),
        redis_per_pattern_us=pick(classic.get("per_pattern_us"), base.redis_per_pattern_us),
        redis_per_receiver_us=pick(classic.get("per_receiver_us"), base.redis_per_receiver_us),
        sharded_base_us=pick(sharded.get("base_us"), base.sharded_base_us),
        sharded_per_receiver_us=pick(sharded.get("per_receiver_us"), base.sharded_per_receiver_us),
        discard_us=pick(redis.get("receive_us"), base.discard_us),
        message_bytes=pick(redis.get("payload_bytes"), base.message_bytes),
    )


def check_against(measured: dict[str, Any], plan: ClusterRunPlan) -> dict[str, Any]:
    """The model at the measured cluster's parameters next to what was counted.

    Every user of the measured cluster is online and in every channel of its communities,
    so for a message in a community of ``s`` members the model expects ``H(s)`` receiving
    nodes in A (classic and sharded) and in B sharded-dynamic, ``K`` in B classic,
    ``K - H(s)`` of them discarding in B classic and none otherwise; the expectations are
    averaged over the messages actually posted. Designs are keyed ``"<A|B> <classic|sharded>"``
    (the sharded rows are the model's ``A sharded`` and ``B sharded-dynamic``).
    """
    k = plan.nodes
    out: dict[str, Any] = {"nodes": k, "designs": {}}
    for design, result in measured.get("designs", {}).items():
        sizes = result.get("posted_community_sizes") or []
        if not sizes:
            continue
        held = sum(holders(k, s) for s in sizes) / len(sizes)
        received = float(k) if design == "B classic" else held
        out["designs"][design] = {
            "mean_community_size": sum(sizes) / len(sizes),
            "received_per_message": result["received_per_message"],
            "received_model": received,
            "discarded_per_message": result["discarded_per_message"],
            "discarded_model": received - held,
        }
    return out


async def run_cluster(
    plan: ClusterPlan, progress: Progress, base: ClusterInputs | None = None
) -> dict[str, Any]:
    """Measures Redis and the small cluster (when installed), then evaluates the model."""
    base = base or ClusterInputs()
    result: dict[str, Any] = {"plan": asdict(plan), "errors": []}
    inputs = base
    if redis_available():
        redis = await measure_redis(plan.redis, progress)
        result["redis"] = redis
        result["errors"] += redis["errors"]
        inputs = measured_inputs(base, redis)
    else:
        result["errors"].append("skipped the Redis measurement: redis-server or redis-py missing")
        progress.add(-plan.redis.steps())
    if adapter_available():
        measured = await run_cluster_measurement(plan.run, progress)
        result["measured"] = measured
        result["errors"] += measured["errors"]
        result["check"] = check_against(measured, plan.run)
    else:
        result["measured"] = None
        result["not_measured"] = (
            "plexio.server.adapters.redis or redis-server is missing: the 3-node check "
            "remains to be done"
        )
        progress.add(-plan.run.steps())
    result["inputs"] = asdict(inputs)
    result["model"] = [cluster_model(replace(inputs, nodes=k, users=u)) for u, k in plan.sizes]
    progress.step("cluster model")
    return result
