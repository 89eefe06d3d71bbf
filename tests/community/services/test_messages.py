"""Messages and history (community/services/messages.py)."""

from __future__ import annotations

import asyncio

import pytest
from community.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
)
from community.events import (
    CommunityEvent,
    MessageCreated,
    MessageDeleted,
    MessageEdited,
)
from community.inputs import MAX_ID

from community.services import Services
from tests.community.helpers import users


async def test_message_events_and_idempotent_create(services: Services) -> None:
    (alice,) = await users(services, "alice")
    community = await services.communities.create(alice.id, "Lounge")
    channel = (await services.channels.of_user(alice.id, community.id))[0]
    events: list[CommunityEvent] = []
    services.events.subscribe(events.append)
    first = await services.messages.post(alice.id, channel.id, "hi", "k1")
    again = await services.messages.post(alice.id, channel.id, "hi", "k1")
    assert first.created and not again.created
    assert again.message == first.message
    assert first.message.community_id == community.id
    assert first.message.created_at.tzinfo is not None
    edited = await services.messages.edit(alice.id, first.message.id, "hello")
    deleted = await services.messages.delete(alice.id, first.message.id)
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


async def test_concurrent_retries_store_one_message(services: Services) -> None:
    (alice,) = await users(services, "alice")
    community = await services.communities.create(alice.id, "Lounge")
    channel = (await services.channels.of_user(alice.id))[0]
    created: list[CommunityEvent] = []
    services.events.subscribe(created.append)
    results = await asyncio.gather(
        *(services.messages.post(alice.id, channel.id, "once", "same-key") for _ in range(8))
    )
    assert len({r.message.id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert len(created) == 1
    page = await services.messages.history(alice.id, channel.id)
    assert [m.body for m in page.messages] == ["once"]
    assert community.id == page.messages[0].community_id


async def test_retry_is_answered_even_after_leaving_the_channel(services: Services) -> None:
    alice, bob = await users(services, "alice", "bob")
    community = await services.communities.create(alice.id, "Lounge")
    channel = (await services.channels.of_user(alice.id))[0]
    await services.members.join(bob.id, community.id)
    await services.channels.join(bob.id, channel.id)
    first = await services.messages.post(bob.id, channel.id, "hi", "k")
    await services.channels.leave(bob.id, channel.id)
    retry = await services.messages.post(bob.id, channel.id, "hi", "k")
    assert retry.message.id == first.message.id and not retry.created
    with pytest.raises(Forbidden):
        await services.messages.post(bob.id, channel.id, "hi", "k2")
    with pytest.raises(Forbidden):
        await services.messages.edit(bob.id, first.message.id, "edit")
    # Deleting one's own message stays possible.
    await services.messages.delete(bob.id, first.message.id)


async def test_values_under_the_limits_are_checked_by_the_services(services: Services) -> None:
    # Types and id ranges are the boundaries' (tests/community/test_inputs.py and
    # tests/community/gateway/test_boundaries.py); what depends on the limits is checked here.
    (alice,) = await users(services, "alice")
    community = await services.communities.create(alice.id, "Lounge")
    channel = (await services.channels.of_user(alice.id))[0]
    for bad_body in ("", "   ", "\x00", "\ud800", "x" * 4001):
        with pytest.raises(InvalidInput):
            await services.messages.post(alice.id, channel.id, bad_body)
    for bad_key in ("", "k" * 65, "a\nb"):
        with pytest.raises(InvalidInput):
            await services.messages.post(alice.id, channel.id, "x", bad_key)
    with pytest.raises(InvalidInput):
        await services.messages.history(alice.id, channel.id, limit=101)
    # Ids that no row has are unknown.
    assert await services.channels.is_member(alice.id, MAX_ID) is False
    assert await services.members.is_member(alice.id, MAX_ID) is False
    with pytest.raises(NotFound):
        await services.messages.post(alice.id, MAX_ID, "x")
    assert await services.members.is_member(alice.id, community.id) is True
    assert await services.channels.is_member(alice.id, channel.id) is True
