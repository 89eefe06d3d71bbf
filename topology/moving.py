"""Moving around after connecting: leaving and joining a channel and a community, A vs B.

Per (N, transport, topology) one user connects straight to a fresh server and repeats
``reps`` cycles of each pair of moves (``channel:leave`` + ``channel:join``,
``community:leave`` + ``community:join``; see :meth:`topology.scenario.User.move`): the
counting client's packets, frames, requests, bytes and round trips per move, and the
server's CPU per cycle (``/proc``; a cycle ends with an acknowledged move, so the server has
done the work when it is read). Then a second user does one cycle through a delay proxy:
the round trips the proxy saw per move and the time each move took at that RTT.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from topology.delayproxy import DelayProxy
from topology.model import Membership, ModelParams
from topology.procstat import cpu_seconds
from topology.progress import Progress
from topology.runner import ServerProcess
from topology.scenario import TRANSPORTS, User
from topology.wire import Traffic

__all__ = ["PAIRS", "MovingPlan", "run_moving"]

HOST = "127.0.0.1"
PAIRS: tuple[tuple[str, str], ...] = (
    ("channel:leave", "channel:join"),
    ("community:leave", "community:join"),
)


@dataclass(frozen=True, slots=True)
class MovingPlan:
    """What the moving-around measurement does.

    Attributes:
        per_user: values of N.
        transports: transports of the counting client.
        reps: cycles per pair for the CPU and traffic figures.
        rtt_ms: RTT of the delay proxy for the round-trip check.
        timeout: bound on each move, in seconds.
    """

    per_user: tuple[int, ...] = (10,)
    transports: tuple[str, ...] = TRANSPORTS
    reps: int = 200
    rtt_ms: float = 100.0
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.reps < 1 or self.rtt_ms <= 0 or not self.per_user:
            raise ValueError(f"bad moving plan: {self}")
        if any(t not in TRANSPORTS for t in self.transports):
            raise ValueError(f"unknown transport in {self.transports}")

    def steps(self) -> int:
        """Points in the plan."""
        return len(self.per_user) * len(self.transports) * 2


async def _measure(
    server: ServerProcess, topology: str, transport: str, communities: list[int], plan: MovingPlan
) -> dict[str, Any]:
    community = communities[0]
    port = server.port
    user = User(0, communities, topology, transport, HOST, port, plan.timeout)
    out: dict[str, Any] = {"moves": {}, "cycles": {}}
    try:
        await user.connect()
        traffic = user.transport.traffic
        for pair in PAIRS:
            totals = {move: Traffic() for move in pair}
            cpu0 = cpu_seconds(server.pid)[1]
            start = time.perf_counter()
            for _ in range(plan.reps):
                for move in pair:
                    before = traffic.copy()
                    await user.move(move, community, 1)
                    totals[move].add(traffic.minus(before))
            wall = time.perf_counter() - start
            cpu = cpu_seconds(server.pid)[1] - cpu0
            for move in pair:
                out["moves"][move] = {k: v / plan.reps for k, v in totals[move].as_dict().items()}
            out["cycles"][" + ".join(pair)] = {
                "server_cpu_us": cpu / plan.reps * 1e6,
                "wall_ms": wall / plan.reps * 1e3,
            }
    finally:
        await user.close()
    # Round trips as a delay proxy sees them, and the time a move takes at that RTT.
    async with DelayProxy(HOST, port, plan.rtt_ms / 2000) as proxy:
        user = User(1, communities, topology, transport, HOST, proxy.port, plan.timeout)
        try:
            await user.connect()
            for pair in PAIRS:
                for move in pair:
                    depth = proxy.stats.round_trips
                    start = time.perf_counter()
                    await user.move(move, community, 1)
                    out["moves"][move]["proxy_round_trips"] = proxy.stats.round_trips - depth
                    out["moves"][move]["ms_at_rtt"] = (time.perf_counter() - start) * 1e3
        finally:
            await user.close()
    return out


async def run_moving(plan: MovingPlan, progress: Progress) -> dict[str, Any]:
    """Runs the measurement; failed points are recorded, not raised."""
    points: list[dict[str, Any]] = []
    errors: list[str] = []
    for n in plan.per_user:
        # Two users in the same N communities (the pool is N): the second one moves
        # through the delay proxy in the community the first one moved in.
        model = ModelParams(users=2, per_user=n)
        communities = Membership(model).of_user[0]
        for transport in plan.transports:
            for topology in ("A", "B"):
                label = f"moving N={n} {transport} {topology}"
                try:
                    async with ServerProcess(model) as server:
                        result = await _measure(server, topology, transport, communities, plan)
                    points.append({"n": n, "transport": transport, "topology": topology, **result})
                except Exception as exc:  # noqa: BLE001 - recorded, the sweep goes on
                    errors.append(f"{label}: {type(exc).__name__}: {exc}")
                    progress.note(f"failed {label}: {exc}")
                progress.step(label)
    return {"plan": asdict(plan), "points": points, "errors": errors}
