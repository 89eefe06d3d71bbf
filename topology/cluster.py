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

:func:`run_cluster` evaluates the model for the planned sizes (up to 100 nodes and a
million users). Checking it against a measured 3-node cluster needs plexio's Redis adapter
(``plexio.server.adapters.redis``); when it is not installed the check is recorded as
still to do.
"""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import asdict, dataclass, replace
from typing import Any

from topology.progress import Progress

__all__ = [
    "ClusterInputs",
    "ClusterPlan",
    "cluster_model",
    "holders",
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
        discard_us: node CPU to decode and drop one adapter message (measured).
        deliver_us: node CPU per recipient socket (the sweeps' steady figure).
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
    discard_us: float = 10.0
    deliver_us: float = 7.0

    def __post_init__(self) -> None:
        if self.nodes < 1 or self.users < 1 or self.per_user < 1 or self.members < 1:
            raise ValueError(f"counts must be positive: {self}")
        if not 0 < self.online <= 1 or not 0 < self.channel_share <= 1:
            raise ValueError(f"shares must be in (0, 1]: {self}")


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
    designs: dict[str, float] = {
        "A classic": h_community,
        "A sharded": h_community,
        "B classic": float(k),
        "B sharded-static": float(k),
        "B sharded-dynamic": h_channel,
    }
    out: dict[str, Any] = {
        "inputs": asdict(inputs),
        "rate_per_s": rate,
        "holders_community": h_community,
        "holders_channel": h_channel,
        "designs": {},
    }
    for name, deliveries in designs.items():
        discarded = max(0.0, deliveries - h_channel)
        received_per_node = deliveries / k
        out["designs"][name] = {
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
    """What the cluster part evaluates (and measures, once the Redis adapter exists).

    Attributes:
        nodes: cluster sizes the model is evaluated at.
        users: users of the measured small cluster.
        messages: channel messages posted in the measured small cluster.
        scale_users: user counts the model is evaluated at.
    """

    nodes: tuple[int, ...] = (3, 10, 30, 100)
    users: int = 60
    messages: int = 100
    scale_users: tuple[int, ...] = (10_000, 100_000, 1_000_000)

    def steps(self) -> int:
        """Points in the plan (the model, then the measurement)."""
        return 2


def adapter_available() -> bool:
    """Whether plexio's Redis adapter and a redis-server are installed."""
    return (
        importlib.util.find_spec("plexio.server.adapters.redis") is not None
        and shutil.which("redis-server") is not None
    )


async def run_cluster(
    plan: ClusterPlan, progress: Progress, base: ClusterInputs | None = None
) -> dict[str, Any]:
    """Evaluates the model over the plan; records whether the measured check could run."""
    base = base or ClusterInputs()
    grid = [
        cluster_model(replace(base, nodes=k, users=u)) for u in plan.scale_users for k in plan.nodes
    ]
    progress.step("cluster model")
    result: dict[str, Any] = {"plan": asdict(plan), "model": grid, "errors": []}
    if adapter_available():
        result["measured"] = None
        result["not_measured"] = (
            "plexio's Redis adapter is installed but this measurement does not drive it yet"
        )
    else:
        result["measured"] = None
        result["not_measured"] = (
            "plexio.server.adapters.redis has not landed: the 3-node check remains to be done"
        )
    progress.step("cluster measurement")
    return result
