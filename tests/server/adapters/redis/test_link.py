"""plexio.server.adapters.redis.link: subscriptions given up and taken again on one link
(a namespace dropped and made again at once), on a real redis-server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from plexio.server.adapters.redis.link import RedisLink
from tests.helpers.redis import RedisProcess, running_redis
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]


@pytest.fixture
async def redis_server() -> AsyncIterator[RedisProcess]:
    async with running_redis() as server:
        yield server


async def _subscribers(url: str, channel: str) -> int:
    client = aioredis.Redis.from_url(url)
    try:
        [(_name, count)] = await client.pubsub_numsub(channel)
        return int(count)
    finally:
        await client.aclose()


async def test_a_channel_given_up_and_taken_again_is_subscribed_again(
    redis_server: RedisProcess,
) -> None:
    link = RedisLink(redis_server.url)
    await link.acquire()
    publisher = aioredis.Redis.from_url(redis_server.url)
    old: list[bytes] = []
    new: list[bytes] = []
    try:
        await link.subscribe("ch", lambda _c, data: old.append(data))
        await link.psubscribe("pat*", lambda _c, data: old.append(data))
        await link.unsubscribe("ch")
        await link.punsubscribe("pat*")
        assert await _subscribers(redis_server.url, "ch") == 0
        await link.subscribe("ch", lambda _c, data: new.append(data))
        await link.psubscribe("pat*", lambda _c, data: new.append(data))
        assert await _subscribers(redis_server.url, "ch") == 1
        await publisher.publish("ch", b"1")
        await publisher.publish("pattern", b"2")
        await eventually(lambda: new == [b"1", b"2"])
        assert old == []
    finally:
        await publisher.aclose()
        await link.release()


async def test_a_late_unsubscribe_of_the_old_handler_keeps_the_new_one(
    redis_server: RedisProcess,
) -> None:
    link = RedisLink(redis_server.url)
    await link.acquire()
    publisher = aioredis.Redis.from_url(redis_server.url)
    got: list[bytes] = []

    def first(_channel: str, data: bytes) -> None:
        got.append(b"first:" + data)

    def second(_channel: str, data: bytes) -> None:
        got.append(b"second:" + data)

    try:
        await link.subscribe("ch", first)
        # the old owner's unsubscribe runs while the new owner subscribes
        await asyncio.gather(link.unsubscribe("ch", first), link.subscribe("ch", second))
        # and an unsubscribe naming the old handler after that changes nothing
        await link.unsubscribe("ch", first)
        assert await _subscribers(redis_server.url, "ch") == 1
        await publisher.publish("ch", b"x")
        await eventually(lambda: got == [b"second:x"])
    finally:
        await publisher.aclose()
        await link.release()


async def test_subscriptions_made_while_the_reader_connects_are_all_confirmed(
    redis_server: RedisProcess,
) -> None:
    # Many namespaces made at once on a fresh node: their subscriptions arrive while the
    # reader opens its connection and sends the first SUBSCRIBE. Each is sent and
    # confirmed; none is waited for without having been sent (which cost an outage).
    link = RedisLink(redis_server.url)
    await link.acquire()

    async def subscribe_after(turns: int, channel: str) -> None:
        for _ in range(turns):
            await asyncio.sleep(0)
        await link.subscribe(channel, lambda _c, _d: None)

    channels = [f"ch{i}" for i in range(60)]
    try:
        await asyncio.gather(*(subscribe_after(i, c) for i, c in enumerate(channels)))
        assert link.outages == 0
        for channel in channels:
            assert await _subscribers(redis_server.url, channel) == 1, channel
    finally:
        await link.release()
