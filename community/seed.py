"""Demo data: four users, three communities with a few channels, and a few messages.

Seeding is idempotent: every item is looked up first and only missing ones are created, so it
runs on every start of the demo without duplicating anything (and repairs deleted pieces).
"""

from __future__ import annotations

from dataclasses import dataclass

from community.errors import Conflict, Forbidden
from community.records import CommunityRecord, UserRecord
from community.services import Services

__all__ = ["DEMO_COMMUNITIES", "DEMO_PASSWORD", "DEMO_USERS", "DemoCommunity", "seed_demo"]

DEMO_PASSWORD = "password"
"""Password of every demo user."""

DEMO_USERS: tuple[tuple[str, str], ...] = (
    ("alice", "Alice"),
    ("bob", "Bob"),
    ("carol", "Carol"),
    ("dave", "Dave"),
)
"""(username, display name) of the demo users."""


@dataclass(frozen=True, slots=True)
class DemoCommunity:
    """One demo community.

    Attributes:
        name: Community name.
        description: Its description.
        owner: Owner's username.
        members: Other members' usernames (they join every channel).
        channels: Channel names besides ``general``.
        messages: (author username, body) posted in ``general``.
    """

    name: str
    description: str
    owner: str
    members: tuple[str, ...]
    channels: tuple[str, ...]
    messages: tuple[tuple[str, str], ...]


DEMO_COMMUNITIES: tuple[DemoCommunity, ...] = (
    DemoCommunity(
        name="Plexio Lounge",
        description="Say hello and hang out.",
        owner="alice",
        members=("bob", "carol", "dave"),
        channels=("random", "help"),
        messages=(
            ("alice", "Welcome to the Plexio Lounge!"),
            ("bob", "Hi everyone"),
            ("carol", "Hello from Carol."),
        ),
    ),
    DemoCommunity(
        name="Async Python",
        description="asyncio, typing and friends.",
        owner="bob",
        members=("alice", "carol"),
        channels=("asyncio", "typing"),
        messages=(("bob", "Share your favourite asyncio trick here."),),
    ),
    DemoCommunity(
        name="Night Owls",
        description="For those who code after midnight.",
        owner="carol",
        members=("alice", "dave"),
        channels=("music",),
        messages=(("carol", "Who is still up?"), ("dave", "Me, always.")),
    ),
)
"""The demo communities."""


async def seed_demo(services: Services) -> None:
    """Insert whatever part of the demo data is missing.

    Args:
        services: The services to create the data through.
    """
    users: dict[str, UserRecord] = {}
    for username, display_name in DEMO_USERS:
        users[username] = await _user(services, username, display_name)
    for index, spec in enumerate(DEMO_COMMUNITIES):
        community = await _community(services, spec, users[spec.owner].id)
        for member in spec.members:
            if not await services.members.is_member(users[member].id, community.id):
                try:
                    await services.members.join(users[member].id, community.id)
                except Conflict:
                    pass
        # The actual owner, in case someone else created a community with this name first.
        owner_id = community.owner_id
        existing = {c.name for c in await services.channels.of_community(owner_id, community.id)}
        for name in spec.channels:
            if name not in existing:
                try:
                    await services.channels.create(owner_id, community.id, name)
                except Conflict:
                    pass
        channels = await services.channels.of_community(owner_id, community.id)
        for username in (spec.owner, *spec.members):
            for channel in channels:
                if not await services.channels.is_member(users[username].id, channel.id):
                    try:
                        await services.channels.join(users[username].id, channel.id)
                    except (Conflict, Forbidden):
                        pass
        general = next((c for c in channels if c.name == "general"), None)
        if general is None:
            continue
        for number, (author, body) in enumerate(spec.messages):
            # The client_id makes each demo message idempotent across restarts.
            try:
                await services.messages.post(
                    users[author].id, general.id, body, client_id=f"demo-{index}-{number}"
                )
            except (Conflict, Forbidden):
                pass


async def _user(services: Services, username: str, display_name: str) -> UserRecord:
    found = await services.accounts.find(username)
    if found is not None:
        return found
    try:
        return await services.accounts.sign_up(username, DEMO_PASSWORD, display_name)
    except Conflict:
        found = await services.accounts.find(username)
        assert found is not None  # created concurrently by another process
        return found


async def _community(services: Services, spec: DemoCommunity, owner_id: int) -> CommunityRecord:
    found = await services.communities.find(spec.name)
    if found is not None:
        return found
    try:
        return await services.communities.create(owner_id, spec.name, spec.description)
    except Conflict:
        found = await services.communities.find(spec.name)
        assert found is not None  # created concurrently by another process
        return found
