"""The benchmark scenarios, at full size and at `--smoke` size.

Each scenario is one kind of measured work with its operation unit:

- `connect` (connect-1ns, connect-5ns): open connections (WebSocket upgrade, Engine.IO open,
  CONNECT to each namespace, wait for every CONNECT reply), `concurrency` at a time; op =
  one client with all its namespaces.
- `echo` (echo-1, echo-100, echo-1000): N clients, each a closed loop of `echo` events with an
  ack (one request in flight per client); op = one ack.
- `binary` (binary-100): the same with a binary attachment of `binary_bytes` (BINARY_EVENT and
  BINARY_ACK); op = one ack.
- `fanout` (fanout-1k, fanout-10k, fanout-inflight-1k with 8 broadcasts in flight at once,
  so a socket has several frames to send per loop tick; fanout-4k-1k and fanout-4k-deflate-1k
  with 4 KB of text, the second with permessage-deflate, so their difference is the cost of
  compression): N clients join a room; one more client emits `fanout` with a window of
  messages in flight; the server broadcasts each to the room; op = one delivery.
- `memory` (memory-10k): open N idle connections; server RSS delta / N (KB per connection).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["SCENARIOS", "Scenario", "scenarios", "smoke"]

COMMU: tuple[str, ...] = tuple(f"/socket/commu-{i}" for i in range(1, 5))
ECHO_PAYLOAD = '{"seq":1,"text":"hello from the plexio bench"}'


@dataclass(frozen=True, slots=True)
class Scenario:
    """One measured workload.

    Attributes:
        name: short key used on the command line and in the results.
        kind: `connect`, `echo`, `binary`, `fanout` or `memory`.
        title: human-readable description for the tables.
        unit: what one operation is (`connection`, `ack`, `delivery`).
        clients: connections to open (members of the room for fan-out).
        namespaces: namespaces each client joins (the first carries events).
        concurrency: connections being opened at once per worker (connect-type).
        warmup_connects: connect-and-close rounds before a connect-type measurement.
        payload: the JSON value echoed (echo) or the padding length source (fanout).
        binary_bytes: attachment size (binary).
        window: fan-out messages in flight.
        padding: fan-out payload padding characters.
        ceiling: the bare WebSocket server (ceiling) can run it (echo and fan-out).
        deflate: the clients offer permessage-deflate (each message compressed on its
            own: ``server_no_context_takeover``); every server enables it for offers.
    """

    name: str
    kind: str
    title: str
    unit: str
    clients: int
    namespaces: tuple[str, ...] = ("/",)
    concurrency: int = 64
    warmup_connects: int = 100
    payload: str = ECHO_PAYLOAD
    binary_bytes: int = 0
    window: int = 2
    padding: int = 24
    ceiling: bool = False
    deflate: bool = False


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("connect-1ns", "connect", "connect, 1 namespace", "connection", 4000),
    Scenario(
        "connect-5ns",
        "connect",
        "connect, 5 namespaces (/ + 4 regex)",
        "connection",
        2000,
        namespaces=("/", *COMMU),
    ),
    Scenario("echo-1", "echo", "echo with ack, 1 client", "ack", 1, ceiling=True),
    Scenario("echo-100", "echo", "echo with ack, 100 clients", "ack", 100, ceiling=True),
    Scenario("echo-1000", "echo", "echo with ack, 1,000 clients", "ack", 1000, ceiling=True),
    Scenario(
        "binary-100",
        "binary",
        "echo with 1 KiB binary attachment, 100 clients",
        "ack",
        100,
        binary_bytes=1024,
        ceiling=True,
    ),
    Scenario(
        "fanout-1k",
        "fanout",
        "room fan-out, 1,000 members",
        "delivery",
        1000,
        window=2,
        ceiling=True,
    ),
    Scenario(
        "fanout-10k",
        "fanout",
        "room fan-out, 10,000 members",
        "delivery",
        10000,
        window=1,
        ceiling=True,
    ),
    Scenario(
        "fanout-inflight-1k",
        "fanout",
        "room fan-out, 1,000 members, 8 broadcasts in flight",
        "delivery",
        1000,
        window=8,
        ceiling=True,
    ),
    Scenario(
        "fanout-4k-1k",
        "fanout",
        "room fan-out of 4 KB text, 1,000 members",
        "delivery",
        1000,
        window=2,
        padding=4000,
    ),
    Scenario(
        "fanout-4k-deflate-1k",
        "fanout",
        "room fan-out of 4 KB text, permessage-deflate, 1,000 members",
        "delivery",
        1000,
        window=2,
        padding=4000,
        deflate=True,
    ),
    Scenario("memory-10k", "memory", "memory per idle connection, 10,000", "connection", 10000),
)

_SMOKE_CLIENTS: dict[str, int] = {
    "connect-1ns": 20,
    "connect-5ns": 10,
    "echo-1": 1,
    "echo-100": 4,
    "echo-1000": 8,
    "binary-100": 4,
    "fanout-1k": 10,
    "fanout-10k": 20,
    "fanout-inflight-1k": 10,
    "fanout-4k-1k": 10,
    "fanout-4k-deflate-1k": 10,
    "memory-10k": 40,
}


def smoke(scenario: Scenario) -> Scenario:
    """The tiny version of a scenario used by `--smoke` (same work, few clients)."""
    return replace(
        scenario,
        clients=_SMOKE_CLIENTS.get(scenario.name, 4),
        concurrency=8,
        warmup_connects=4,
    )


def scenarios(names: list[str] | None, small: bool) -> list[Scenario]:
    """Select scenarios by name or kind, in the canonical order.

    Args:
        names: scenario names or kinds (`echo` selects every echo scenario); None for all.
        small: return the `--smoke` versions.

    Returns:
        The selected scenarios.

    Raises:
        ValueError: a name matches no scenario.
    """
    chosen = list(SCENARIOS)
    if names:
        known = {s.name for s in SCENARIOS} | {s.kind for s in SCENARIOS}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(
                f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(sorted(known))}"
            )
        chosen = [s for s in SCENARIOS if s.name in names or s.kind in names]
    return [smoke(s) for s in chosen] if small else chosen
