"""What the Redis layer costs per channel message, measured on a real redis-server.

The gateway nodes are stood in for by subscriber connections that subscribe exactly as a
Socket.IO Redis adapter node does (``PSUBSCRIBE socket.io#<namespace>#*`` per instantiated
namespace in classic mode, ``SSUBSCRIBE`` per namespace or room channel in sharded mode),
and a publisher sends the adapter's broadcast message (``[uid, packet, opts]`` in MessagePack,
like ``@socket.io/redis-adapter``) on the room's channel. Measured:

* Redis's own CPU per ``PUBLISH`` / ``SPUBLISH``: the redis-server process's CPU time
  (``/proc``, the command and the writes to every receiver) per message, and the command
  alone (``INFO commandstats``: ``usec_per_call``), as the number of distinct subscribed
  patterns and of receivers grows — ``PUBLISH`` matches the channel against every
  subscribed pattern, which is what namespace-per-community costs in classic mode;
* messages each subscriber received (checked against the count the routing predicts);
* a subscriber's CPU to receive and parse one message (redis-py, this process): the floor
  of what a node pays for a message it then drops.

These are the inputs of :mod:`topology.cluster`'s Redis CPU estimate.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

from measure.redis import running_redis as redis_process

from topology.procstat import cpu_seconds

__all__ = [
    "RedisCosts",
    "RedisPlan",
    "adapter_message",
    "fit_publish_cost",
    "measure_redis",
    "messages_for",
    "redis_available",
    "running_redis",
]

HOST = "127.0.0.1"


def redis_available() -> bool:
    """Whether redis-server and redis-py are installed."""
    try:
        import redis.asyncio  # noqa: F401
    except ImportError:
        return False
    return shutil.which("redis-server") is not None


def adapter_message(namespace: str, room: str) -> bytes:
    """A channel message as the Redis adapter publishes it: MessagePack ``[uid, packet, opts]``."""
    import msgpack

    packet = {
        "type": 2,
        "data": [
            "message:new",
            {"commu": 123456, "chan": 2, "author": 654321, "text": "hello from the measurement"},
        ],
        "nsp": namespace,
    }
    opts = {"rooms": [room], "except": [], "flags": {}}
    data: bytes = msgpack.packb(["AbC123", packet, opts])
    return data


def running_redis() -> contextlib.AbstractAsyncContextManager[tuple[int, int]]:
    """A redis-server of our own on a free port of 127.0.0.1 (no persistence), its pub/sub
    output buffers raised for the bursts measured here: (port, pid)."""
    return redis_process("--client-output-buffer-limit", "pubsub 256mb 256mb 0")


@dataclass(frozen=True, slots=True)
class RedisPlan:
    """What the Redis measurement does.

    Attributes:
        patterns: distinct subscribed patterns (other namespaces) to measure PUBLISH with.
        receivers: subscribers of the published room (nodes holding it).
        messages: messages published per point.
    """

    patterns: tuple[int, ...] = (0, 1_000, 10_000, 50_000)
    receivers: tuple[int, ...] = (1, 3, 10)
    messages: int = 2_000

    def steps(self) -> int:
        """Points in the plan (+1: the subscriber's receive cost)."""
        return len(self.patterns) + 2 * len(self.receivers) + 1


@dataclass(slots=True)
class RedisCosts:
    """A fitted cost: microseconds of Redis CPU per publish.

    ``publish_us = base_us + per_pattern_us * patterns + per_receiver_us * receivers``.
    """

    base_us: float
    per_pattern_us: float
    per_receiver_us: float

    def publish_us(self, patterns: float, receivers: float) -> float:
        """The modelled Redis CPU of one publish."""
        return self.base_us + self.per_pattern_us * patterns + self.per_receiver_us * receivers


async def _publish_point(
    port: int, pid: int, *, patterns: int, receivers: int, messages: int, sharded: bool
) -> dict[str, Any]:
    """``receivers`` subscribers of the room (+ ``patterns`` other patterns); publishes."""
    import redis.asyncio as aioredis

    namespace = "/socket"
    room = "commu:1:chan:2"
    payload = adapter_message(namespace, room)
    # The room's channel: classic receivers match it with their namespace pattern; in
    # sharded dynamic mode it is the room's own shard channel.
    channel = f"socket.io#{namespace}#{room}#"
    subscribers = [aioredis.Redis(host=HOST, port=port) for _ in range(receivers)]
    other = aioredis.Redis(host=HOST, port=port)
    publisher = aioredis.Redis(host=HOST, port=port)
    counts = [0] * receivers
    pubsubs: list[Any] = []
    readers: list[asyncio.Task[None]] = []
    try:
        filler = other.pubsub()
        pubsubs.append(filler)
        names = [f"socket.io#/socket/commu-{c}#*" for c in range(patterns)]
        for start in range(0, len(names), 1000):
            chunk = names[start : start + 1000]
            if sharded:
                await filler.ssubscribe(*[n.rstrip("*") for n in chunk])
            else:
                await filler.psubscribe(*chunk)
        for i, sub in enumerate(subscribers):
            pubsub = sub.pubsub()
            pubsubs.append(pubsub)
            if sharded:
                await pubsub.ssubscribe(channel)
            else:
                await pubsub.psubscribe(f"socket.io#{namespace}#*")

            async def read(index: int, ps: Any) -> None:
                kinds = ("pmessage", "smessage", "message")
                while True:
                    message = await ps.get_message(timeout=5.0)
                    if message is not None and message["type"] in kinds:
                        counts[index] += 1

            readers.append(asyncio.ensure_future(read(i, pubsub)))
        # Wait until Redis holds exactly this point's subscriptions (a previous point's
        # connections may still be going away).
        wanted_patterns = 0 if sharded else patterns + (1 if receivers else 0)
        for _ in range(200):
            numpat = await publisher.execute_command("PUBSUB", "NUMPAT")  # type: ignore[no-untyped-call]
            if int(numpat) == wanted_patterns:
                break
            await asyncio.sleep(0.05)
        else:
            raise RuntimeError(f"Redis did not settle at {wanted_patterns} patterns")
        await publisher.config_resetstat()
        cpu0 = cpu_seconds(pid)[1]
        for start in range(0, messages, 100):
            pipe = publisher.pipeline(transaction=False)
            for _ in range(min(100, messages - start)):
                if sharded:
                    pipe.execute_command("SPUBLISH", channel, payload)
                else:
                    pipe.publish(channel, payload)
            await pipe.execute()
        stats = await publisher.info("commandstats")
        deadline = time.monotonic() + 10
        while sum(counts) < messages * receivers and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        redis_cpu = cpu_seconds(pid)[1] - cpu0
        command = "spublish" if sharded else "publish"
        entry = stats.get(f"cmdstat_{command}", {})
        return {
            "sharded": sharded,
            "patterns": patterns,
            "receivers": receivers,
            "messages": messages,
            "received_per_subscriber": counts,
            "usec_per_call": float(entry.get("usec_per_call", float("nan"))),
            "redis_cpu_us_per_message": redis_cpu / messages * 1e6,
            "payload_bytes": len(payload),
        }
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        for ps in pubsubs:
            with contextlib.suppress(Exception):
                await ps.aclose()
        for client in [*subscribers, other, publisher]:
            with contextlib.suppress(Exception):
                await client.aclose()


async def _receive_cost(port: int, messages: int) -> float:
    """Microseconds of this process's CPU to receive and parse one pmessage (redis-py)."""
    import redis.asyncio as aioredis

    payload = adapter_message("/socket", "commu:1:chan:2")
    channel = "socket.io#/socket#commu:1:chan:2#"
    publisher = aioredis.Redis(host=HOST, port=port)
    subscriber = aioredis.Redis(host=HOST, port=port)
    pubsub = subscriber.pubsub()
    try:
        await pubsub.psubscribe("socket.io#/socket#*")
        await pubsub.get_message(timeout=1.0)  # the subscribe confirmation
        # Publish everything first (Redis buffers it), then time only the reading.
        for start in range(0, messages, 100):
            pipe = publisher.pipeline(transaction=False)
            for _ in range(min(100, messages - start)):
                pipe.publish(channel, payload)
            await pipe.execute()
        got = 0
        cpu0 = time.process_time()
        while got < messages:
            message = await pubsub.get_message(timeout=5.0)
            if message is None:
                break
            if message["type"] == "pmessage":
                got += 1
        cpu = time.process_time() - cpu0
        return cpu / got * 1e6 if got else float("nan")
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await subscriber.aclose()
        await publisher.aclose()


def fit_publish_cost(points: list[dict[str, Any]], sharded: bool) -> RedisCosts:
    """The redis-server's CPU per message (``/proc``: the command and the writes to the
    receivers) as a line: the receiver slope from the points without other patterns, the
    pattern slope from the points with one receiver (smallest to largest count)."""
    key = "redis_cpu_us_per_message"
    rows = [p for p in points if p["sharded"] == sharded and p[key] == p[key]]
    by_receivers = sorted((p["receivers"], p[key]) for p in rows if p["patterns"] == 0)
    by_patterns = sorted((p["patterns"], p[key]) for p in rows if p["receivers"] == 1)
    if len(by_receivers) < 2:
        return RedisCosts(float("nan"), float("nan"), float("nan"))
    (r0, c0), (r1, c1) = by_receivers[0], by_receivers[-1]
    per_receiver = (c1 - c0) / (r1 - r0)
    base = c0 - per_receiver * r0
    per_pattern = 0.0
    if not sharded and len(by_patterns) >= 2 and by_patterns[-1][0] > by_patterns[0][0]:
        (p0, d0), (p1, d1) = by_patterns[0], by_patterns[-1]
        per_pattern = (d1 - d0) / (p1 - p0)
    return RedisCosts(base, per_pattern, per_receiver)


def messages_for(patterns: int, messages: int) -> int:
    """Messages to publish at a pattern count (fewer when each PUBLISH scans many)."""
    return max(100, min(messages, 2_000_000 // max(1, patterns)))


async def measure_redis(plan: RedisPlan, progress: Any) -> dict[str, Any]:
    """Runs the measurement on a fresh redis-server; failures are recorded, not raised."""
    points: list[dict[str, Any]] = []
    errors: list[str] = []
    receive_us = float("nan")
    async with running_redis() as (port, pid):
        grid = [(0, r, False) for r in plan.receivers]
        grid += [(0, r, True) for r in plan.receivers]
        grid += [(p, 1, False) for p in plan.patterns]
        for patterns, receivers, sharded in grid:
            command = "SPUBLISH" if sharded else "PUBLISH"
            label = f"redis {command} patterns={patterns} receivers={receivers}"
            try:
                points.append(
                    await _publish_point(
                        port,
                        pid,
                        patterns=patterns,
                        receivers=receivers,
                        messages=messages_for(patterns, plan.messages),
                        sharded=sharded,
                    )
                )
            except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
                errors.append(f"{label}: {type(exc).__name__}: {exc}")
            progress.step(label)
        try:
            receive_us = statistics.median(
                [await _receive_cost(port, plan.messages) for _ in range(3)]
            )
        except Exception as exc:  # noqa: BLE001 - recorded
            errors.append(f"receive cost: {type(exc).__name__}: {exc}")
        progress.step("redis receive cost")
    return {
        "plan": asdict(plan),
        "points": points,
        "classic": asdict(fit_publish_cost(points, sharded=False)),
        "sharded": asdict(fit_publish_cost(points, sharded=True)),
        "receive_us": receive_us,
        "payload_bytes": points[0]["payload_bytes"] if points else 0,
        "cpu_count": os.cpu_count(),
        "errors": errors,
    }
