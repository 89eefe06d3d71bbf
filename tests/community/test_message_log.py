"""Group commit of messages (community/message_log.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from community.db import create_engine, create_sessionmaker
from community.errors import Conflict, Forbidden, NotFound
from community.events import CommunityEvent, MessageCreated
from community.message_log import Membership, MessageLog
from community.models import Message
from community.records import ChannelRecord, PostedMessage, UserRecord
from community.settings import Settings
from sqlalchemy import func, select

from community.services import Services, create_services, utc_now
from tests.community.helpers import PASSWORD


async def _users(services: Services, *names: str) -> list[UserRecord]:
    return [await services.accounts.sign_up(name, PASSWORD) for name in names]


async def _lounge(services: Services) -> tuple[UserRecord, UserRecord, ChannelRecord]:
    alice, bob = await _users(services, "alice", "bob")
    community = await services.communities.create(alice.id, "Lounge")
    channel = (await services.channels.of_user(alice.id))[0]
    await services.members.join(bob.id, community.id)
    await services.channels.join(bob.id, channel.id)
    return alice, bob, channel


async def _stored(settings: Settings) -> int:
    """Rows in the messages table, read on a connection of its own."""
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            return int(await connection.scalar(select(func.count()).select_from(Message)) or 0)
    finally:
        await engine.dispose()


async def test_messages_posted_together_share_one_transaction(services: Services) -> None:
    alice, bob, channel = await _lounge(services)
    before = services.writer.transactions
    results = await asyncio.gather(
        *(
            services.messages.post((alice, bob)[i % 2].id, channel.id, f"m{i}", f"k{i}")
            for i in range(12)
        )
    )
    assert services.writer.transactions == before + 1
    assert all(r.created for r in results)
    ids = [r.message.id for r in results]
    # Stored in the order they were posted; ids still grow with time.
    assert ids == sorted(ids) and len(set(ids)) == 12
    assert [r.message.author_username for r in results] == ["alice", "bob"] * 6
    page = await services.messages.history(alice.id, channel.id)
    assert [m.id for m in reversed(page.messages)] == ids


async def test_each_result_comes_after_its_commit(services: Services) -> None:
    alice, _bob, channel = await _lounge(services)
    seen: list[int] = []

    async def post_then_read(i: int) -> None:
        posted = await services.messages.post(alice.id, channel.id, f"m{i}", f"k{i}")
        # Another connection sees the row as soon as the call returns.
        found = await services.messages.get(alice.id, posted.message.id)
        assert found == posted.message
        seen.append(posted.message.id)

    await asyncio.gather(*(post_then_read(i) for i in range(6)))
    assert len(seen) == 6


async def test_batches_respect_the_size_limit(services: Services) -> None:
    alice, _bob, channel = await _lounge(services)
    small = MessageLog(services.writer, utc_now, max_batch=2)
    results = await asyncio.gather(
        *(small.post(alice.id, channel.id, f"m{i}", None) for i in range(5))
    )
    assert small.batches == 3
    assert [r.message.body for r in results] == [f"m{i}" for i in range(5)]
    with pytest.raises(ValueError):
        MessageLog(services.writer, utc_now, max_batch=0)


async def test_concurrent_duplicates_in_one_batch_store_one_row(
    services: Services, settings: Settings
) -> None:
    alice, bob, channel = await _lounge(services)
    events: list[CommunityEvent] = []
    services.events.subscribe(events.append)
    results = await asyncio.gather(
        *(services.messages.post(alice.id, channel.id, "once", "same") for _ in range(5)),
        # The same key from another author is another message.
        services.messages.post(bob.id, channel.id, "bob's", "same"),
    )
    alice_results = results[:5]
    assert len({r.message.id for r in alice_results}) == 1
    assert [r.created for r in alice_results] == [True, False, False, False, False]
    assert results[5].created and results[5].message.id != alice_results[0].message.id
    assert [type(e) for e in events] == [MessageCreated, MessageCreated]
    assert await _stored(settings) == 2
    # A later retry is answered from the table.
    retry = await services.messages.post(alice.id, channel.id, "once", "same")
    assert retry == PostedMessage(message=alice_results[0].message, created=False)


async def test_a_key_reused_in_another_channel_in_the_same_batch_is_a_conflict(
    services: Services,
) -> None:
    alice, _bob, channel = await _lounge(services)
    other = await services.channels.create(alice.id, channel.community_id, "random")
    first, second = await asyncio.gather(
        services.messages.post(alice.id, channel.id, "here", "key"),
        services.messages.post(alice.id, other.id, "there", "key"),
        return_exceptions=True,
    )
    assert isinstance(first, PostedMessage) and first.created
    assert isinstance(second, Conflict)


async def test_one_refused_post_does_not_fail_the_batch(
    services: Services, settings: Settings
) -> None:
    alice, _bob, channel = await _lounge(services)
    (carol,) = await _users(services, "carol")
    results = await asyncio.gather(
        services.messages.post(alice.id, channel.id, "ok 1"),
        services.messages.post(carol.id, channel.id, "not a member"),
        services.messages.post(alice.id, 999_999, "no such channel"),
        services.messages.post(alice.id, channel.id, "ok 2"),
        return_exceptions=True,
    )
    assert isinstance(results[0], PostedMessage) and isinstance(results[3], PostedMessage)
    assert isinstance(results[1], Forbidden)
    assert isinstance(results[2], NotFound)
    assert await _stored(settings) == 2


async def test_vouched_membership_skips_the_membership_query(services: Services) -> None:
    alice, _bob, channel = await _lounge(services)
    (carol,) = await _users(services, "carol")
    # Without the caller's word carol is refused; with it (the gateway's rooms) she is not
    # asked about: the caller answers for membership.
    with pytest.raises(Forbidden):
        await services.messages.post(carol.id, channel.id, "hi")
    vouched = Membership(community_id=channel.community_id, username="carol")
    posted = await services.messages.post(carol.id, channel.id, "hi", membership=vouched)
    assert posted.created and posted.message.author_username == "carol"
    assert posted.message.community_id == channel.community_id


async def test_concurrent_duplicates_from_two_processes_store_one_row(
    settings: Settings, services: Services
) -> None:
    """Two services on one database (two gateway processes): the unique index decides."""
    alice, _bob, channel = await _lounge(services)
    engine = create_engine(settings.database_url)
    other = create_services(
        create_sessionmaker(engine), secret=settings.secret, token_ttl=settings.token_ttl
    )
    try:
        for round_ in range(5):
            key = f"twice-{round_}"
            results = await asyncio.gather(
                services.messages.post(alice.id, channel.id, "once", key),
                other.messages.post(alice.id, channel.id, "once", key),
                services.messages.post(alice.id, channel.id, "also", f"single-{round_}"),
            )
            assert results[0].message.id == results[1].message.id
            assert results[0].created != results[1].created
            assert results[2].created
        assert await _stored(settings) == 10
    finally:
        await other.close()
        await engine.dispose()
