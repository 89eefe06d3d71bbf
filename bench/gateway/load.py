"""The load: REST set-up through the gateway, then the measured socket phases on one server.

Every phase is bounded in count (users × requests) and in time (a timeout per request and per
phase). Server CPU comes from ``/proc/PID`` before and after each phase (see
:mod:`bench.procstat`); latencies are ack round trips measured at the client.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
from measure.procstat import cpu_sample

from bench.gateway.wire import GatewayClient

__all__ = [
    "BenchUser",
    "Check",
    "LoadParams",
    "PhaseResult",
    "ServerRun",
    "run_phases",
    "set_up",
    "tree_cpu_s",
]

PASSWORD = "bench-password-123"


@dataclass(frozen=True, slots=True)
class LoadParams:
    """How much load.

    Attributes:
        users: Simulated users (one socket each).
        messages: ``message:send`` per user in the closed-loop burst.
        edits: ``message:edit`` per user.
        joins: ``channel:join`` per user and server (channels made in the set-up).
        presence: ``presence:get`` per user.
        duplicates: Per user, pairs of concurrent sends with one ``client_id`` (plus a retry).
        paced_seconds: Length of the paced run.
        paced_max: Most messages of one paced run.
        request_timeout: Bound on one request's wait for its ack.
    """

    users: int = 200
    messages: int = 15
    edits: int = 5
    joins: int = 2
    presence: int = 5
    duplicates: int = 2
    paced_seconds: float = 4.0
    paced_max: int = 4000
    request_timeout: float = 30.0


@dataclass(slots=True)
class BenchUser:
    """A user made by the set-up."""

    index: int
    user_id: int
    token: str
    community_id: int
    channel_id: int
    neighbour_community_id: int = 0
    # Channels of the neighbour's community, per server kind, for channel:join.
    joinable: dict[str, list[int]] = field(default_factory=dict)


@dataclass(slots=True)
class PhaseResult:
    """One measured phase on one server."""

    name: str
    requests: int
    ok: int
    errors: dict[str, int]
    seconds: float
    server_cpu_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    rate: float | None = None

    @property
    def per_second(self) -> float:
        """Successful requests per second over the phase."""
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_us_per_op(self) -> float:
        """Server CPU microseconds per successful request."""
        return self.server_cpu_s / self.ok * 1e6 if self.ok else float("nan")

    def as_json(self) -> dict[str, Any]:
        """JSON-ready figures."""
        data = asdict(self)
        data["per_second"] = round(self.per_second, 1)
        data["cpu_us_per_op"] = round(self.cpu_us_per_op, 1)
        return data


@dataclass(slots=True)
class Check:
    """Nothing lost, nothing duplicated, in one server's run.

    Attributes:
        sent_ok: Sends acknowledged ``ok`` (new or duplicate).
        unacknowledged: Sends (distinct ``client_id``) never acknowledged ``ok``.
        stored: Rows of this run found in the database.
        lost: Acknowledged messages missing from the database (or stored differently).
        duplicated_rows: ``client_id`` values of this run stored more than once.
        undelivered: Stored messages whose ``message:new`` did not reach the author's socket.
        duplicate_deliveries: ``message:new`` received more than once for one message.
        concurrent_pairs: Concurrent duplicate pairs sent.
        pair_violations: Pairs whose acks disagree on the id, or where not exactly one
            ack says the message was new, or whose retry was not a duplicate of it.
    """

    sent_ok: int = 0
    unacknowledged: int = 0
    stored: int = 0
    lost: int = 0
    duplicated_rows: int = 0
    undelivered: int = 0
    duplicate_deliveries: int = 0
    concurrent_pairs: int = 0
    pair_violations: int = 0

    @property
    def clean(self) -> bool:
        """Whether nothing was lost or duplicated."""
        return not (
            self.unacknowledged
            or self.lost
            or self.duplicated_rows
            or self.undelivered
            or self.duplicate_deliveries
            or self.pair_violations
        )


@dataclass(slots=True)
class ServerRun:
    """Every phase of one server kind on one database."""

    kind: str
    phases: dict[str, PhaseResult] = field(default_factory=dict)
    check: Check = field(default_factory=Check)


def tree_cpu_s(pid: int) -> float:
    """CPU seconds used so far by a process and all its descendants (several workers)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            total += cpu_sample(current).precise_s
        except OSError:
            continue
        try:
            for task in os.scandir(f"/proc/{current}/task"):
                with open(f"{task.path}/children") as f:
                    pending.extend(int(child) for child in f.read().split())
        except OSError:
            pass
    return total


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


# ---------------------------------------------------------------------- set-up


async def set_up(base_url: str, params: LoadParams, tag: str, kinds: list[str]) -> list[BenchUser]:
    """Make the users, their communities and channels through the gateway's REST API.

    User ``i`` owns community ``i`` (whose ``general`` channel only it is in: fan-out 1),
    joins community ``i+1``, and owns ``joins`` extra channels per server kind in its own
    community, which user ``i-1`` joins over the socket in the ``channel:join`` phase.
    """
    limit = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:

        async def call(method: str, path: str, token: str | None, body: Any = None) -> Any:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with limit:
                response = await http.request(method, path, json=body, headers=headers)
            if response.status_code >= 300:
                raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
            return response.json() if response.content else None

        async def make(i: int) -> BenchUser:
            name = f"b{tag}u{i}"
            signed = await call(
                "POST", "/api/auth/signup", None, {"username": name, "password": PASSWORD}
            )
            token = signed["access_token"]
            community = await call("POST", "/api/communities", token, {"name": f"bench {tag} {i}"})
            channels = await call("GET", f"/api/communities/{community['id']}/channels", token)
            user = BenchUser(
                index=i,
                user_id=signed["user"]["id"],
                token=token,
                community_id=community["id"],
                channel_id=channels[0]["id"],
            )
            for kind in kinds:
                made = []
                for k in range(params.joins):
                    channel = await call(
                        "POST",
                        f"/api/communities/{community['id']}/channels",
                        token,
                        {"name": f"{kind}-{k}"},
                    )
                    made.append(channel["id"])
                user.joinable[kind] = made
            return user

        users = list(await asyncio.gather(*(make(i) for i in range(params.users))))
        n = len(users)

        async def befriend(user: BenchUser) -> None:
            neighbour = users[(user.index + 1) % n]
            if neighbour is not user:
                await call("POST", f"/api/communities/{neighbour.community_id}/join", user.token)
            user.neighbour_community_id = neighbour.community_id

        await asyncio.gather(*(befriend(u) for u in users))
    return users


# ---------------------------------------------------------------------- phases


class _Phase:
    """Collects one phase's acks and times; CPU is read around it."""

    def __init__(self, name: str, pid: int) -> None:
        self.name = name
        self.pid = pid
        self.latencies: list[float] = []
        self.errors: Counter[str] = Counter()
        self.requests = 0
        self.ok = 0
        self.acks: list[tuple[int, Any]] = []

    async def call(
        self, client: GatewayClient, event: str, payload: dict[str, Any], timeout: float, who: int
    ) -> Any:
        self.requests += 1
        try:
            ack, seconds = await client.request(event, payload, timeout)
        except Exception as exc:
            self.errors[type(exc).__name__] += 1
            return None
        self.latencies.append(seconds)
        if isinstance(ack, dict) and ack.get("ok"):
            self.ok += 1
            self.acks.append((who, ack.get("data")))
        else:
            code = ack.get("error", {}).get("code") if isinstance(ack, dict) else None
            self.errors[str(code)] += 1
        return ack

    async def run(self, work: Any, budget: float) -> PhaseResult:
        before = tree_cpu_s(self.pid)
        started = time.perf_counter()
        try:
            await asyncio.wait_for(work, budget)
        except TimeoutError:
            self.errors["phase_timeout"] += 1
        seconds = time.perf_counter() - started
        cpu = tree_cpu_s(self.pid) - before
        ms = [x * 1000 for x in self.latencies]
        return PhaseResult(
            name=self.name,
            requests=self.requests,
            ok=self.ok,
            errors=dict(self.errors),
            seconds=round(seconds, 4),
            server_cpu_s=round(cpu, 5),
            p50_ms=round(statistics.median(ms), 2) if ms else float("nan"),
            p99_ms=round(_percentile(ms, 0.99), 2),
            max_ms=round(max(ms), 2) if ms else float("nan"),
        )


def _send_payload(user: BenchUser, key: str, body: str) -> dict[str, Any]:
    return {
        "community_id": user.community_id,
        "channel_id": user.channel_id,
        "body": body,
        "client_id": key,
    }


async def run_phases(
    url: str,
    pid: int,
    kind: str,
    users: list[BenchUser],
    params: LoadParams,
    paced_rate: float | None,
    database: Any,
) -> ServerRun:
    """Connect every user to one server and run the phases; then check what was stored.

    Args:
        url: ``ws://host:port`` of the server.
        pid: Its process id (for CPU).
        kind: ``"gateway"`` or ``"reference"`` (tags the client ids and channels).
        users: The set-up's users.
        params: The load.
        paced_rate: Messages per second of the paced run; ``None`` for half this run's own
            burst rate.
        database: A :class:`bench.gateway.database.Database` to check the stored rows.

    Returns:
        The run's figures and checks.
    """
    timeout = params.request_timeout
    clients = [GatewayClient(url, u.token) for u in users]
    limit = asyncio.Semaphore(32)

    async def open_one(client: GatewayClient) -> None:
        async with limit:
            await client.connect(timeout)

    await asyncio.wait_for(asyncio.gather(*(open_one(c) for c in clients)), 120)
    run = ServerRun(kind=kind)
    sent: dict[str, tuple[int, str]] = {}  # client_id -> (user index, body)
    acked: dict[str, int] = {}  # client_id -> message id
    budget = timeout * 2 + 30
    try:
        # -- burst: a closed loop per user, all users at once.
        burst = _Phase("message:send", pid)

        async def sender(user: BenchUser, client: GatewayClient) -> None:
            for k in range(params.messages):
                key = f"{kind}-s-{user.index}-{k}"
                body = f"hello {k} from {user.index}"
                sent[key] = (user.index, body)
                ack = await burst.call(
                    client, "message:send", _send_payload(user, key, body), timeout, user.index
                )
                if isinstance(ack, dict) and ack.get("ok"):
                    acked[key] = ack["data"]["id"]

        run.phases["message:send"] = await burst.run(
            asyncio.gather(*(sender(u, c) for u, c in zip(users, clients, strict=True))), budget
        )

        # -- concurrent duplicates and a retry (checked, not timed).
        dup = _Phase("duplicates", pid)
        check = run.check

        async def duplicates(user: BenchUser, client: GatewayClient) -> None:
            for k in range(params.duplicates):
                key = f"{kind}-d-{user.index}-{k}"
                body = f"twice {k} from {user.index}"
                sent[key] = (user.index, body)
                payload = _send_payload(user, key, body)
                first, second = await asyncio.gather(
                    dup.call(client, "message:send", payload, timeout, user.index),
                    dup.call(client, "message:send", payload, timeout, user.index),
                )
                retry = await dup.call(client, "message:send", payload, timeout, user.index)
                check.concurrent_pairs += 1
                acks = [first, second, retry]
                if not all(isinstance(a, dict) and a.get("ok") for a in acks):
                    check.pair_violations += 1
                    continue
                ids = {a["data"]["id"] for a in acks}
                new = [not a["data"]["duplicate"] for a in acks]
                if len(ids) != 1 or new[:2].count(True) != 1 or new[2]:
                    check.pair_violations += 1
                acked[key] = first["data"]["id"]

        run.phases["duplicates"] = await dup.run(
            asyncio.gather(*(duplicates(u, c) for u, c in zip(users, clients, strict=True))),
            budget,
        )

        # -- edits of one's own messages, closed loop.
        edit = _Phase("message:edit", pid)

        async def editor(user: BenchUser, client: GatewayClient) -> None:
            for k in range(params.edits):
                mid = acked.get(f"{kind}-s-{user.index}-{k % max(1, params.messages)}")
                if mid is None:
                    continue
                payload = {"message_id": mid, "body": f"edited {k} by {user.index}"}
                await edit.call(client, "message:edit", payload, timeout, user.index)

        run.phases["message:edit"] = await edit.run(
            asyncio.gather(*(editor(u, c) for u, c in zip(users, clients, strict=True))), budget
        )

        # -- channel:join of the neighbour's channels made for this kind.
        join = _Phase("channel:join", pid)
        by_community = {u.community_id: u for u in users}

        async def joiner(user: BenchUser, client: GatewayClient) -> None:
            owner = by_community[user.neighbour_community_id]
            if owner is user:
                return
            for chid in owner.joinable.get(kind, []):
                payload = {"community_id": owner.community_id, "channel_id": chid}
                await join.call(client, "channel:join", payload, timeout, user.index)

        run.phases["channel:join"] = await join.run(
            asyncio.gather(*(joiner(u, c) for u, c in zip(users, clients, strict=True))), budget
        )

        # -- presence:get of one's own community, closed loop.
        presence = _Phase("presence:get", pid)

        async def looker(user: BenchUser, client: GatewayClient) -> None:
            for _ in range(params.presence):
                payload = {"community_id": user.community_id}
                await presence.call(client, "presence:get", payload, timeout, user.index)

        run.phases["presence:get"] = await presence.run(
            asyncio.gather(*(looker(u, c) for u, c in zip(users, clients, strict=True))), budget
        )

        # -- paced: open loop at a fixed rate, spread over the users.
        if paced_rate is None:
            paced_rate = run.phases["message:send"].per_second / 2
        if paced_rate > 0:
            paced = _Phase("message:send paced", pid)
            count = int(min(params.paced_max, max(len(users), paced_rate * params.paced_seconds)))
            tasks: list[asyncio.Task[Any]] = []

            async def one(i: int) -> None:
                user, client = users[i % len(users)], clients[i % len(users)]
                key = f"{kind}-p-{user.index}-{i}"
                body = f"paced {i} from {user.index}"
                sent[key] = (user.index, body)
                ack = await paced.call(
                    client, "message:send", _send_payload(user, key, body), timeout, user.index
                )
                if isinstance(ack, dict) and ack.get("ok"):
                    acked[key] = ack["data"]["id"]

            async def pace() -> None:
                start = time.perf_counter()
                for i in range(count):
                    delay = start + i / paced_rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    tasks.append(asyncio.create_task(one(i)))
                await asyncio.gather(*tasks)

            result = await paced.run(pace(), params.paced_seconds + budget)
            result.rate = round(paced_rate, 1)
            run.phases["message:send paced"] = result

        # -- every acknowledged message stored once and delivered once.
        await _wait_deliveries(clients, users, acked, sent)
        stored = await database.messages_like(f"{kind}-%")
        check.sent_ok = len(acked)
        check.unacknowledged = len(sent) - len(acked)
        check.stored = len(stored)
        rows_per_key = Counter(row[1] for row in stored)
        check.duplicated_rows = sum(1 for n in rows_per_key.values() if n > 1)
        by_key = {row[1]: row for row in stored}
        for key, mid in acked.items():
            row = by_key.get(key)
            if row is None or row[0] != mid:
                check.lost += 1
        for key, row in by_key.items():
            who = sent.get(key, (None, ""))[0]
            if who is None:
                continue
            got = clients[who].new_ids.get(row[0], 0)
            if got == 0:
                check.undelivered += 1
            elif got > 1:
                check.duplicate_deliveries += 1
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    return run


async def _wait_deliveries(
    clients: list[GatewayClient],
    users: list[BenchUser],
    acked: dict[str, int],
    sent: dict[str, tuple[int, str]],
    grace: float = 5.0,
) -> None:
    """Wait (bounded) until every acknowledged message's broadcast has arrived."""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        missing = sum(
            1 for key, mid in acked.items() if clients[sent[key][0]].new_ids.get(mid, 0) == 0
        )
        if not missing:
            return
        await asyncio.sleep(0.05)
