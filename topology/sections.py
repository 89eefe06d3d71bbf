"""The report's parts beyond loopback: latency, moving around, client-side cost, the
browser's timeline and the cluster model (markdown lines and PNG plots).

:func:`noticeable` computes the conclusion from the data: for each client and N, the
smallest RTT at which A (pipelined, and awaited one by one) is ready at least
:data:`NOTICEABLE_MS` later than B.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

__all__ = [
    "NOTICEABLE_MS",
    "PLOTS",
    "clients_section",
    "cluster_section",
    "fmt",
    "latency_section",
    "moving_section",
    "noticeable",
    "plot_parts",
    "table",
]

Record = dict[str, Any]

#: A delay a person notices in an interface (about 0.1 s: below it a response feels instant).
NOTICEABLE_MS = 100.0
PLOTS: tuple[tuple[str, str], ...] = (
    ("latency_ready.png", "Time to ready against round-trip time"),
    ("client_cost.png", "Client-side cost of one connected user"),
)
KIND_NAMES = {
    "wire-ws": "counting client, WebSocket only",
    "wire-polling": "counting client, polling only",
    "node": "socket.io-client (Node), polling first",
    "node-ws": "socket.io-client (Node), WebSocket only",
    "chromium": "socket.io-client (Chromium), polling first",
    "plexio": "plexio client, polling first",
}


def fmt(value: Any, digits: int = 1) -> str:
    """``value`` with ``digits`` decimals (thousands grouped from 1,000 at one decimal or
    fewer); "–" for NaN or a missing value."""
    if not isinstance(value, int | float) or value != value:
        return "–"
    if abs(value) >= 1000 and digits <= 1:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table, one line per row."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out.extend("| " + " | ".join(r) + " |" for r in rows)
    return out


def _net_name(p: Record) -> str:
    base = f"{p['rtt_ms']:g} ms"
    return f"{base}, {p['kbps']:g} kbit/s" if p.get("kbps") else base


def _ready(points: list[Record], kind: str, style: str, n: int, net: str) -> float:
    for p in points:
        if p["kind"] == kind and p["style"] == style and p["n"] == n and _net_name(p) == net:
            return float(p["ready_ms"])
    return float("nan")


def _slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of ``y`` over ``x`` (NaN with fewer than two distinct x)."""
    if len({x for x, _ in points}) < 2:
        return float("nan")
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    num = sum((x - mx) * (y - my) for x, y in points)
    den = sum((x - mx) ** 2 for x, _ in points)
    return num / den


def noticeable(latency: Record) -> list[dict[str, Any]]:
    """Per client, N and A style: how much later than B A is ready at each RTT, from which
    RTT that is a delay a person notices, and how many round trips the network adds.

    *Noticeable from*: the smallest RTT measured from which A − B (medians) is at least
    :data:`NOTICEABLE_MS` at that RTT and every larger one. *Extra round trips*: the
    least-squares slope of A − B over the RTTs above zero (what the network adds; the
    rest of the difference is client and server work, which loopback shows with the
    scheduling noise of a shared machine).

    Returns:
        ``{"kind", "n", "style", "diffs" ([(rtt, A − B ms)]), "rtt_ms" (None: never),
        "extra_rts", "extra_ms" (A − B at the largest RTT), "top_rtt_ms"}`` rows.
    """
    points = [p for p in latency.get("points", []) if not p.get("kbps")]
    rtts = sorted({p["rtt_ms"] for p in points})
    out = []
    for kind in sorted({p["kind"] for p in points}):
        for n in sorted({p["n"] for p in points}):
            for style in ("A", "A-seq"):
                diffs = []
                for rtt in rtts:
                    net = f"{rtt:g} ms"
                    diff = _ready(points, kind, style, n, net) - _ready(points, kind, "B", n, net)
                    if diff == diff:
                        diffs.append((float(rtt), diff))
                if len(diffs) < 2:
                    continue
                first = None
                for i, (rtt, _) in enumerate(diffs):
                    if all(d >= NOTICEABLE_MS for _, d in diffs[i:]):
                        first = rtt
                        break
                out.append(
                    {
                        "kind": kind,
                        "n": n,
                        "style": style,
                        "diffs": diffs,
                        "rtt_ms": first,
                        "extra_rts": _slope([d for d in diffs if d[0] > 0]),
                        "extra_ms": diffs[-1][1],
                        "top_rtt_ms": diffs[-1][0],
                    }
                )
    return out


def latency_conclusion(latency: Record) -> list[str]:
    """Sentences computed from :func:`noticeable`, one per A style."""
    rows = noticeable(latency)
    if not rows:
        return []
    lines = []
    for style, what in (
        ("A", "A, the namespaces opened in one tick"),
        ("A-seq", "A, each namespace awaited before the next"),
    ):
        mine = [r for r in rows if r["style"] == style]
        if not mine:
            continue
        slow = sorted(
            (r for r in mine if r["rtt_ms"] is not None), key=lambda r: (r["rtt_ms"], -r["n"])
        )
        fast = [r for r in mine if r["rtt_ms"] is None]
        parts = []
        if slow:
            parts.append(
                f"ready ≥ {NOTICEABLE_MS:g} ms after B with "
                + "; ".join(
                    f"{r['kind']} N={r['n']} from {r['rtt_ms']:g} ms RTT "
                    f"(+{fmt(r['extra_ms'], 0)} ms at {r['top_rtt_ms']:g} ms, "
                    f"{fmt(r['extra_rts'], 1)} extra round trips)"
                    for r in slow
                )
            )
        if fast:
            parts.append(
                f"never noticeably later up to {max(r['top_rtt_ms'] for r in fast):g} ms RTT "
                "with " + ", ".join(f"{r['kind']} N={r['n']}" for r in fast)
            )
        lines.append(f"- **{what}**: " + "; ".join(parts) + ".")
    return lines


def _noticeable_table(latency: Record) -> list[str]:
    rows = noticeable(latency)
    if not rows:
        return []
    rtts = [rtt for rtt, _ in rows[0]["diffs"]]
    body = []
    for r in sorted(
        rows,
        key=lambda r: (
            r["style"],
            list(KIND_NAMES).index(r["kind"]) if r["kind"] in KIND_NAMES else 9,
            r["n"],
        ),
    ):
        by_rtt = dict(r["diffs"])
        body.append(
            [
                r["style"],
                r["kind"],
                str(r["n"]),
                *[fmt(by_rtt.get(rtt, float("nan")), 0) for rtt in rtts],
                fmt(r["extra_rts"], 1),
                f"{r['rtt_ms']:g}" if r["rtt_ms"] is not None else "never",
            ]
        )
    return table(
        [
            "style",
            "client",
            "N",
            *[f"A − B ms at {rtt:g} ms" for rtt in rtts],
            "extra round trips (slope, RTT > 0)",
            f"≥ {NOTICEABLE_MS:g} ms later from RTT ms",
        ],
        body,
    )


def latency_section(results: Record) -> list[str]:
    """The latency tables and the computed conclusion."""
    latency = results.get("latency")
    if not latency or not latency.get("points"):
        return []
    points = latency["points"]
    nets = []
    for p in sorted(points, key=lambda p: (p["rtt_ms"], p.get("kbps") or 0)):
        if _net_name(p) not in nets:
            nets.append(_net_name(p))
    plan = latency.get("plan", {})
    md = [
        "## On a network: time to ready through a delay proxy",
        "",
        "A TCP proxy started by the tool (`topology/delayproxy.py`) adds half the RTT to "
        "every chunk in each direction, one RTT to every new TCP connection (the handshake), "
        "and optionally caps each direction of each connection "
        "(`python -m topology --parts latency --rtt-ms 20,50,150 --kbps 1000`). One user "
        f"connects {plan.get('samples', '?')} times per point, each time through a fresh "
        "proxy; the table gives the median time from the first byte to subscribed to every "
        "community. *RTs (proxy)* are the round trips on the critical path as the proxy "
        "counted them (TCP handshakes included; in-process clients only: the proxy is read "
        "the moment the client is ready). *TCP connections*: what the client opened "
        "through the proxy for the whole session (its close included). *RTs (time)* are "
        "(ready at the largest RTT − ready on loopback) / RTT: what the delay cost, in RTTs. "
        "Styles: **A** opens the N namespaces in one tick, **A-seq** awaits each namespace "
        "before the next, **B** one CONNECT (server subscribes), **B-sub** CONNECT then a "
        "`subscribe` event with an ack.",
        "",
    ]
    uncapped = [n for n in nets if "kbit" not in n]
    top = uncapped[-1] if uncapped else ""
    top_rtt = max((p["rtt_ms"] for p in points if not p.get("kbps")), default=0)
    header = [
        "client",
        "N",
        "style",
        *[f"ready ms, {n}" for n in nets],
        "RTs (proxy)",
        f"RTs (time, {top})",
        f"TCP connections ({top})",
    ]
    rows = []
    keys = sorted(
        {(p["kind"], p["n"], p["style"]) for p in points},
        key=lambda k: (list(KIND_NAMES).index(k[0]) if k[0] in KIND_NAMES else 9, k[1], k[2]),
    )
    for kind, n, style in keys:
        proxy_rts = [
            p.get("proxy_round_trips")
            for p in points
            if (p["kind"], p["n"], p["style"]) == (kind, n, style) and p["rtt_ms"] == top_rtt
        ]
        base = _ready(points, kind, style, n, "0 ms")
        eff = (_ready(points, kind, style, n, top) - base) / top_rtt if top_rtt else float("nan")
        rts = proxy_rts[0] if proxy_rts and proxy_rts[0] is not None else "–"
        conns = [
            p.get("proxy_total", {}).get("connections")
            for p in points
            if (p["kind"], p["n"], p["style"]) == (kind, n, style) and p["rtt_ms"] == top_rtt
        ]
        rows.append(
            [
                kind,
                str(n),
                style,
                *[fmt(_ready(points, kind, style, n, net), 0) for net in nets],
                str(rts),
                fmt(eff, 1),
                str(conns[0]) if conns and conns[0] is not None else "–",
            ]
        )
    md += table(header, rows)
    md += [
        "",
        f"**Where a person notices** (computed from the table): a person notices about "
        f"{NOTICEABLE_MS:g} ms. For each client and N, A − B is the difference of the "
        f"medians; A is noticeably slower from the smallest RTT at which A − B ≥ "
        f"{NOTICEABLE_MS:g} ms there and at every larger RTT. The extra round trips are the "
        "slope of A − B over the RTTs above zero: what the network adds (the rest is client "
        "and server work — 50 sockets in a freshly opened page, for one — which loopback "
        "shows with the scheduling noise of this shared machine).",
        "",
        *_noticeable_table(latency),
        "",
    ]
    md += latency_conclusion(latency)
    if latency.get("errors"):
        md += ["", *[f"- problem: {e}" for e in latency["errors"][:20]]]
    md.append("")
    return md


_MOVE_HEADER = [
    "N",
    "transport",
    "topology",
    "move",
    "packets sent / received",
    "frames or requests sent / received",
    "bytes sent / received",
    "RTs (client)",
    "RTs (proxy)",
    "ms at the proxy RTT",
]


def moving_section(results: Record) -> list[str]:
    """The moving-around table."""
    moving = results.get("moving")
    if not moving or not moving.get("points"):
        return []
    plan = moving.get("plan", {})
    rows = []
    cpu_rows = []
    for p in moving["points"]:
        for move, m in p["moves"].items():
            rows.append(
                [
                    str(p["n"]),
                    p["transport"],
                    p["topology"],
                    f"`{move}`",
                    f"{fmt(m['packets_tx'], 0)} / {fmt(m['packets_rx'], 0)}",
                    f"{fmt(m['frames_tx'], 0)} / {fmt(m['frames_rx'], 0)}",
                    f"{fmt(m['bytes_tx'], 0)} / {fmt(m['bytes_rx'], 0)}",
                    fmt(m["round_trips"], 0),
                    fmt(m.get("proxy_round_trips"), 0),
                    fmt(m.get("ms_at_rtt"), 0),
                ]
            )
        for cycle, c in p["cycles"].items():
            cpu_rows.append(
                [
                    str(p["n"]),
                    p["transport"],
                    p["topology"],
                    cycle,
                    fmt(c["server_cpu_us"], 0),
                ]
            )
    md = [
        "## Moving around: leaving and joining a channel and a community",
        "",
        "After connecting, one user leaves and joins a channel, then leaves and joins a "
        f"community, {plan.get('reps', '?')} times (figures per move). A: a channel move is "
        "an event with an ack in the community's namespace; leaving a community sends a "
        "DISCONNECT for its namespace (socket.io-client does not wait for anything), "
        "joining it is a new CONNECT with the token (verified again, a new server socket). "
        "B: every move is an event with an ack in `/socket` (`channel:join`/`channel:leave`, "
        "`unsubscribe`/`subscribe`). *RTs (proxy)* come from a second user doing each move "
        f"once through the delay proxy at {plan.get('rtt_ms', '?')} ms RTT (the counting "
        "polling client waits for the POST's `ok`, one round trip that socket.io-client "
        "would not wait for).",
        "",
        *table(_MOVE_HEADER, rows),
        "",
        "Server CPU per cycle (leave + join, µs, /proc schedstat; shared machine):",
        "",
        *table(["N", "transport", "topology", "cycle", "server CPU µs"], cpu_rows),
    ]
    if moving.get("errors"):
        md += ["", *[f"- problem: {e}" for e in moving["errors"][:20]]]
    md.append("")
    return md


def clients_section(results: Record) -> list[str]:
    """Client-side cost per namespace, and the browser's timelines."""
    clients = results.get("clients")
    if not clients:
        return []
    md: list[str] = []
    points = clients.get("points", [])
    if points:
        rows = []
        for p in sorted(points, key=lambda p: (p["kind"], p["style"], p["n"])):
            cpu = p.get("task_ms") if p["kind"] == "chromium" else p.get("cpu_us", 0) / 1e3
            rows.append(
                [
                    p["kind"],
                    p["style"],
                    str(p["n"]),
                    fmt(p.get("ready_ms"), 1),
                    fmt(p.get("heap_bytes", float("nan")) / 1024, 1),
                    fmt(cpu, 2),
                    fmt(p.get("sockets"), 0),
                    fmt(p.get("gc_objects"), 0),
                ]
            )
        slope_rows = []
        for kind, d in clients.get("per_namespace", {}).items():
            cpu = d.get("task_ms") if kind == "chromium" else d.get("cpu_us", float("nan")) / 1e3
            slope_rows.append(
                [
                    kind,
                    fmt(d.get("heap_bytes", float("nan")) / 1024, 2),
                    fmt(cpu, 3),
                    fmt(d.get("gc_objects"), 0),
                    fmt(d.get("ready_ms"), 2),
                ]
            )
        md += [
            "## Real clients: what a connected user costs the client",
            "",
            "One user connects straight to the server (loopback), in A (N namespaces) and B "
            "(one), with socket.io-client 4.8 under Node (`node --expose-gc`: heap growth "
            "after GC, `process.cpuUsage` of the connect) and in Chromium (the measurement "
            "page, Playwright + CDP: JS heap growth after `HeapProfiler.collectGarbage`, "
            "main-thread `TaskDuration` of the connect), and with plexio's client in the "
            "tool's process (`tracemalloc` bytes, `gc` objects, `process_time`). Medians of "
            f"{clients.get('plan', {}).get('samples', '?')} connects; CPU and heap figures of "
            "a few ms / KiB are noisy on the shared machine.",
            "",
            *table(
                [
                    "client",
                    "style",
                    "N",
                    "ready ms",
                    "heap KiB",
                    "CPU ms",
                    "sockets",
                    "Python objects",
                ],
                rows,
            ),
            "",
            "Per namespace (slope over N in A):",
            "",
            *table(
                ["client", "heap KiB", "CPU ms", "Python objects", "ready ms"],
                slope_rows,
            ),
            "",
        ]
    har = clients.get("har", {})
    if har:
        plan = clients.get("plan", {})
        md += [
            "## What the browser's network log shows",
            "",
            f"Chromium with socket.io-client's defaults (polling first), N={plan.get('har_n')}, "
            f"through the delay proxy at {plan.get('har_rtt_ms')} ms RTT. HAR files: "
            + ", ".join(f"[`{h['file']}`]({h['file']})" for h in har.values())
            + ". Reproduce with `python -m topology.har capture --out /tmp/har` (prints these "
            "timelines) or print a saved one with `python -m topology.har show FILE.har`. "
            "Steps: 1 handshake, 2 first CONNECT sent, 3 first CONNECT reply, 4 upgrade "
            "probe, 5 upgrade done.",
            "",
        ]
        for style, h in har.items():
            md += [
                f"**{style}** — ready after {fmt(h['ready_ms'], 0)} ms:",
                "",
                "```",
                h["text"],
                "```",
                "",
            ]
        md += _har_notes(har)
    if clients.get("errors"):
        md += [*[f"- problem: {e}" for e in clients["errors"][:20]], ""]
    return md


def _har_notes(har: Record) -> list[str]:
    """Which request carried the CONNECTs, computed from the A timeline."""
    a = har.get("A")
    if not a:
        return []
    carriers = []
    for e in a["events"]:
        connects = [p for p in e["packets"] if p.startswith("40")]
        if e["direction"] == "→" and connects:
            carriers.append(f"{e['channel']} ({len(connects)})")
    replies = []
    for e in a["events"]:
        oks = [p for p in e["packets"] if p.startswith("40")]
        if e["direction"] == "←" and oks:
            replies.append(f"{e['channel']} ({len(oks)})")
    return [
        f"- In A the CONNECTs left in: {', '.join(carriers) or '–'}; their replies came "
        f"in: {', '.join(replies) or '–'} (request, number of CONNECT packets).",
        "",
    ]


def cluster_section(results: Record) -> list[str]:
    """Redis costs, the measured 3-node cluster, the model's check and its extrapolation."""
    cluster = results.get("cluster")
    if not cluster or not cluster.get("model"):
        return []
    md = [
        "## Cluster scale: what one channel message costs Redis and every node",
        "",
        "How a Socket.IO Redis adapter routes a room broadcast (plexio's adapter speaks "
        "`@socket.io/redis-adapter`'s protocol): classic pub/sub — a node pattern-subscribes "
        "`socket.io#<nsp>#*` for every namespace it has instantiated, and a broadcast to one "
        "room is one PUBLISH on `socket.io#<nsp>#<room>#` that Redis sends to every node "
        "subscribed to the namespace, which drops it when it has no socket in the room; "
        "sharded (`SPUBLISH`, Redis Cluster) static — one channel per namespace, same "
        "receivers; sharded dynamic — one channel per room, subscribed only by nodes with a "
        "socket in it. A instantiates a community's namespace only on the nodes where a "
        "member is connected, so in classic mode only those hear its messages; B's single "
        "namespace makes every node hear every message unless sharded-dynamic.",
        "",
    ]
    redis = cluster.get("redis")
    if redis and redis.get("points"):
        rows = [
            [
                "SPUBLISH" if p["sharded"] else "PUBLISH",
                f"{p['patterns']:,}",
                str(p["receivers"]),
                str(p["messages"]),
                fmt(p["redis_cpu_us_per_message"], 2),
                fmt(p["usec_per_call"], 2),
                " / ".join(str(c) for c in p["received_per_subscriber"]),
            ]
            for p in redis["points"]
        ]
        classic, sharded = redis["classic"], redis["sharded"]
        md += [
            "### Redis's CPU per message (real redis-server)",
            "",
            "Subscribers subscribe like adapter nodes; other namespaces' patterns are added "
            "to show what PUBLISH pays for each distinct subscribed pattern. *Redis CPU* is "
            "the redis-server process's CPU (/proc) per message, writes to the receivers "
            "included; *command* is `INFO commandstats`' `usec_per_call`. Shared machine: "
            "compare orders of magnitude.",
            "",
            *table(
                [
                    "command",
                    "other patterns",
                    "receivers",
                    "messages",
                    "Redis CPU µs/msg",
                    "command µs",
                    "received per subscriber",
                ],
                rows,
            ),
            "",
            f"Fitted: PUBLISH {fmt(classic['base_us'], 2)} µs + "
            f"{fmt(classic['per_pattern_us'], 4)} µs per pattern + "
            f"{fmt(classic['per_receiver_us'], 2)} µs per receiver; SPUBLISH "
            f"{fmt(sharded['base_us'], 2)} µs + {fmt(sharded['per_receiver_us'], 2)} µs per "
            f"receiver. A node's floor to receive and parse one message (redis-py): "
            f"{fmt(redis.get('receive_us'), 1)} µs. Adapter message: "
            f"{redis.get('payload_bytes')} bytes of MessagePack.",
            "",
        ]
    measured = cluster.get("measured")
    if measured and measured.get("designs"):
        plan = measured["plan"]
        rows = []
        for design, d in measured["designs"].items():
            for n in d["per_node"]:
                rows.append(
                    [
                        design,
                        str(n["node"]),
                        f"{n['published']} ({n['published_predicted']})",
                        f"{n['received']} ({n['received_predicted']})",
                        str(n["self"]),
                        str(n["useful"]),
                        f"{n['discarded']} ({n['discarded_predicted']})",
                        fmt(n["cpu_us_per_message"], 0),
                    ]
                )
        totals = [
            [
                design,
                f"{d['deliveries']:,} / {d['expected_deliveries']:,}",
                fmt(d["published_per_message"], 2),
                fmt(d["received_per_message"], 2),
                fmt(d["discarded_per_message"], 2),
                fmt(d["redis_bytes_down_per_message"], 0),
                fmt(d["redis_cpu_us_per_message"], 1),
                fmt(d["node_cpu_us_per_message"], 0),
            ]
            for design, d in measured["designs"].items()
        ]
        md += [
            f"### Measured: {plan['nodes']} gateway processes on plexio's Redis adapters, "
            "classic and sharded",
            "",
            *(
                [f"Run {measured['started_utc']} (re-run on its own, after the rest)."]
                if measured.get("started_utc")
                else []
            ),
            "",
            f"{plan['users']} users (user u on node u mod {plan['nodes']}), "
            f"{plan['per_user']} communities each of ~{plan['members']} members, "
            f"{plan['messages']} channel messages posted one at a time by random users. "
            "*classic*: one redis-server, each node reaches it through its own counting "
            "proxy; *published* counts PUBLISH commands, *received* pattern messages pushed "
            "by Redis. *sharded*: a 3-master Redis Cluster, plexio's sharded adapter in "
            "dynamic mode (a shard channel per room, subscribed by the nodes with a socket "
            "in it); every master announces a counting proxy of its own "
            "(`cluster-announce-port`), so every connection of every node goes through one "
            "and is counted for the gateway process that holds its peer port; *published* "
            "counts SPUBLISH, *received* smessage pushes. In brackets what the placement "
            "predicts. *self*: the node's own messages coming back; *useful*: "
            "messages with a recipient on the node; *discarded* = received − useful − self. "
            "Node CPU (/proc) per message includes delivering to its local recipients; "
            "Redis CPU per message (every Redis process) here includes each unbatched "
            "command's socket reads and writes (the messages are posted one at a time), which "
            "the pipelined measurement above amortises. Shared 2-core machine: CPU figures "
            "are orders of magnitude; the counts are exact.",
            "",
            *table(
                [
                    "design",
                    "node",
                    "published",
                    "received",
                    "self",
                    "useful",
                    "discarded",
                    "node CPU µs per message",
                ],
                rows,
            ),
            "",
            *table(
                [
                    "design",
                    "delivered / expected",
                    "published per msg",
                    "received per msg",
                    "discarded per msg",
                    "Redis bytes out per msg",
                    "Redis CPU µs per msg",
                    "all nodes' CPU µs per msg",
                ],
                totals,
            ),
            "",
        ]
        check = cluster.get("check", {})
        if check.get("designs"):
            md += [
                "Model against the measured case (per message; every user online; the "
                "model's expectation averaged over the communities the messages were "
                "posted in; *B sharded* is the model's B sharded-dynamic — with few nodes "
                "and small communities the spread of a random "
                "placement is wide, so expect agreement to within a few tenths):",
                "",
                *table(
                    ["design", "received: measured", "model", "discarded: measured", "model"],
                    [
                        [
                            design,
                            fmt(c["received_per_message"], 2),
                            fmt(c["received_model"], 2),
                            fmt(c["discarded_per_message"], 2),
                            fmt(c["discarded_model"], 2),
                        ]
                        for design, c in check["designs"].items()
                    ],
                ),
                "",
            ]
    elif cluster.get("not_measured"):
        md += [f"**Not measured:** {cluster['not_measured']}", ""]
    inputs = cluster.get("inputs") or cluster["model"][0]["inputs"]
    md += [
        "### The model, extended",
        "",
        "With users spread evenly over K nodes, a room with m online members is held by "
        "H(m) = K·(1 − (1 − 1/K)^m) nodes. Per channel message: published 1; Redis "
        "deliveries D = H(c) for A (c online members of the community), K for B classic and "
        "sharded-static, H(m) for B sharded-dynamic (m online members of the channel); "
        "discarded D − H(m). With R channel messages/s a node receives R·D/K and discards "
        "R·(D − H(m))/K per second. Redis CPU per message = base + per_pattern·P + "
        "per_receiver·D, where P, the distinct patterns PUBLISH scans, is one per community "
        "with an online member in A classic (pool·(1 − (1 − online)^members)), 1 in B classic "
        "and 0 with SPUBLISH. Redis executes commands on one core: a share above 100 % means "
        "one Redis (or one shard for one channel) cannot keep up.",
        "",
        "Inputs: "
        + ", ".join(
            f"`{k}`={fmt(v, 4) if isinstance(v, float) else v}"
            for k, v in inputs.items()
            if k not in ("nodes", "users")
        )
        + ".",
        "",
    ]
    rows = []
    for g in cluster["model"]:
        i = g["inputs"]
        for name, d in g["designs"].items():
            rows.append(
                [
                    f"{i['users']:,}",
                    str(i["nodes"]),
                    name,
                    fmt(g["rate_per_s"], 0),
                    fmt(d["redis_deliveries"], 1),
                    fmt(d["discarded"], 1),
                    fmt(d["node_received_s"], 0),
                    fmt(d["node_discarded_s"], 0),
                    fmt(100 * d["node_cpu_discard_share"], 1),
                    fmt(d["patterns"], 0),
                    fmt(100 * d["redis_cpu_share"], 0),
                    fmt(d["redis_bytes_out_s"] / 1e6, 1),
                ]
            )
    md += table(
        [
            "users",
            "nodes",
            "design",
            "channel msgs/s",
            "Redis deliveries per msg",
            "discarded per msg",
            "received per node/s",
            "discarded per node/s",
            "node CPU on discards %",
            "patterns PUBLISH scans",
            "Redis CPU %",
            "Redis out MB/s",
        ],
        rows,
    )
    md.append("")
    md += _cluster_answer(cluster)
    if cluster.get("errors"):
        md += [*[f"- problem: {e}" for e in cluster["errors"][:20]], ""]
    return md


def _cluster_answer(cluster: Record) -> list[str]:
    """Sentences computed from the largest modelled size."""
    biggest = max(cluster["model"], key=lambda g: (g["inputs"]["users"], g["inputs"]["nodes"]))
    i, d = biggest["inputs"], biggest["designs"]

    def pct(name: str, key: str) -> str:
        return fmt(100 * d[name][key], 0)

    return [
        f"At {i['users']:,} users on {i['nodes']} nodes ({fmt(biggest['rate_per_s'], 0)} "
        f"channel messages/s): A classic makes every PUBLISH scan "
        f"{fmt(d['A classic']['patterns'], 0)} patterns — Redis would need "
        f"{pct('A classic', 'redis_cpu_share')} % of a core, so A needs sharded pub/sub; "
        f"B classic sends every message to all {i['nodes']} nodes, "
        f"{fmt(d['B classic']['discarded'], 1)} of which drop it "
        f"({fmt(d['B classic']['node_discarded_s'], 0)} drops/s per node, "
        f"{pct('B classic', 'node_cpu_discard_share')} % of a node's core at the measured "
        f"receive cost; Redis {pct('B classic', 'redis_cpu_share')} % of a core, "
        f"{fmt(d['B classic']['redis_bytes_out_s'] / 1e6, 1)} MB/s out); A sharded and "
        f"B sharded-dynamic send each message only to the "
        f"{fmt(d['B sharded-dynamic']['redis_deliveries'], 1)} nodes that hold the room "
        f"(Redis {pct('A sharded', 'redis_cpu_share')} % of a core, spread over the "
        "cluster's shards).",
        "",
    ]


def plot_parts(results: Record, out: Path) -> list[str]:
    """Writes the plots of these parts; returns the file names written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[str] = []
    latency = results.get("latency", {})
    points = [p for p in latency.get("points", []) if not p.get("kbps")]
    if points:
        kinds = [k for k in KIND_NAMES if any(p["kind"] == k for p in points)]
        ns = sorted({p["n"] for p in points})
        n = 10 if 10 in ns else ns[-1]  # where A and B differ without A-seq dwarfing them
        fig, axes = plt.subplots(1, len(kinds), figsize=(3.2 * len(kinds), 3.6), squeeze=False)
        colors = {"A": "tab:red", "A-seq": "tab:orange", "B": "tab:blue", "B-sub": "tab:green"}
        for ax, kind in zip(axes[0], kinds, strict=True):
            for style, color in colors.items():
                pts = sorted(
                    (p["rtt_ms"], p["ready_ms"])
                    for p in points
                    if p["kind"] == kind and p["style"] == style and p["n"] == n
                )
                if pts:
                    ax.plot(
                        [x for x, _ in pts], [y for _, y in pts], "o-", color=color, label=style
                    )
            ax.set_title(f"{kind}, N={n}", fontsize=9)
            ax.set_xlabel("RTT ms")
            ax.set_ylabel("ready ms (log)")
            ax.set_yscale("log")
            ax.axhline(NOTICEABLE_MS, color="grey", linewidth=0.5)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=7)
        fig.suptitle(dict(PLOTS)["latency_ready.png"])
        fig.tight_layout()
        fig.savefig(out / "latency_ready.png", dpi=80)
        plt.close(fig)
        written.append("latency_ready.png")
    clients = results.get("clients", {}).get("points", [])
    if clients:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for kind, color in (("node", "tab:green"), ("chromium", "tab:blue"), ("plexio", "tab:red")):
            for style, line in (("A", "-"), ("B", "--")):
                costs: list[tuple[int, float, float]] = sorted(
                    (int(p["n"]), float(p.get("heap_bytes", math.nan)) / 1024, _cpu_ms(p))
                    for p in clients
                    if p["kind"] == kind and p["style"] == style
                )
                if not costs:
                    continue
                label = f"{kind} {style}"
                axes[0].plot(
                    [x for x, _, _ in costs],
                    [h for _, h, _ in costs],
                    line,
                    color=color,
                    marker="o",
                    label=label,
                )
                axes[1].plot(
                    [x for x, _, _ in costs],
                    [c for _, _, c in costs],
                    line,
                    color=color,
                    marker="o",
                    label=label,
                )
        axes[0].set_ylabel("heap growth KiB")
        axes[1].set_ylabel("CPU ms of the connect")
        for ax in axes:
            ax.set_xlabel("communities per user (N)")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=7)
        fig.suptitle(dict(PLOTS)["client_cost.png"])
        fig.tight_layout()
        fig.savefig(out / "client_cost.png", dpi=80)
        plt.close(fig)
        written.append("client_cost.png")
    return written


def _cpu_ms(p: Record) -> float:
    if p["kind"] == "chromium":
        return float(p.get("task_ms", math.nan))
    return float(p.get("cpu_us", math.nan)) / 1e3
