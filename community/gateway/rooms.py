"""Names of the gateway's namespaces and rooms, shared by both topologies.

Topology *namespace per community*: one namespace ``/socket/commu-{community}`` per community;
inside it a room ``chan:{channel}`` per channel and ``user:{user}`` per user.

Topology *one namespace*: the namespace ``/socket``; rooms ``commu:{community}`` (every member
socket), ``commu:{community}:chan:{channel}`` (channel members),
``commu:{community}:user:{user}`` (one user's sockets, for presence in that community) and
``user:{user}`` (every socket of a user).

Rooms live in the namespace's adapter, so any process of a cluster sees them; the gateway keeps
no membership or presence table of its own.
"""

from __future__ import annotations

import re
from typing import Final

from community.inputs import MAX_ID

__all__ = [
    "COMMUNITY_NAMESPACE",
    "SINGLE_NAMESPACE",
    "channel_room",
    "community_id_of",
    "community_namespace",
    "community_room",
    "local_channel_room",
    "member_room",
    "user_room",
]

SINGLE_NAMESPACE: Final = "/socket"
"""The namespace of the one-namespace topology."""

COMMUNITY_NAMESPACE: Final = re.compile(r"/socket/commu-([1-9][0-9]{0,18})")
"""Names of the per-community namespaces (no leading zeros: one community, one name)."""


def community_namespace(community_id: int) -> str:
    """Return the namespace of a community (per-community topology)."""
    return f"/socket/commu-{community_id}"


def community_id_of(namespace: str) -> int | None:
    """Return the community id in a per-community namespace name, or ``None`` (also for a
    number that is no :data:`~community.inputs.Id`: this is where the namespace is checked)."""
    match = COMMUNITY_NAMESPACE.fullmatch(namespace)
    if match is None:
        return None
    community_id = int(match.group(1))
    return community_id if community_id <= MAX_ID else None


def user_room(user_id: int) -> str:
    """Return the room holding every socket of a user (in any namespace)."""
    return f"user:{user_id}"


def community_room(community_id: int) -> str:
    """Return the room of a community's member sockets (one-namespace topology)."""
    return f"commu:{community_id}"


def channel_room(community_id: int, channel_id: int) -> str:
    """Return the room of a channel's member sockets (one-namespace topology)."""
    return f"commu:{community_id}:chan:{channel_id}"


def member_room(community_id: int, user_id: int) -> str:
    """Return the room of one user's sockets in one community (one-namespace topology)."""
    return f"commu:{community_id}:user:{user_id}"


def local_channel_room(channel_id: int) -> str:
    """Return the room of a channel inside its community's namespace."""
    return f"chan:{channel_id}"
