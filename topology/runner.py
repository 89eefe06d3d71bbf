"""Runs one measurement point: a fresh server process, a connect storm, steady traffic.

A point is (topology, transport, users, communities per user). Its phases:

1. *solo*: a few users connect one at a time to the idle server and leave again
   (time to ready without contention; this also warms the server up);
2. *storm*: every user connects at once, as after a server restart or a network blip
   (a reconnect storm): time to ready per user, storm wall time, server CPU and RSS
   growth, client-side traffic per user, server object counts;
3. *steady*: users post channel messages (event with ack); the server fans each out to
   the channel's other members. Server CPU and client bytes per delivered message.

Every phase is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from topology.model import Membership, ModelParams, PubSub
from topology.procstat import StateSampler, cpu_seconds, rss_bytes
from topology.scenario import TOPOLOGIES, TRANSPORTS, User
from topology.wire import Traffic, WebSocketTransport, decode_packet, encode_connect, encode_event

__all__ = ["PointSpec", "ServerProcess", "percentile", "run_point"]

HOST = "127.0.0.1"
_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class PointSpec:
    """One measurement point.

    Attributes:
        topology: ``"A"``, ``"B"`` or ``"B-sub"``.
        transport: ``"websocket"`` or ``"polling"``.
        users: simulated users (all connect at once in the storm).
        per_user: communities per user.
        members: target members per community.
        channels: channels per community.
        seed: membership and traffic seed.
        solo: users timed one at a time before the storm.
        messages: channel messages posted in the steady phase.
        in_flight: messages awaiting their ack at once.
        timeout: bound on each network wait, in seconds.
        budget_s: bound on the whole point, in seconds.
    """

    topology: str
    transport: str
    users: int
    per_user: int
    members: int = 50
    channels: int = 4
    seed: int = 1
    solo: int = 20
    messages: int = 400
    in_flight: int = 16
    timeout: float = 30.0
    budget_s: float = 120.0

    def __post_init__(self) -> None:
        if self.topology not in TOPOLOGIES:
            raise ValueError(f"unknown topology {self.topology!r} (one of {TOPOLOGIES})")
        if self.transport not in TRANSPORTS:
            raise ValueError(f"unknown transport {self.transport!r} (one of {TRANSPORTS})")
        if min(self.users, self.per_user, self.in_flight) < 1 or self.solo < 0:
            raise ValueError(f"counts must be positive: {self}")
        if self.messages < 0 or self.timeout <= 0 or self.budget_s <= 0:
            raise ValueError(f"bad bounds: {self}")

    @property
    def model(self) -> ModelParams:
        """The population parameters."""
        return ModelParams(self.users, self.per_user, self.members, self.channels, self.seed)


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class ServerProcess:
    """The gateway in a subprocess (``python -m topology.server``) on a free port.

    Args:
        model: the population the server's membership table is built from.
        start_timeout: seconds to wait for ``READY``.
        redis_url: make the server a cluster node on plexio's Redis adapter.
        pubsub: classic (one redis-server) or sharded (a Redis Cluster).
    """

    def __init__(
        self,
        model: ModelParams,
        start_timeout: float = 30.0,
        redis_url: str | None = None,
        pubsub: PubSub = PubSub.CLASSIC,
    ) -> None:
        self.model = model
        self.redis_url = redis_url
        self.pubsub = pubsub
        self.start_timeout = start_timeout
        self.port = 0
        self.pid = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._stderr: IO[bytes] | None = None

    async def __aenter__(self) -> ServerProcess:
        settings: dict[str, Any] = {"model": self.model.to_json()}
        if self.redis_url is not None:
            settings["redis"] = self.redis_url
            settings["pubsub"] = self.pubsub.value
        config = json.dumps(settings)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
        self._stderr = tempfile.TemporaryFile()
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "topology.server",
            config,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=self._stderr,
            cwd=_ROOT,
            env=env,
        )
        self.pid = self._proc.pid
        assert self._proc.stdout is not None
        try:
            async with asyncio.timeout(self.start_timeout):
                line = (await self._proc.stdout.readline()).decode().strip()
        except TimeoutError:
            await self._stop()
            raise RuntimeError("the topology server did not start in time") from None
        if not line.startswith("READY "):
            await self._stop()
            raise RuntimeError(f"the topology server failed to start: {self._stderr_tail()}")
        self.port = int(line.split()[1])
        return self

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read()[-2000:].decode(errors="replace")

    async def __aexit__(self, *exc: object) -> None:
        await self._stop()

    async def _stop(self) -> None:
        proc = self._proc
        if proc is None:
            return
        self._proc = None
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            async with asyncio.timeout(5):
                await proc.wait()
        except TimeoutError:
            proc.terminate()
            try:
                async with asyncio.timeout(5):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


class DebugClient:
    """Asks the server for its object counts over the ``/debug`` namespace."""

    def __init__(self, port: int, timeout: float) -> None:
        self.transport = WebSocketTransport(HOST, port, timeout)
        self._ack = 0

    async def open(self) -> None:
        """Connects to ``/debug``."""
        await self.transport.open()
        await self.transport.send([encode_connect("/debug", {})])
        while True:
            for text in await self.transport.receive():
                packet = decode_packet(text)
                if packet.type == 0 and packet.namespace == "/debug":
                    return
                if packet.type == 4:
                    raise RuntimeError("debug namespace refused")

    async def stats(self) -> dict[str, Any]:
        """The server's counts (the debug connection itself subtracted)."""
        self._ack += 1
        await self.transport.send([encode_event("/debug", ["stats"], self._ack)])
        while True:
            for text in await self.transport.receive():
                packet = decode_packet(text)
                if packet.type == 3 and packet.ack_id == self._ack:
                    stats: dict[str, Any] = dict(packet.data[0])
                    for key in ("engine_sessions", "sockets", "rooms", "room_memberships"):
                        stats[key] -= 1  # the debug session, its socket and its own room
                    return stats

    async def close(self) -> None:
        """Closes the connection."""
        await self.transport.close()


def _sum_traffic(users: list[User]) -> Traffic:
    total = Traffic()
    for user in users:
        total.add(user.transport.traffic)
    return total


def _mean_traffic(items: list[Traffic]) -> dict[str, float]:
    if not items:
        return {}
    keys = items[0].as_dict().keys()
    return {k: statistics.fmean(t.as_dict()[k] for t in items) for k in keys}


async def _gather_bounded(coros: list[Any], seconds: float) -> list[Any]:
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        async with asyncio.timeout(seconds):
            return await asyncio.gather(*tasks, return_exceptions=True)
    except TimeoutError:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        out: list[Any] = []
        for task in tasks:
            if task.cancelled():
                out.append(TimeoutError("bounded wait expired"))
            elif task.exception() is not None:
                out.append(task.exception())
            else:
                out.append(task.result())
        return out


async def run_point(spec: PointSpec) -> dict[str, Any]:
    """Measures one point with a fresh server process.

    Args:
        spec: what to measure.

    Returns:
        A JSON-ready record of the measurements (see the module docstring).
    """
    deadline = time.monotonic() + spec.budget_s
    model = spec.model
    membership = Membership(model)
    record: dict[str, Any] = {
        "spec": asdict(spec),
        "pool": model.pool,
        "errors": [],
        "loadavg_start": os.getloadavg()[0],
    }
    errors: list[str] = record["errors"]

    def left() -> float:
        return max(0.1, deadline - time.monotonic())

    def make_user(uid: int) -> User:
        return User(
            uid,
            membership.of_user[uid],
            spec.topology,
            spec.transport,
            HOST,
            server.port,
            spec.timeout,
        )

    async with ServerProcess(model) as server:
        debug = DebugClient(server.port, spec.timeout)
        await debug.open()
        idle = await debug.stats()
        record["server_idle"] = idle

        # ---------------------------------------------------------------- solo
        solo_times: list[float] = []
        solo_setup: list[Traffic] = []
        for uid in range(min(spec.solo, spec.users)):
            user = make_user(uid)
            try:
                async with asyncio.timeout(min(spec.timeout, left())):
                    solo_times.append(await user.connect())
                solo_setup.append(user.setup)
            except Exception as exc:  # noqa: BLE001 - recorded, the point goes on
                errors.append(f"solo user {uid}: {type(exc).__name__}: {exc}")
            finally:
                await user.close()
        record["solo"] = {
            "n": len(solo_times),
            "ready_p50_ms": percentile(solo_times, 50) * 1e3,
            "ready_p99_ms": percentile(solo_times, 99) * 1e3,
            "ready_max_ms": max(solo_times, default=0.0) * 1e3,
            "ready_min_ms": min(solo_times, default=0.0) * 1e3,
            "ready_ms": [round(t * 1e3, 3) for t in solo_times],
            "setup_per_user": _mean_traffic(solo_setup),
        }
        await asyncio.sleep(0.3)  # the server drops the solo sessions

        # ---------------------------------------------------------------- storm
        before = await debug.stats()
        cpu0 = cpu_seconds(server.pid)
        client0 = time.process_time()
        users = [make_user(uid) for uid in range(spec.users)]
        sampler = StateSampler(server.pid)
        sampler.start()
        start = time.perf_counter()
        results = await _gather_bounded([u.connect() for u in users], left())
        storm_wall = time.perf_counter() - start
        cpu1 = cpu_seconds(server.pid)
        runnable = sampler.stop()
        client1 = time.process_time()
        ready = [r for r in results if isinstance(r, float)]
        failed = [r for r in results if not isinstance(r, float)]
        for problem in failed[:5]:
            errors.append(f"storm: {type(problem).__name__}: {problem}")
        after = await debug.stats()
        server_cpu = cpu1[1] - cpu0[1]
        memberships = spec.users * spec.per_user
        record["storm"] = {
            "ready_users": len(ready),
            "failed_users": len(failed),
            "wall_s": storm_wall,
            "ready_p50_ms": percentile(ready, 50) * 1e3,
            "ready_p99_ms": percentile(ready, 99) * 1e3,
            "server_cpu_s": server_cpu,
            "server_cpu_stat_s": cpu1[0] - cpu0[0],
            "server_runnable_share": runnable,
            "server_cpu_per_user_ms": server_cpu / spec.users * 1e3,
            "server_cpu_per_membership_us": server_cpu / memberships * 1e6,
            "client_cpu_s": client1 - client0,
            "rss_before": before["rss_bytes"],
            "rss_after": after["rss_bytes"],
            "rss_per_user_bytes": (after["rss_bytes"] - before["rss_bytes"]) / spec.users,
            "rss_per_membership_bytes": (after["rss_bytes"] - before["rss_bytes"]) / memberships,
            "gc_objects_per_user": (after["gc_objects"] - before["gc_objects"]) / spec.users,
            "setup_per_user": _mean_traffic([u.setup for u in users if u.ready_s > 0]),
        }
        record["server_after_storm"] = after
        record["server_objects"] = {
            k: after[k] - idle[k]
            for k in ("engine_sessions", "namespaces", "sockets", "rooms", "room_memberships")
        }

        # ---------------------------------------------------------------- steady
        live = [u for u in users if u.ready_s > 0]
        for user in live:
            user.start_reading()
        rng = random.Random(spec.seed + 1)
        plan: list[tuple[User, int, int]] = []
        if live:
            for _ in range(spec.messages):
                sender = rng.choice(live)
                plan.append((sender, rng.choice(sender.communities), rng.randrange(spec.channels)))
        live_ids = {u.user for u in live}
        expected = sum(
            sum(1 for m in membership.members[c] if m in live_ids and m != s.user)
            for s, c, _ in plan
        )
        await asyncio.sleep(0.1)
        traffic0 = _sum_traffic(live)
        delivered0 = sum(u.delivered for u in live)
        cpu2 = cpu_seconds(server.pid)
        client2 = time.process_time()
        gate = asyncio.Semaphore(spec.in_flight)

        async def post(sender: User, community: int, channel: int) -> None:
            async with gate:
                await sender.post(community, channel)

        start = time.perf_counter()
        outcomes = await _gather_bounded([post(*p) for p in plan], left())
        for problem in [o for o in outcomes if o is not None][:5]:
            errors.append(f"steady: {type(problem).__name__}: {problem}")
        wait_until = time.monotonic() + min(10.0, left())
        while (
            sum(u.delivered for u in live) - delivered0 < expected and time.monotonic() < wait_until
        ):
            await asyncio.sleep(0.02)
        steady_wall = time.perf_counter() - start
        cpu3 = cpu_seconds(server.pid)
        client3 = time.process_time()
        traffic = _sum_traffic(live).minus(traffic0)
        delivered = sum(u.delivered for u in live) - delivered0
        cpu = cpu3[1] - cpu2[1]
        sent = len(plan) - sum(1 for o in outcomes if o is not None)
        record["steady"] = {
            "messages": sent,
            "deliveries": delivered,
            "expected_deliveries": expected,
            "wall_s": steady_wall,
            "server_cpu_s": cpu,
            "server_cpu_per_delivery_us": cpu / delivered * 1e6 if delivered else 0.0,
            "server_cpu_per_message_us": cpu / sent * 1e6 if sent else 0.0,
            "client_cpu_s": client3 - client2,
            "rx_bytes_per_delivery": traffic.bytes_rx / delivered if delivered else 0.0,
            "tx_bytes_per_message": traffic.bytes_tx / sent if sent else 0.0,
            "rx_frames_per_delivery": traffic.frames_rx / delivered if delivered else 0.0,
            "traffic": traffic.as_dict(),
        }
        for user in users:
            if user.error:
                errors.append(f"user {user.user}: {user.error}")
                if len(errors) > 20:
                    break
        await _gather_bounded([u.close() for u in users], min(30.0, left() + 10.0))
        await debug.close()
        record["server_rss_final"] = rss_bytes(server.pid)
    record["loadavg_end"] = os.getloadavg()[0]
    return record
