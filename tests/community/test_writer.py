"""Group commit of the frequent writes (community/writer.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from community.db import create_engine, create_writer_engine
from community.errors import Conflict, Forbidden, NotFound
from community.models import ChannelMember
from community.records import ChannelRecord, UserRecord
from community.settings import Settings
from community.writer import Writer
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from community.services import Services
from tests.community.helpers import PASSWORD


async def _lounge(services: Services) -> tuple[UserRecord, UserRecord, ChannelRecord]:
    alice = await services.accounts.sign_up("alice", PASSWORD)
    bob = await services.accounts.sign_up("bob", PASSWORD)
    community = await services.communities.create(alice.id, "Lounge")
    channel = (await services.channels.of_user(alice.id))[0]
    await services.members.join(bob.id, community.id)
    return alice, bob, channel


async def test_edits_and_joins_arriving_together_share_one_transaction(
    services: Services,
) -> None:
    alice, bob, channel = await _lounge(services)
    extra = [
        await services.channels.create(alice.id, channel.community_id, f"c{i}") for i in range(3)
    ]
    posted = [await services.messages.post(alice.id, channel.id, f"m{i}") for i in range(3)]
    before = services.writer.transactions
    results = await asyncio.gather(
        *(
            services.messages.edit(alice.id, p.message.id, f"edited {i}")
            for i, p in enumerate(posted)
        ),
        *(services.channels.join(bob.id, c.id, community_id=channel.community_id) for c in extra),
    )
    assert services.writer.transactions == before + 1
    assert [r.body for r in results[:3]] == ["edited 0", "edited 1", "edited 2"]  # type: ignore[union-attr]
    assert [r.id for r in results[3:]] == [c.id for c in extra]
    assert {c.id for c in await services.channels.of_user(bob.id)} == {c.id for c in extra}


async def test_an_edit_reads_back_as_it_was_answered(services: Services) -> None:
    alice, _bob, channel = await _lounge(services)
    posted = await services.messages.post(alice.id, channel.id, "before", "key")
    edited = await services.messages.edit(alice.id, posted.message.id, "after")
    assert edited.created_at == posted.message.created_at
    assert edited.edited_at is not None and edited.edited_at.tzinfo is not None
    assert edited.client_id == "key" and edited.author_username == "alice"
    assert await services.messages.get(alice.id, posted.message.id) == edited
    await services.messages.delete(alice.id, posted.message.id)
    with pytest.raises(NotFound):
        await services.messages.edit(alice.id, posted.message.id, "again")


async def test_a_refused_work_does_not_fail_the_others(services: Services) -> None:
    alice, bob, channel = await _lounge(services)
    posted = await services.messages.post(alice.id, channel.id, "hi")
    other = await services.channels.create(alice.id, channel.community_id, "random")
    before = services.writer.transactions
    results = await asyncio.gather(
        services.messages.edit(bob.id, posted.message.id, "not mine"),
        services.channels.join(bob.id, channel.id),
        services.channels.join(bob.id, channel.id),  # the same join twice: the second conflicts
        services.messages.edit(alice.id, 999_999, "no such message"),
        services.channels.join(bob.id, other.id, community_id=channel.community_id + 1),
        return_exceptions=True,
    )
    assert services.writer.transactions == before + 1
    assert isinstance(results[0], Forbidden)
    assert isinstance(results[1], ChannelRecord)
    assert isinstance(results[2], Conflict)
    assert isinstance(results[3], NotFound)
    assert results[4].__class__.__name__ == "InvalidInput"
    assert [c.id for c in await services.channels.of_user(bob.id)] == [channel.id]


async def test_a_failing_statement_is_retried_alone_and_the_others_commit(
    settings: Settings, services: Services
) -> None:
    alice, bob, channel = await _lounge(services)
    engine = create_engine(settings.database_url)
    writer = Writer(engine, create_writer_engine(settings.database_url))
    now = datetime.now(UTC)

    def join(user_id: int, channel_id: int) -> Callable[[Connection], int]:
        def work(connection: Connection) -> int:
            connection.execute(
                insert(ChannelMember).values(channel_id=channel_id, user_id=user_id, joined_at=now)
            )
            return user_id

        return work

    try:
        other = await services.channels.create(alice.id, channel.community_id, "random")
        results = await asyncio.gather(
            writer.run(join(bob.id, channel.id)),
            writer.run(join(bob.id, 999_999)),  # no such channel: a foreign key violation
            writer.run(join(bob.id, other.id)),
            return_exceptions=True,
        )
        assert results[0] == bob.id and results[2] == bob.id
        assert isinstance(results[1], IntegrityError)
        # The failed batch was rolled back, then each work ran alone: two commits.
        assert writer.transactions == 2
        async with engine.connect() as connection:
            count = await connection.scalar(
                select(func.count())
                .select_from(ChannelMember)
                .where(ChannelMember.user_id == bob.id)
            )
        assert count == 2
    finally:
        await writer.close()
        await engine.dispose()
    with pytest.raises(RuntimeError):
        await writer.run(join(bob.id, channel.id))
    with pytest.raises(ValueError):
        Writer(engine, max_batch=0)
