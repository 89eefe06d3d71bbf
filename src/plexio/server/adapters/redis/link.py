"""One process's connections to Redis, shared by the namespace adapters of a server.

A :class:`RedisLink` (classic pub/sub) or :class:`ShardedRedisLink` (Redis Cluster,
``SPUBLISH``/``SSUBSCRIBE``) owns:

* the subscriptions: channel (and pattern) → handler, read by one task per
  subscriber connection; after any error the task reconnects with a growing delay
  and subscribes again to everything it had, by itself;
* the outgoing backlog: publishes are queued (bounded) and sent in order by one
  task, several per round trip; :meth:`publish` never waits, :meth:`publish_wait`
  waits for Redis and raises :class:`~plexio.exceptions.ClusterError`.

While Redis is unreachable nothing is queued: each message is dropped at once and
counted by kind (:attr:`lost`), the outage is logged once when it starts and once
when it ends, with what was lost in between; the server's own clients are served as
usual. The backlog, the lost counters and the subscriptions are all bounded by what
the application holds, never by the length of an outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from enum import Enum
from typing import Final, TypedDict, Unpack

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from plexio.exceptions import ClusterError
from plexio.typing import JSONValue

__all__ = ["Kind", "MessageHandler", "PubSubLink", "RedisLink", "ShardedRedisLink"]

logger = logging.getLogger(__name__)

#: ``handler(channel, payload)`` for one subscription.
MessageHandler = Callable[[str, bytes], None]

_BATCH: Final = 256  # publishes per round trip
_SUB_CONFIRM_TIMEOUT: Final = 5.0


class Kind(Enum):
    """What a published message was, for the loss accounting."""

    BROADCAST = "broadcast"
    REQUEST = "request"
    RESPONSE = "response"


class _Reader:
    """One subscriber connection and the channels it holds."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.channels: dict[str, MessageHandler] = {}
        self.patterns: dict[str, MessageHandler] = {}
        self.pubsub: PubSub | None = None  # the live one, or None while (re)connecting
        self.task: asyncio.Task[None] | None = None
        self.wake = asyncio.Event()  # a first subscription arrived
        self.idle = False  # waiting for a first subscription
        self.confirm: dict[str, asyncio.Future[None]] = {}
        self.confirmed: set[str] = set()  # on the current connection
        self.first_attempt = asyncio.Event()  # a connection attempt ended
        self.reconnect = False


class PubSubLink:
    """Subscriptions, backlog, reconnection and loss accounting common to both links.

    Args:
        where: how logs name the Redis deployment.
        max_backlog: most messages waiting to be published; beyond, new ones are
            dropped and counted in :attr:`lost`.
        reconnect_delay: first and longest wait between reconnection attempts (s).
        command_timeout: seconds a Redis command may take before Redis counts as
            unreachable (a hung server).
    """

    _subscribe_cmd = "subscribe"
    _unsubscribe_cmd = "unsubscribe"
    _message_type = "message"
    _confirm_type = "subscribe"

    def __init__(
        self,
        where: str,
        *,
        max_backlog: int = 10_000,
        reconnect_delay: tuple[float, float] = (0.1, 2.0),
        command_timeout: float = 5.0,
    ) -> None:
        if max_backlog < 1:
            raise ValueError("max_backlog must be >= 1")
        if not command_timeout > 0:
            raise ValueError("command_timeout must be > 0")
        self.where = where
        self.max_backlog = max_backlog
        self.command_timeout = command_timeout
        self.reconnect_delay = reconnect_delay
        #: messages dropped by kind since this link started
        self.lost: dict[Kind, int] = dict.fromkeys(Kind, 0)
        #: how many outages started
        self.outages = 0
        self._outage_lost: dict[Kind, int] = dict.fromkeys(Kind, 0)
        self._down_since: float | None = None
        self._down_reason = ""
        self._backlog: deque[tuple[str, bytes, Kind, asyncio.Future[None] | None]] = deque()
        self._backlog_full_logged = False
        self._wake_publisher = asyncio.Event()
        self._readers: dict[str, _Reader] = {}
        self._users = 0
        self._started = False
        self._closing = False
        self._publisher: asyncio.Task[None] | None = None
        self._start_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    # ----------------------------------------------------------- lifecycle

    @property
    def backlog(self) -> int:
        """Messages waiting to be published."""
        return len(self._backlog)

    @property
    def up(self) -> bool:
        """Whether Redis is reachable as far as this link knows."""
        return self._down_since is None

    async def acquire(self) -> None:
        """Takes a share of the link (each adapter does), connecting on the first."""
        async with self._start_lock:
            self._users += 1
            if self._started:
                return
            self._closing = False
            await self._open()
            self._started = True
            self._publisher = asyncio.get_running_loop().create_task(
                self._publish_loop(), name="plexio-redis-publisher"
            )

    async def release(self) -> None:
        """Gives the share back; the last one closes every connection."""
        async with self._start_lock:
            self._users -= 1
            if self._users > 0 or not self._started:
                return
            self._started = False
            self._closing = True
            tasks = [r.task for r in self._readers.values() if r.task is not None]
            if self._publisher is not None:
                tasks.append(self._publisher)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for reader in self._readers.values():
                await self._close_pubsub(reader)
            self._readers.clear()
            self._publisher = None
            for *_, future in self._backlog:
                if future is not None and not future.done():
                    future.set_exception(ClusterError("the Redis link was closed"))
            self._backlog.clear()
            await self._close()

    # ----------------------------------------------------------- subscriptions

    async def subscribe(self, channel: str, handler: MessageHandler) -> None:
        """Subscribes to a channel; returns once Redis confirmed it (or is unreachable)."""
        reader = self._reader_for(channel)
        reader.channels[channel] = handler
        await self._send_subscription(reader, self._subscribe_cmd, channel)

    async def psubscribe(self, pattern: str, handler: MessageHandler) -> None:
        """Subscribes to a pattern (classic pub/sub only)."""
        raise NotImplementedError

    async def unsubscribe(self, channel: str, handler: MessageHandler | None = None) -> None:
        """Drops a channel subscription (only if ``handler``, when given, still holds it:
        a namespace dropped and made again at once must keep the new one's)."""
        reader = self._readers.get(self._reader_name(channel))
        if reader is None or channel not in reader.channels:
            return
        if handler is not None and reader.channels[channel] != handler:
            return
        del reader.channels[channel]
        reader.confirmed.discard(channel)  # a later subscribe must send SUBSCRIBE again
        pubsub = reader.pubsub
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await getattr(pubsub, self._unsubscribe_cmd)(channel)
            if channel in reader.channels:  # subscribed again meanwhile: keep it
                await self._send_subscription(reader, self._subscribe_cmd, channel)

    def subscribe_soon(self, channel: str, handler: MessageHandler) -> asyncio.Task[None]:
        """:meth:`subscribe` from synchronous code.

        Returns:
            the task that ends as :meth:`subscribe` returns (the link owns it).
        """
        reader = self._reader_for(channel)
        reader.channels[channel] = handler
        return self._spawn(self._send_subscription(reader, self._subscribe_cmd, channel))

    def unsubscribe_soon(self, channel: str) -> None:
        """:meth:`unsubscribe` from synchronous code."""
        reader = self._readers.get(self._reader_name(channel))
        if reader is not None and channel in reader.channels:
            self._spawn(self.unsubscribe(channel))

    def _spawn(self, coro: Coroutine[object, object, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _send_subscription(self, reader: _Reader, command: str, name: str) -> None:
        if reader.idle:
            reader.idle = False
            reader.first_attempt.clear()
            reader.wake.set()
        await reader.first_attempt.wait()
        pubsub = reader.pubsub
        if pubsub is None or name in reader.confirmed:
            return  # unreachable (the reconnection subscribes to it), or done already
        loop = asyncio.get_running_loop()
        future = reader.confirm.get(name)
        if future is None or future.done():
            future = reader.confirm[name] = loop.create_future()
        try:
            await getattr(pubsub, command)(name)
            async with asyncio.timeout(_SUB_CONFIRM_TIMEOUT):
                await asyncio.shield(future)
        except Exception as exc:
            # the reader notices the broken connection and subscribes again
            logger.debug("subscription to %s not confirmed: %r", name, exc)
        finally:
            if reader.confirm.get(name) is future and future.done():
                del reader.confirm[name]

    def _reader_for(self, channel: str) -> _Reader:
        name = self._reader_name(channel)
        reader = self._readers.get(name)
        if reader is None:
            reader = self._readers[name] = _Reader(name)
            if self._started:
                self._start_reader(reader)
        return reader

    async def _subscribe_many(self, pubsub: PubSub, channels: list[str]) -> None:
        """Subscribes ``pubsub`` to ``channels`` (one command; one confirmation each)."""
        await getattr(pubsub, self._subscribe_cmd)(*channels)

    def _start_reader(self, reader: _Reader) -> None:
        reader.task = asyncio.get_running_loop().create_task(
            self._read_loop(reader), name=f"plexio-redis-reader-{reader.name}"
        )

    async def _read_loop(self, reader: _Reader) -> None:
        low, high = self.reconnect_delay
        delay = low
        while not self._closing:
            if not reader.channels and not reader.patterns:
                reader.idle = True
                reader.first_attempt.set()
                reader.wake.clear()
                await reader.wake.wait()
                continue
            pubsub = None
            try:
                pubsub = await self._open_pubsub(reader)
                reader.confirmed = set()
                # What is sent now is what gets counted: subscriptions made while these
                # commands are written are sent below, once the connection is up.
                channels, patterns = list(reader.channels), list(reader.patterns)
                if channels:
                    await self._subscribe_many(pubsub, channels)
                if patterns:
                    await pubsub.psubscribe(*patterns)
                # wait for the confirmations: from now on nothing published is missed
                expected = len(channels) + len(patterns)
                async with asyncio.timeout(_SUB_CONFIRM_TIMEOUT):
                    while expected > 0:
                        message = await pubsub.get_message(timeout=1.0)
                        if message is None:
                            continue
                        if message["type"] in (self._confirm_type, "psubscribe"):
                            expected -= 1
                        self._dispatch(reader, message)
                reader.pubsub = pubsub
                reader.reconnect = False
                # subscriptions added while this connection was being set up
                late = [c for c in reader.channels if c not in reader.confirmed]
                if late:
                    await self._subscribe_many(pubsub, late)
                late = [p for p in reader.patterns if p not in reader.confirmed]
                if late:
                    await pubsub.psubscribe(*late)
                self._reader_up(reader)
                reader.first_attempt.set()
                delay = low
                while not reader.reconnect:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._dispatch(reader, message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.went_down(exc)
            finally:
                reader.pubsub = None
                await self._close_pubsub_object(pubsub)
            reader.first_attempt.set()
            if self._closing:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, high)

    def _dispatch(self, reader: _Reader, message: dict[str, JSONValue]) -> None:
        kind = message["type"]
        channel = _text(message["channel"])
        if kind == self._message_type:
            handler = reader.channels.get(channel)
        elif kind == "pmessage":
            handler = reader.patterns.get(_text(message["pattern"]))
        else:
            if kind in (self._confirm_type, "psubscribe"):
                reader.confirmed.add(channel)
                future = reader.confirm.get(channel)
                if future is not None and not future.done():
                    future.set_result(None)
            return
        if handler is None:
            return
        data = message["data"]
        try:
            handler(channel, data if isinstance(data, bytes) else str(data).encode())
        except Exception:
            logger.exception("handling a Redis message on %s failed", channel)

    def subscribed(self) -> set[str]:
        """The channels and patterns confirmed on live connections."""
        return {
            name for r in self._readers.values() if r.pubsub is not None for name in r.confirmed
        }

    # ----------------------------------------------------------- publishing

    def publish(self, channel: str, payload: bytes, kind: Kind) -> bool:
        """Queues a message; False (and counted as lost) when Redis is unreachable.

        Never waits: sent in order with the other queued messages.
        """
        if self._down_since is not None or not self._started:
            self._lose(kind)
            return False
        if len(self._backlog) >= self.max_backlog:
            self._lose(kind)
            if not self._backlog_full_logged:
                self._backlog_full_logged = True
                logger.error(
                    "Redis %s is not keeping up: %d messages wait to be published; "
                    "new ones are dropped until the backlog drains",
                    self.where,
                    len(self._backlog),
                )
            return False
        self._backlog.append((channel, payload, kind, None))
        self._wake_publisher.set()
        return True

    async def publish_wait(self, channel: str, payload: bytes, kind: Kind, what: str) -> None:
        """Publishes and waits until Redis took the message.

        Raises:
            ClusterError: Redis is unreachable (``what`` names the operation).
        """
        if self._down_since is not None or not self._started:
            self._lose(kind)
            raise ClusterError(self._unreachable(what))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._backlog.append((channel, payload, kind, future))
        self._wake_publisher.set()
        await future

    def _unreachable(self, what: str) -> str:
        reason = f" ({self._down_reason})" if self._down_reason else ""
        return f"Redis {self.where} is unreachable{reason}: {what} did not reach the cluster"

    def _lose(self, kind: Kind) -> None:
        self.lost[kind] += 1
        self._outage_lost[kind] += 1

    async def _publish_loop(self) -> None:
        backlog = self._backlog
        while True:
            if not backlog:
                self._wake_publisher.clear()
                self._backlog_full_logged = False
                await self._wake_publisher.wait()
                continue
            batch = [backlog.popleft() for _ in range(min(len(backlog), _BATCH))]
            items = [(channel, payload) for channel, payload, _, _ in batch]
            try:
                try:
                    await self._publish_batch(items)
                except (OSError, RedisConnectionError, RedisTimeoutError):
                    # a pooled connection left over from before a Redis restart fails
                    # once; a fresh one tells whether Redis is really gone
                    await self._publish_batch(items)
            except asyncio.CancelledError:
                for *_, future in batch:
                    if future is not None and not future.done():
                        future.set_exception(ClusterError("the Redis link was closed"))
                raise
            except Exception as exc:
                self.went_down(exc)
                lost = batch + list(backlog)
                backlog.clear()
                for _, _, kind, future in lost:
                    self._lose(kind)
                    if future is not None and not future.done():
                        future.set_exception(ClusterError(self._unreachable("the message")))
                continue
            for *_, future in batch:
                if future is not None and not future.done():
                    future.set_result(None)

    async def count_subscribers(self, channel: str, what: str) -> int:
        """How many connections subscribe to ``channel`` (one per server).

        Raises:
            ClusterError: Redis is unreachable.
        """
        if self._down_since is not None:
            raise ClusterError(self._unreachable(what))
        try:
            return await self._numsub(channel)
        except Exception as exc:
            self.went_down(exc)
            raise ClusterError(self._unreachable(what)) from exc

    # ----------------------------------------------------------- outage accounting

    def went_down(self, exc: BaseException) -> None:
        """Records that Redis failed; logs once per outage."""
        if self._closing:
            return
        for reader in self._readers.values():
            reader.reconnect = True
        if self._down_since is not None:
            return
        self._down_since = time.monotonic()
        self._down_reason = f"{type(exc).__name__}: {exc}"
        self.outages += 1
        self._outage_lost = dict.fromkeys(Kind, 0)
        logger.error(
            "Redis %s is unreachable (%s): messages to the other servers are dropped "
            "until it is back; this server's own clients are still served",
            self.where,
            self._down_reason,
        )

    def _reader_up(self, reader: _Reader) -> None:
        if self._down_since is None:
            return
        if any(r.pubsub is None for r in self._readers.values() if r.channels or r.patterns):
            return  # another subscriber connection is still down
        lasted = time.monotonic() - self._down_since
        self._down_since = None
        self._down_reason = ""
        lost = self._outage_lost
        logger.warning(
            "Redis %s is reachable again after %.1f s; subscriptions restored. Lost while it "
            "was unreachable: %d broadcasts, %d requests, %d responses",
            self.where,
            lasted,
            lost[Kind.BROADCAST],
            lost[Kind.REQUEST],
            lost[Kind.RESPONSE],
        )

    # ----------------------------------------------------------- connection specifics

    def _reader_name(self, channel: str) -> str:
        return "main"

    async def _open(self) -> None:
        raise NotImplementedError

    async def _close(self) -> None:
        raise NotImplementedError

    async def _open_pubsub(self, reader: _Reader) -> PubSub:
        raise NotImplementedError

    async def _publish_batch(self, items: list[tuple[str, bytes]]) -> None:
        raise NotImplementedError

    async def _numsub(self, channel: str) -> int:
        raise NotImplementedError

    async def _close_pubsub(self, reader: _Reader) -> None:
        pubsub, reader.pubsub = reader.pubsub, None
        await self._close_pubsub_object(pubsub)

    async def _close_pubsub_object(self, pubsub: PubSub | None) -> None:
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class _ClientOptions(TypedDict):
    retry: Retry
    socket_connect_timeout: float
    socket_timeout: float
    health_check_interval: int


class LinkOptions(TypedDict, total=False):
    """The keyword options of :class:`PubSubLink` that both links pass on."""

    max_backlog: int
    reconnect_delay: tuple[float, float]
    command_timeout: float


def _client_options(command_timeout: float) -> _ClientOptions:
    # Errors surface at once (no silent retries inside redis-py): the link does the
    # reconnecting, and counts what was lost meanwhile. A Redis that hangs is an
    # outage after ``command_timeout``.
    return {
        "retry": Retry(NoBackoff(), 0),
        "socket_connect_timeout": 2.0,
        "socket_timeout": command_timeout,
        "health_check_interval": 0,
    }


class RedisLink(PubSubLink):
    """Classic Redis pub/sub (``PUBLISH``, ``SUBSCRIBE``, ``PSUBSCRIBE``).

    Args:
        url: ``redis://host:port/db`` (any URL ``redis.asyncio.from_url`` takes).
        **kwargs: see :class:`PubSubLink` (``max_backlog``, ``reconnect_delay``).
    """

    def __init__(self, url: str = "redis://127.0.0.1:6379", **kwargs: Unpack[LinkOptions]) -> None:
        super().__init__(url, **kwargs)
        self.url = url
        self._client: aioredis.Redis | None = None

    async def psubscribe(self, pattern: str, handler: MessageHandler) -> None:
        """Subscribes to a channel pattern; returns once Redis confirmed it."""
        reader = self._reader_for(pattern)
        reader.patterns[pattern] = handler
        await self._send_subscription(reader, "psubscribe", pattern)

    async def punsubscribe(self, pattern: str, handler: MessageHandler | None = None) -> None:
        """Drops a pattern subscription (only if ``handler``, when given, still holds it)."""
        reader = self._reader_for(pattern)
        if pattern not in reader.patterns:
            return
        if handler is not None and reader.patterns[pattern] != handler:
            return
        del reader.patterns[pattern]
        reader.confirmed.discard(pattern)
        if reader.pubsub is not None:
            with contextlib.suppress(Exception):
                await reader.pubsub.punsubscribe(pattern)
            if pattern in reader.patterns:  # subscribed again meanwhile: keep it
                await self._send_subscription(reader, "psubscribe", pattern)

    @property
    def client(self) -> aioredis.Redis:
        """The publishing client (for commands of the application's own)."""
        if self._client is None:
            raise ClusterError("the Redis link is not started")
        return self._client

    async def _open(self) -> None:
        self._client = aioredis.Redis.from_url(self.url, **_client_options(self.command_timeout))
        for reader in self._readers.values():
            self._start_reader(reader)

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def _open_pubsub(self, reader: _Reader) -> PubSub:
        pubsub = self.client.pubsub()
        await pubsub.connect()  # type: ignore[no-untyped-call]
        return pubsub

    async def _publish_batch(self, items: list[tuple[str, bytes]]) -> None:
        client = self.client
        if len(items) == 1:
            await client.publish(*items[0])
            return
        async with client.pipeline(transaction=False) as pipe:
            for channel, payload in items:
                pipe.publish(channel, payload)
            await pipe.execute()

    async def _numsub(self, channel: str) -> int:
        result = await self.client.pubsub_numsub(channel)
        return int(result[0][1]) if result else 0


class ShardedRedisLink(PubSubLink):
    """Redis Cluster sharded pub/sub (``SPUBLISH``, ``SSUBSCRIBE``, Redis >= 7).

    A shard channel lives on the master that owns its hash slot: one subscriber
    connection per master holding such channels.

    Args:
        url: a ``redis://host:port`` of any cluster node.
        **kwargs: see :class:`PubSubLink`.
    """

    _subscribe_cmd = "ssubscribe"
    _unsubscribe_cmd = "sunsubscribe"
    _message_type = "smessage"
    _confirm_type = "ssubscribe"

    def __init__(self, url: str = "redis://127.0.0.1:7000", **kwargs: Unpack[LinkOptions]) -> None:
        super().__init__(url, **kwargs)
        self.url = url
        self._cluster: RedisCluster | None = None
        self._node_clients: dict[int, aioredis.Redis] = {}

    @property
    def cluster(self) -> RedisCluster:
        """The cluster client."""
        if self._cluster is None:
            raise ClusterError("the Redis link is not started")
        return self._cluster

    async def _open(self) -> None:
        cluster = RedisCluster.from_url(
            self.url, socket_connect_timeout=2.0, socket_timeout=self.command_timeout
        )
        try:
            await cluster.initialize()
        except Exception as exc:
            await cluster.aclose()
            raise ClusterError(f"Redis Cluster {self.url} is unreachable: {exc}") from exc
        self._cluster = cluster
        for reader in self._readers.values():
            self._start_reader(reader)

    async def _close(self) -> None:
        cluster, self._cluster = self._cluster, None
        if cluster is not None:
            await cluster.aclose()

    async def _subscribe_many(self, pubsub: PubSub, channels: list[str]) -> None:
        """One ``SSUBSCRIBE`` per hash slot: Redis refuses channels of different slots in
        one command (``CROSSSLOT``), even when one master owns them all."""
        by_slot: dict[int, list[str]] = {}
        for channel in channels:
            by_slot.setdefault(self.cluster.keyslot(channel), []).append(channel)
        for group in by_slot.values():
            await pubsub.ssubscribe(*group)

    def _reader_name(self, channel: str) -> str:
        node = self.cluster.get_node_from_key(channel)
        if node is None:
            raise ClusterError(f"no Redis Cluster node serves channel {channel!r}")
        return str(node.name)

    async def _open_pubsub(self, reader: _Reader) -> PubSub:
        host, _, port = reader.name.rpartition(":")
        client = aioredis.Redis(host=host, port=int(port), **_client_options(self.command_timeout))
        pubsub = client.pubsub()
        self._node_clients[id(pubsub)] = client  # closed with it
        await pubsub.connect()  # type: ignore[no-untyped-call]
        return pubsub

    async def _close_pubsub_object(self, pubsub: PubSub | None) -> None:
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            client = self._node_clients.pop(id(pubsub), None)
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.aclose()

    async def _publish_batch(self, items: list[tuple[str, bytes]]) -> None:
        cluster = self.cluster
        for channel, payload in items:
            await cluster.spublish(channel, payload)

    async def _numsub(self, channel: str) -> int:
        cluster = self.cluster
        total = 0
        for node in cluster.get_primaries():
            result = await cluster.execute_command("PUBSUB SHARDNUMSUB", channel, target_nodes=node)
            total += int(result[0][1]) if result else 0
        return total
