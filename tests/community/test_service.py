"""The service layer the socket gateway calls (community/service.py, community/events.py)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from community.errors import (
    AuthenticationFailed,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TokenExpired,
)
from community.events import (
    ChannelCreated,
    ChannelMemberJoined,
    ChannelMemberRemoved,
    CommunityCreated,
    CommunityEvent,
    CommunityUpdated,
    MemberJoined,
    MemberRemoved,
    MessageCreated,
    MessageDeleted,
    MessageEdited,
    RemovalReason,
)
from community.records import UserRecord, to_json
from community.security import encode_token
from community.service import MAX_ID, CommunityService

from tests.community.helpers import PASSWORD, TEST_SECRET


async def _users(service: CommunityService, *names: str) -> list[UserRecord]:
    return [await service.sign_up(name, PASSWORD) for name in names]


async def test_authenticate_token_round_trip_and_failures(service: CommunityService) -> None:
    (alice,) = await _users(service, "alice")
    issued = service.issue_token(alice.id)
    assert await service.authenticate_token(issued.token) == alice
    assert issued.expires_at > datetime.now(UTC)
    for bad in (None, 42, b"bytes", "", "a.b.c", "x" * 5000, {"token": issued.token}):
        with pytest.raises(AuthenticationFailed):
            await service.authenticate_token(bad)
    old = encode_token(
        TEST_SECRET, alice.id, now=datetime.now(UTC) - timedelta(days=2), ttl=timedelta(days=1)
    )
    with pytest.raises(TokenExpired):
        await service.authenticate_token(old)


async def test_events_are_published_after_commit(service: CommunityService) -> None:
    alice, bob = await _users(service, "alice", "bob")
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
            member = await service.is_community_member(user_id, community_id)
            observed.append((event, member, True))
        else:
            observed.append((event, False, False))

    service.events.subscribe(subscriber)
    community = await service.create_community(alice.id, "Lounge")
    await service.join_community(bob.id, community.id)
    channels = await service.list_community_channels(bob.id, community.id)
    await service.join_channel(bob.id, channels[0].id)
    extra = await service.create_channel(bob.id, community.id, "extra")
    await service.remove_member(community.id, bob.id, actor_id=alice.id)

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
    assert not await service.is_channel_member(bob.id, extra.id)


async def test_leave_and_channel_events(service: CommunityService) -> None:
    alice, bob = await _users(service, "alice", "bob")
    community = await service.create_community(alice.id, "Lounge")
    general = (await service.list_community_channels(alice.id, community.id))[0]
    await service.join_community(bob.id, community.id)
    await service.join_channel(bob.id, general.id)
    events: list[CommunityEvent] = []
    unsubscribe = service.events.subscribe(events.append)
    await service.leave_channel(bob.id, general.id)
    await service.join_channel(bob.id, general.id)
    await service.leave_community(bob.id, community.id)
    await service.update_community(alice.id, community.id, description="new")
    await service.update_community(alice.id, community.id, description="new")  # no change
    unsubscribe()
    unsubscribe()
    await service.join_community(bob.id, community.id)
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


async def test_remove_member_by_the_application_and_its_errors(service: CommunityService) -> None:
    alice, bob, carol = await _users(service, "alice", "bob", "carol")
    community = await service.create_community(alice.id, "Lounge")
    await service.join_community(bob.id, community.id)
    await service.join_community(carol.id, community.id)
    events: list[CommunityEvent] = []
    service.events.subscribe(events.append)
    with pytest.raises(Forbidden):
        await service.remove_member(community.id, carol.id, actor_id=bob.id)
    with pytest.raises(Conflict):
        await service.remove_member(community.id, alice.id)
    await service.remove_member(community.id, carol.id)
    with pytest.raises(NotFound):
        await service.remove_member(community.id, carol.id)
    with pytest.raises(NotFound):
        await service.remove_member(community.id + 1000, bob.id)
    assert len(events) == 1
    assert isinstance(events[0], MemberRemoved)
    assert (events[0].actor_id, events[0].reason) == (None, RemovalReason.REMOVED)


async def test_message_events_and_idempotent_create(service: CommunityService) -> None:
    (alice,) = await _users(service, "alice")
    community = await service.create_community(alice.id, "Lounge")
    channel = (await service.list_user_channels(alice.id, community.id))[0]
    events: list[CommunityEvent] = []
    service.events.subscribe(events.append)
    first = await service.create_message(alice.id, channel.id, "hi", "k1")
    again = await service.create_message(alice.id, channel.id, "hi", "k1")
    assert first.created and not again.created
    assert again.message == first.message
    assert first.message.community_id == community.id
    assert first.message.created_at.tzinfo is not None
    edited = await service.edit_message(alice.id, first.message.id, "hello")
    deleted = await service.delete_message(alice.id, first.message.id)
    assert deleted.deleted and deleted.body == ""
    assert [type(e) for e in events] == [MessageCreated, MessageEdited, MessageDeleted]
    assert isinstance(events[1], MessageEdited)
    assert events[1].message == edited
    assert isinstance(events[2], MessageDeleted)
    assert (events[2].message_id, events[2].channel_id, events[2].community_id) == (
        first.message.id,
        channel.id,
        community.id,
    )


async def test_concurrent_retries_store_one_message(service: CommunityService) -> None:
    (alice,) = await _users(service, "alice")
    community = await service.create_community(alice.id, "Lounge")
    channel = (await service.list_user_channels(alice.id))[0]
    created: list[CommunityEvent] = []
    service.events.subscribe(created.append)
    results = await asyncio.gather(
        *(service.create_message(alice.id, channel.id, "once", "same-key") for _ in range(8))
    )
    assert len({r.message.id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert len(created) == 1
    page = await service.message_history(alice.id, channel.id)
    assert [m.body for m in page.messages] == ["once"]
    assert community.id == page.messages[0].community_id


async def test_retry_is_answered_even_after_leaving_the_channel(service: CommunityService) -> None:
    alice, bob = await _users(service, "alice", "bob")
    community = await service.create_community(alice.id, "Lounge")
    channel = (await service.list_user_channels(alice.id))[0]
    await service.join_community(bob.id, community.id)
    await service.join_channel(bob.id, channel.id)
    first = await service.create_message(bob.id, channel.id, "hi", "k")
    await service.leave_channel(bob.id, channel.id)
    retry = await service.create_message(bob.id, channel.id, "hi", "k")
    assert retry.message.id == first.message.id and not retry.created
    with pytest.raises(Forbidden):
        await service.create_message(bob.id, channel.id, "hi", "k2")
    with pytest.raises(Forbidden):
        await service.edit_message(bob.id, first.message.id, "edit")
    # Deleting one's own message stays possible.
    await service.delete_message(bob.id, first.message.id)


async def test_untrusted_argument_types_raise_invalid_input(service: CommunityService) -> None:
    (alice,) = await _users(service, "alice")
    community = await service.create_community(alice.id, "Lounge")
    channel = (await service.list_user_channels(alice.id))[0]
    for bad_id in ("1", 1.0, None, True, [1], {"id": 1}):
        with pytest.raises(InvalidInput):
            await service.create_message(alice.id, bad_id, "x")
        with pytest.raises(InvalidInput):
            await service.is_channel_member(alice.id, bad_id)
        with pytest.raises(InvalidInput):
            await service.join_channel(bad_id, channel.id)
    for bad_body in (None, 1, b"x", ["x"], "", "   ", "\x00", "\ud800", "x" * 4001):
        with pytest.raises(InvalidInput):
            await service.create_message(alice.id, channel.id, bad_body)
    for bad_key in (1, b"k", "", "k" * 65, "a\nb"):
        with pytest.raises(InvalidInput):
            await service.create_message(alice.id, channel.id, "x", bad_key)
    for bad_limit in (0, 101, "5", True, 2.0):
        with pytest.raises(InvalidInput):
            await service.message_history(alice.id, channel.id, limit=bad_limit)
    with pytest.raises(InvalidInput):
        await service.message_history(alice.id, channel.id, before="3")
    # Ids that are integers but cannot exist are unknown, not errors.
    for missing in (0, -1, MAX_ID + 1, 10**40):
        assert await service.is_channel_member(alice.id, missing) is False
        assert await service.is_community_member(alice.id, missing) is False
        with pytest.raises(NotFound):
            await service.create_message(alice.id, missing, "x")
    assert await service.is_community_member(alice.id, community.id) is True
    assert await service.is_channel_member(alice.id, channel.id) is True


async def test_subscriber_failures_are_contained(
    service: CommunityService, caplog: pytest.LogCaptureFixture
) -> None:
    (alice,) = await _users(service, "alice")
    received: list[CommunityEvent] = []

    def broken(event: CommunityEvent) -> None:
        raise RuntimeError("boom")

    async def broken_async(event: CommunityEvent) -> None:
        raise ValueError("async boom")

    service.events.subscribe(broken)
    service.events.subscribe(broken_async)
    service.events.subscribe(received.append)
    assert service.events.subscriber_count == 3
    with caplog.at_level(logging.ERROR, logger="community.events"):
        community = await service.create_community(alice.id, "Lounge")
    assert [type(e) for e in received] == [CommunityCreated, ChannelCreated]
    assert await service.get_community(community.id) == community
    assert sum("event subscriber" in r.getMessage() for r in caplog.records) == 4


async def test_lookups_and_listing(service: CommunityService) -> None:
    alice, bob = await _users(service, "alice", "bob")
    assert await service.find_user("ALICE") == alice
    assert await service.find_user("nobody") is None
    assert await service.find_user("not valid!") is None
    assert await service.get_user(bob.id) == bob
    with pytest.raises(NotFound):
        await service.get_user(999)
    lounge = await service.create_community(alice.id, "Lounge")
    other = await service.create_community(bob.id, "Other")
    assert await service.find_community("Lounge") == lounge
    assert await service.find_community("lounge") is None
    assert await service.find_community("a\x00b") is None
    assert await service.list_communities() == [lounge, other]
    assert await service.list_communities(after=lounge.id) == [other]
    assert await service.list_communities(limit=1) == [lounge]
    assert await service.list_user_communities(bob.id) == [other]
    assert await service.list_user_channels(bob.id, lounge.id) == []
    with pytest.raises(Forbidden):
        await service.list_community_channels(bob.id, lounge.id)
    with pytest.raises(Forbidden):
        await service.list_members(bob.id, lounge.id)


async def test_records_convert_to_json(service: CommunityService) -> None:
    (alice,) = await _users(service, "alice")
    community = await service.create_community(alice.id, "Lounge")
    channel = (await service.list_user_channels(alice.id))[0]
    posted = await service.create_message(alice.id, channel.id, "hi")
    data = to_json(posted)
    assert isinstance(data, dict)
    message = data["message"]
    assert isinstance(message, dict)
    assert message["body"] == "hi"
    assert message["community_id"] == community.id
    assert message["created_at"] == posted.message.created_at.isoformat()
    members = to_json(await service.list_members(alice.id, community.id))
    assert isinstance(members, list) and isinstance(members[0], dict)
    assert members[0]["role"] == "owner"
    with pytest.raises(TypeError):
        to_json(object())


async def test_rest_calls_publish_the_same_events_as_the_service(
    service: CommunityService, client: httpx.AsyncClient
) -> None:
    events: list[CommunityEvent] = []
    service.events.subscribe(events.append)
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


def test_event_records_convert_to_json() -> None:
    removed = MemberRemoved(
        community_id=1, user_id=2, reason=RemovalReason.LEFT, channel_ids=(3, 4), actor_id=2
    )
    assert to_json(removed) == {
        "community_id": 1,
        "user_id": 2,
        "reason": "left",
        "channel_ids": [3, 4],
        "actor_id": 2,
    }


async def test_leaving_while_joining_channels_leaves_no_orphan_membership(
    service: CommunityService,
) -> None:
    alice, bob = await _users(service, "alice", "bob")
    community = await service.create_community(alice.id, "Lounge")
    for name in ("one", "two", "three"):
        await service.create_channel(alice.id, community.id, name)
    channels = await service.list_community_channels(alice.id, community.id)

    async def join_all() -> None:
        for channel in channels:
            try:
                await service.join_channel(bob.id, channel.id)
            except (Forbidden, Conflict):
                pass

    async def leave() -> None:
        try:
            await service.leave_community(bob.id, community.id)
        except Forbidden:
            pass

    for _ in range(15):
        await service.join_community(bob.id, community.id)
        await asyncio.gather(join_all(), leave(), join_all())
        member = await service.is_community_member(bob.id, community.id)
        joined = await service.list_user_channels(bob.id, community.id)
        # A channel membership never outlives the community membership.
        assert member or joined == []
        if member:
            await service.leave_community(bob.id, community.id)
