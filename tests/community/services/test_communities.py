"""Communities (community/services/communities.py)."""

from __future__ import annotations

import pytest
from community.errors import Conflict, Forbidden, NotFound
from community.events import ChannelCreated, CommunityCreated, CommunityEvent, CommunityUpdated
from community.inputs import MAX_ID

from community.services import DEFAULT_CHANNEL_NAME, Services
from tests.community.helpers import users


async def test_a_community_is_made_with_its_owner_in_a_general_channel(services: Services) -> None:
    (alice,) = await users(services, "alice")
    events: list[CommunityEvent] = []
    services.events.subscribe(events.append)
    community = await services.communities.create(alice.id, "  Lounge ", " about ")
    assert (community.name, community.description, community.owner_id) == (
        "Lounge",
        "about",
        alice.id,
    )
    assert [type(e) for e in events] == [CommunityCreated, ChannelCreated]
    (general,) = await services.channels.of_user(alice.id, community.id)
    assert general.name == DEFAULT_CHANNEL_NAME
    assert await services.members.is_member(alice.id, community.id)
    with pytest.raises(Conflict):
        await services.communities.create(alice.id, "Lounge")
    with pytest.raises(NotFound):
        await services.communities.create(MAX_ID, "Elsewhere")


async def test_only_the_owner_renames_and_names_stay_unique(services: Services) -> None:
    alice, bob = await users(services, "alice", "bob")
    lounge = await services.communities.create(alice.id, "Lounge")
    await services.communities.create(bob.id, "Other")
    events: list[CommunityEvent] = []
    services.events.subscribe(events.append)
    with pytest.raises(Forbidden):
        await services.communities.update(bob.id, lounge.id, name="Mine")
    with pytest.raises(Conflict):
        await services.communities.update(alice.id, lounge.id, name="Other")
    renamed = await services.communities.update(alice.id, lounge.id, name="Salon")
    assert await services.communities.update(alice.id, lounge.id, name="Salon") == renamed
    assert [type(e) for e in events] == [CommunityUpdated]
    assert await services.communities.get(lounge.id) == renamed
    assert await services.communities.find(" Salon ") == renamed
    with pytest.raises(NotFound):
        await services.communities.get(MAX_ID)


async def test_listings_page_by_id(services: Services) -> None:
    alice, bob = await users(services, "alice", "bob")
    made = [await services.communities.create(alice.id, f"c{i}") for i in range(3)]
    assert await services.communities.listing() == made
    assert await services.communities.listing(after=made[0].id, limit=1) == [made[1]]
    assert await services.communities.listing(after=made[-1].id) == []
    await services.members.join(bob.id, made[1].id)
    assert await services.communities.of_user(bob.id) == [made[1]]
