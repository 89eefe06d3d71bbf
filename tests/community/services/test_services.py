"""The services together (community/services/__init__.py): the events they publish after
commit, and what REST sees of them."""

from __future__ import annotations

import logging

import httpx
import pytest
from community.errors import (
    Forbidden,
    NotFound,
)
from community.events import (
    ChannelCreated,
    ChannelMemberJoined,
    CommunityCreated,
    CommunityEvent,
    MemberJoined,
    MemberRemoved,
    MessageCreated,
    RemovalReason,
)
from community.records import to_json

from community.services import Services
from tests.community.helpers import PASSWORD, users


async def test_events_are_published_after_commit(services: Services) -> None:
    alice, bob = await users(services, "alice", "bob")
    observed: list[tuple[CommunityEvent, bool, bool]] = []

    async def subscriber(event: CommunityEvent) -> None:
        # The change is visible to a new transaction when the event arrives.
        if isinstance(event, MemberRemoved | MemberJoined):
            user_id = event.user_id if isinstance(event, MemberRemoved) else event.member.user_id
            community_id = (
                event.community_id
                if isinstance(event, MemberRemoved)
                else event.member.community_id
            )
            member = await services.members.is_member(user_id, community_id)
            observed.append((event, member, True))
        else:
            observed.append((event, False, False))

    services.events.subscribe(subscriber)
    community = await services.communities.create(alice.id, "Lounge")
    await services.members.join(bob.id, community.id)
    channels = await services.channels.of_community(bob.id, community.id)
    await services.channels.join(bob.id, channels[0].id)
    extra = await services.channels.create(bob.id, community.id, "extra")
    await services.members.remove(community.id, bob.id, actor_id=alice.id)

    kinds = [type(event) for event, _, _ in observed]
    assert kinds == [
        CommunityCreated,
        ChannelCreated,
        MemberJoined,
        ChannelMemberJoined,
        ChannelCreated,
        MemberRemoved,
    ]
    joined_event, member_after_join, _ = observed[2]
    assert member_after_join is True
    removed, member_after_removal, _ = observed[-1]
    assert member_after_removal is False
    assert isinstance(removed, MemberRemoved)
    assert removed.community_id == community.id
    assert removed.user_id == bob.id
    assert removed.reason is RemovalReason.REMOVED
    assert removed.actor_id == alice.id
    assert removed.channel_ids == (channels[0].id, extra.id)
    assert not await services.channels.is_member(bob.id, extra.id)


async def test_subscriber_failures_are_contained(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    (alice,) = await users(services, "alice")
    received: list[CommunityEvent] = []

    def broken(event: CommunityEvent) -> None:
        raise RuntimeError("boom")

    async def broken_async(event: CommunityEvent) -> None:
        raise ValueError("async boom")

    services.events.subscribe(broken)
    services.events.subscribe(broken_async)
    services.events.subscribe(received.append)
    assert services.events.subscriber_count == 3
    with caplog.at_level(logging.ERROR, logger="community.events"):
        community = await services.communities.create(alice.id, "Lounge")
    assert [type(e) for e in received] == [CommunityCreated, ChannelCreated]
    assert await services.communities.get(community.id) == community
    assert sum("event subscriber" in r.getMessage() for r in caplog.records) == 4


async def test_rest_calls_publish_the_same_events_as_the_service(
    services: Services, client: httpx.AsyncClient
) -> None:
    events: list[CommunityEvent] = []
    services.events.subscribe(events.append)
    signed = await client.post("/api/auth/signup", json={"username": "alice", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {signed.json()['access_token']}"}
    community = (await client.post("/api/communities", json={"name": "L"}, headers=headers)).json()
    channel = (
        await client.get(f"/api/communities/{community['id']}/channels", headers=headers)
    ).json()[0]
    posted = await client.post(
        f"/api/channels/{channel['id']}/messages", json={"body": "hi"}, headers=headers
    )
    assert [type(e) for e in events] == [CommunityCreated, ChannelCreated, MessageCreated]
    created = events[-1]
    assert isinstance(created, MessageCreated)
    assert created.message.id == posted.json()["id"]
    # Events convert to JSON for the gateway to emit.
    data = to_json(created)
    assert isinstance(data, dict) and isinstance(data["message"], dict)
    assert data["message"]["body"] == "hi"


async def test_lookups_and_listing(services: Services) -> None:
    alice, bob = await users(services, "alice", "bob")
    assert await services.accounts.find("ALICE") == alice
    assert await services.accounts.find("nobody") is None
    assert await services.accounts.find("not valid!") is None
    assert await services.accounts.get(bob.id) == bob
    with pytest.raises(NotFound):
        await services.accounts.get(999)
    lounge = await services.communities.create(alice.id, "Lounge")
    other = await services.communities.create(bob.id, "Other")
    assert await services.communities.find("Lounge") == lounge
    assert await services.communities.find("lounge") is None
    assert await services.communities.find("a\x00b") is None
    assert await services.communities.listing() == [lounge, other]
    assert await services.communities.listing(after=lounge.id) == [other]
    assert await services.communities.listing(limit=1) == [lounge]
    assert await services.communities.of_user(bob.id) == [other]
    assert await services.channels.of_user(bob.id, lounge.id) == []
    with pytest.raises(Forbidden):
        await services.channels.of_community(bob.id, lounge.id)
    with pytest.raises(Forbidden):
        await services.members.listing(bob.id, lounge.id)
