"""Community membership (community/services/members.py)."""

from __future__ import annotations

import asyncio

import pytest
from community.errors import (
    Conflict,
    Forbidden,
    NotFound,
)
from community.events import (
    ChannelMemberJoined,
    ChannelMemberRemoved,
    CommunityEvent,
    CommunityUpdated,
    MemberRemoved,
    RemovalReason,
)

from community.services import Services
from tests.community.helpers import users


async def test_leave_and_channel_events(services: Services) -> None:
    alice, bob = await users(services, "alice", "bob")
    community = await services.communities.create(alice.id, "Lounge")
    general = (await services.channels.of_community(alice.id, community.id))[0]
    await services.members.join(bob.id, community.id)
    await services.channels.join(bob.id, general.id)
    events: list[CommunityEvent] = []
    unsubscribe = services.events.subscribe(events.append)
    await services.channels.leave(bob.id, general.id)
    await services.channels.join(bob.id, general.id)
    await services.members.leave(bob.id, community.id)
    await services.communities.update(alice.id, community.id, description="new")
    await services.communities.update(alice.id, community.id, description="new")  # no change
    unsubscribe()
    unsubscribe()
    await services.members.join(bob.id, community.id)
    assert [type(e) for e in events] == [
        ChannelMemberRemoved,
        ChannelMemberJoined,
        MemberRemoved,
        CommunityUpdated,
    ]
    left = events[0]
    assert isinstance(left, ChannelMemberRemoved)
    assert (left.channel.id, left.user_id, left.reason) == (general.id, bob.id, RemovalReason.LEFT)
    gone = events[2]
    assert isinstance(gone, MemberRemoved)
    assert (gone.reason, gone.actor_id, gone.channel_ids) == (
        RemovalReason.LEFT,
        bob.id,
        (general.id,),
    )
    updated = events[3]
    assert isinstance(updated, CommunityUpdated)
    assert updated.community.description == "new"


async def test_remove_member_by_the_application_and_its_errors(services: Services) -> None:
    alice, bob, carol = await users(services, "alice", "bob", "carol")
    community = await services.communities.create(alice.id, "Lounge")
    await services.members.join(bob.id, community.id)
    await services.members.join(carol.id, community.id)
    events: list[CommunityEvent] = []
    services.events.subscribe(events.append)
    with pytest.raises(Forbidden):
        await services.members.remove(community.id, carol.id, actor_id=bob.id)
    with pytest.raises(Conflict):
        await services.members.remove(community.id, alice.id)
    await services.members.remove(community.id, carol.id)
    with pytest.raises(NotFound):
        await services.members.remove(community.id, carol.id)
    with pytest.raises(NotFound):
        await services.members.remove(community.id + 1000, bob.id)
    assert len(events) == 1
    assert isinstance(events[0], MemberRemoved)
    assert (events[0].actor_id, events[0].reason) == (None, RemovalReason.REMOVED)


async def test_leaving_while_joining_channels_leaves_no_orphan_membership(
    services: Services,
) -> None:
    alice, bob = await users(services, "alice", "bob")
    community = await services.communities.create(alice.id, "Lounge")
    for name in ("one", "two", "three"):
        await services.channels.create(alice.id, community.id, name)
    channels = await services.channels.of_community(alice.id, community.id)

    async def join_all() -> None:
        for channel in channels:
            try:
                await services.channels.join(bob.id, channel.id)
            except (Forbidden, Conflict):
                pass

    async def leave() -> None:
        try:
            await services.members.leave(bob.id, community.id)
        except Forbidden:
            pass

    for _ in range(15):
        await services.members.join(bob.id, community.id)
        await asyncio.gather(join_all(), leave(), join_all())
        member = await services.members.is_member(bob.id, community.id)
        joined = await services.channels.of_user(bob.id, community.id)
        # A channel membership never outlives the community membership.
        assert member or joined == []
        if member:
            await services.members.leave(bob.id, community.id)
