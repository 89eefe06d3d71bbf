"""The community model both processes share: who is in which community, and tokens.

The server and the load generator rebuild the same membership table from the same
parameters (a seeded random draw), so the server can join rooms from "its database"
while the client knows which deliveries to expect.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

import jwt

__all__ = [
    "MAIN_NAMESPACE",
    "NAMESPACE_PATTERN",
    "SECRET",
    "Membership",
    "ModelParams",
    "PubSub",
    "community_namespace",
    "make_token",
    "verify_token",
]


class PubSub(Enum):
    """Which Redis adapter a cluster node runs on."""

    #: ``PUBLISH`` / ``PSUBSCRIBE`` on one redis-server (``create_adapter``).
    CLASSIC = "classic"
    #: ``SPUBLISH`` / ``SSUBSCRIBE`` on a Redis Cluster, dynamic mode (a shard channel per
    #: room; ``create_sharded_adapter``).
    SHARDED = "sharded"


#: Topology A: one dynamic namespace per community.
NAMESPACE_PATTERN = r"/socket/commu-\d+"
#: Topology B: one namespace for everything.
MAIN_NAMESPACE = "/socket"
#: HS256 key of the signed user tokens (a measurement secret, not a credential).
SECRET = "topology-measurement-key-not-a-secret-0123456789"


def community_namespace(community: int) -> str:
    """The topology-A namespace of a community."""
    return f"/socket/commu-{community}"


def make_token(user: int) -> str:
    """A signed token for ``user`` (HS256, like the community gateway's)."""
    return jwt.encode({"sub": str(user)}, SECRET, algorithm="HS256")


def verify_token(token: object) -> int | None:
    """The user a token was issued to, or ``None`` when it is missing or invalid."""
    if not isinstance(token, str):
        return None
    try:
        claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    except jwt.PyJWTError:
        return None
    try:
        return int(claims["sub"])
    except (KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class ModelParams:
    """Parameters of one simulated population.

    Attributes:
        users: number of users.
        per_user: communities each user belongs to.
        members: target members per community (sets the size of the community pool).
        channels: channels per community (every member is in every channel).
        seed: seed of the membership draw.
    """

    users: int
    per_user: int
    members: int = 50
    channels: int = 4
    seed: int = 1

    def __post_init__(self) -> None:
        if self.users < 1 or self.per_user < 1 or self.members < 1 or self.channels < 1:
            raise ValueError(f"model parameters must be positive: {self}")

    @property
    def pool(self) -> int:
        """Number of communities: enough that each has about ``members`` members."""
        return max(self.per_user, round(self.users * self.per_user / self.members))

    def to_json(self) -> dict[str, Any]:
        """The parameters as a JSON object."""
        return asdict(self)


class Membership:
    """Which communities each user is in (deterministic for given parameters)."""

    def __init__(self, params: ModelParams) -> None:
        self.params = params
        rng = random.Random(params.seed)
        pool = range(params.pool)
        self.of_user: list[list[int]] = [
            sorted(rng.sample(pool, params.per_user)) for _ in range(params.users)
        ]
        self.sets: list[frozenset[int]] = [frozenset(c) for c in self.of_user]
        self.members: dict[int, list[int]] = {}
        for user, communities in enumerate(self.of_user):
            for community in communities:
                self.members.setdefault(community, []).append(user)

    def is_member(self, user: int, community: int) -> bool:
        """Whether ``user`` belongs to ``community``."""
        return 0 <= user < len(self.sets) and community in self.sets[user]

    def recipients(self, sender: int, community: int) -> int:
        """How many users receive a channel message ``sender`` posts in ``community``."""
        return len(self.members.get(community, ())) - 1
