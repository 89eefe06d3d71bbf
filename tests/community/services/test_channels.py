"""Channels and channel membership (community/services/channels.py)."""

from __future__ import annotations

import pytest
from community.errors import Conflict, Forbidden, InvalidInput, NotFound
from community.events import ChannelCreated, CommunityEvent
from community.inputs import MAX_ID

from community.services import Services
from tests.community.helpers import users


async def test_a_community_s_channels_say_whether_the_asker_joined_each(
    services: Services,
) -> None:
    alice, bob = await users(services, "alice", "bob")
    community = await services.communities.create(alice.id, "Lounge")
    await services.members.join(bob.id, community.id)
    events: list[CommunityEvent] = []
    services.events.subscribe(events.append)
    dev = await services.channels.create(alice.id, community.id, "Dev Talk", "code")
    assert (dev.name, dev.topic, dev.created_by) == ("dev-talk", "code", alice.id)
    assert [type(e) for e in events] == [ChannelCreated]
    seen_by_alice = await services.channels.of_community(alice.id, community.id)
    seen_by_bob = await services.channels.of_community(bob.id, community.id)
    assert [(c.name, c.joined) for c in seen_by_alice] == [("general", True), ("dev-talk", True)]
    assert [(c.name, c.joined) for c in seen_by_bob] == [("general", False), ("dev-talk", False)]
    await services.channels.join(bob.id, dev.id)
    assert [c.joined for c in await services.channels.of_community(bob.id, community.id)] == [
        False,
        True,
    ]
    assert [c.id for c in await services.channels.of_user(bob.id)] == [dev.id]


async def test_joining_checks_community_membership_and_the_named_community(
    services: Services,
) -> None:
    alice, bob = await users(services, "alice", "bob")
    lounge = await services.communities.create(alice.id, "Lounge")
    other = await services.communities.create(bob.id, "Other")
    general = (await services.channels.of_user(alice.id, lounge.id))[0]
    with pytest.raises(Forbidden):
        await services.channels.join(bob.id, general.id)
    with pytest.raises(Forbidden):
        await services.channels.get(bob.id, general.id)
    await services.members.join(bob.id, lounge.id)
    with pytest.raises(InvalidInput):
        await services.channels.join(bob.id, general.id, community_id=other.id)
    assert (await services.channels.join(bob.id, general.id, community_id=lounge.id)) == general
    with pytest.raises(Conflict):
        await services.channels.join(bob.id, general.id)
    with pytest.raises(NotFound):
        await services.channels.join(bob.id, MAX_ID)
    await services.channels.leave(bob.id, general.id)
    with pytest.raises(Forbidden):
        await services.channels.leave(bob.id, general.id)
    with pytest.raises(Conflict):
        await services.channels.create(bob.id, lounge.id, "General")
