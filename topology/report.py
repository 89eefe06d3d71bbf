"""Turns ``results.json`` into ``report.md`` and PNG plots (matplotlib, Agg backend)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from topology.sections import (
    NOTICEABLE_MS,
    clients_section,
    cluster_section,
    fmt,
    latency_conclusion,
    latency_section,
    moving_section,
    plot_parts,
    table,
)
from topology.sections import (
    PLOTS as PART_PLOTS,
)

__all__ = ["PLOTS", "conclusion", "metric", "write_report"]

Record = dict[str, Any]

#: The plots ``write_report`` draws (file name, title).
PLOTS: tuple[tuple[str, str], ...] = (
    ("setup_requests.png", "Frames / HTTP requests sent per user until subscribed"),
    ("setup_bytes.png", "Bytes per user until subscribed (sent + received)"),
    ("time_to_ready.png", "Time to ready"),
    ("server_cpu.png", "Server CPU"),
    ("server_rss.png", "Server memory per connected user"),
    ("storm_users.png", "Reconnect storm as users grow"),
)
_STYLE = {
    ("A", "websocket"): ("tab:red", "-", "o"),
    ("B", "websocket"): ("tab:blue", "-", "s"),
    ("B-sub", "websocket"): ("tab:green", "-", "^"),
    ("A", "polling"): ("tab:red", "--", "o"),
    ("B", "polling"): ("tab:blue", "--", "s"),
    ("B-sub", "polling"): ("tab:green", "--", "^"),
}


def metric(record: Record, path: str) -> float:
    """A number inside a point record by dotted path (``"storm.wall_s"``); NaN if absent."""
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return float("nan")
        value = value[part]
    return float(value) if isinstance(value, int | float) else float("nan")


def _ok(results: Record, sweep: str) -> list[Record]:
    return [p for p in results.get("points", []) if p.get("sweep") == sweep and "failed" not in p]


def _key(p: Record) -> tuple[str, str, int, int]:
    s = p["spec"]
    return s["topology"], s["transport"], s["users"], s["per_user"]


def _find(points: list[Record], topology: str, transport: str, **match: int) -> Record | None:
    for p in points:
        s = p["spec"]
        if s["topology"] == topology and s["transport"] == transport:
            if all(s.get(k) == v for k, v in match.items()):
                return p
    return None


def _setup_rows(points: list[Record], transport: str) -> list[list[str]]:
    rows = []
    for p in sorted(points, key=lambda p: (_key(p)[3], _key(p)[0])):
        s = p["spec"]
        if s["transport"] != transport:
            continue
        setup = "storm.setup_per_user."
        rows.append(
            [
                str(s["per_user"]),
                s["topology"],
                f"{fmt(metric(p, setup + 'frames_tx'))} / {fmt(metric(p, setup + 'frames_rx'))}",
                fmt(metric(p, setup + "http_requests")),
                f"{fmt(metric(p, setup + 'bytes_tx'), 0)} / "
                f"{fmt(metric(p, setup + 'bytes_rx'), 0)}",
                fmt(metric(p, setup + "round_trips")),
                f"{fmt(metric(p, 'solo.ready_min_ms'), 2)} / "
                f"{fmt(metric(p, 'solo.ready_p50_ms'), 2)} / "
                f"{fmt(metric(p, 'solo.ready_p99_ms'), 2)}",
                f"{fmt(metric(p, 'storm.ready_p50_ms'))} / {fmt(metric(p, 'storm.ready_p99_ms'))}",
                fmt(metric(p, "storm.server_cpu_per_user_ms"), 3),
                fmt(metric(p, "storm.rss_per_user_bytes") / 1024, 1),
                fmt(metric(p, "storm.rss_per_membership_bytes") / 1024, 2),
                fmt(metric(p, "server_objects.sockets"), 0),
                fmt(metric(p, "server_objects.room_memberships"), 0),
                fmt(metric(p, "server_objects.namespaces"), 0),
            ]
        )
    return rows


_SETUP_HEADER = [
    "N",
    "topology",
    "frames (WS) or requests (polling) sent / received",
    "HTTP requests",
    "bytes sent / received",
    "round trips",
    "solo ready best / p50 / p99 ms",
    "storm ready p50 / p99 ms",
    "server CPU per user ms",
    "server RSS per user KiB",
    "server RSS per user-community KiB",
    "server sockets",
    "room memberships",
    "dynamic namespaces (own adapter each)",
]


def _steady_rows(points: list[Record]) -> list[list[str]]:
    rows = []
    for p in sorted(points, key=lambda p: (_key(p)[1], _key(p)[3], _key(p)[0])):
        s = p["spec"]
        rows.append(
            [
                s["transport"],
                str(s["per_user"]),
                s["topology"],
                f"{fmt(metric(p, 'steady.deliveries'), 0)} / "
                f"{fmt(metric(p, 'steady.expected_deliveries'), 0)}",
                fmt(metric(p, "steady.server_cpu_per_delivery_us"), 2),
                fmt(metric(p, "steady.server_cpu_per_message_us"), 0),
                fmt(metric(p, "steady.rx_bytes_per_delivery"), 1),
                fmt(metric(p, "steady.tx_bytes_per_message"), 0),
                fmt(metric(p, "steady.rx_frames_per_delivery"), 2),
            ]
        )
    return rows


_STEADY_HEADER = [
    "transport",
    "N",
    "topology",
    "delivered / expected",
    "server CPU per delivery µs",
    "server CPU per posted message µs",
    "bytes received per delivery",
    "bytes sent per posted message",
    "frames or responses per delivery",
]


def _storm_rows(points: list[Record]) -> list[list[str]]:
    rows = []
    for p in sorted(points, key=lambda p: (_key(p)[3], _key(p)[2], _key(p)[1], _key(p)[0])):
        s = p["spec"]
        rows.append(
            [
                str(s["users"]),
                str(s["per_user"]),
                s["transport"],
                s["topology"],
                f"{fmt(metric(p, 'storm.ready_users'), 0)} / {s['users']}",
                fmt(metric(p, "storm.wall_s"), 2),
                f"{fmt(metric(p, 'storm.ready_p50_ms'))} / {fmt(metric(p, 'storm.ready_p99_ms'))}",
                fmt(metric(p, "storm.server_cpu_s"), 2),
                fmt(100 * _ratio(metric(p, "storm.server_cpu_s"), metric(p, "storm.wall_s")), 0),
                fmt(metric(p, "storm.server_cpu_per_user_ms"), 3),
                fmt(metric(p, "storm.rss_per_user_bytes") / 1024, 1),
                fmt(metric(p, "storm.gc_objects_per_user"), 0),
                fmt(metric(p, "server_objects.sockets"), 0),
                fmt(metric(p, "storm.client_cpu_s"), 2),
            ]
        )
    return rows


_STORM_HEADER = [
    "users",
    "N",
    "transport",
    "topology",
    "ready",
    "storm wall s",
    "ready p50 / p99 ms",
    "server CPU s",
    "server CPU % of wall",
    "server CPU per user ms",
    "RSS per user KiB",
    "Python objects per user",
    "server sockets",
    "client CPU s",
]


def _wall_note(points: list[Record]) -> list[str]:
    """Why storm wall times exceed server CPU time, from the slowest storm's samples."""
    timed = [p for p in points if not math.isnan(metric(p, "storm.server_runnable_share"))]
    if not timed:
        return []
    worst = max(timed, key=lambda p: metric(p, "storm.wall_s"))
    s = worst["spec"]
    return [
        f"- Wall times: in the slowest storm ({s['topology']}, {s['transport']}, "
        f"{s['users']} users × {s['per_user']} communities) the server used "
        f"{fmt(metric(worst, 'storm.server_cpu_s'), 2)} s of CPU in "
        f"{fmt(metric(worst, 'storm.wall_s'), 2)} s while it was runnable in "
        f"{fmt(100 * metric(worst, 'storm.server_runnable_share'), 0)} % of the 5 ms samples "
        "of its scheduler state"
        + (
            ": it was waiting for a core (other jobs share this 2-core machine, and the load "
            "generator runs beside it), not for its clients."
            if metric(worst, "storm.server_runnable_share") >= 0.8
            else " (the rest of the time it waited for input)."
        )
        + " Compare CPU seconds; read wall times as upper bounds."
    ]


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def conclusion(results: Record) -> list[str]:
    """The written answer, with the numbers of this run."""
    comm = _ok(results, "communities")
    users_sweep = _ok(results, "users")
    if not comm:
        return ["No point of the communities sweep completed; no conclusion."]
    ns = sorted({p["spec"]["per_user"] for p in comm})
    big = ns[-1]
    mid = 10 if 10 in ns else ns[len(ns) // 2]
    lines: list[str] = []

    def pair(n: int, transport: str) -> tuple[Record | None, Record | None]:
        return _find(comm, "A", transport, per_user=n), _find(comm, "B", transport, per_user=n)

    def m(p: Record, path: str, digits: int = 1, scale: float = 1.0) -> str:
        return fmt(metric(p, path) * scale, digits)

    def ratio(a: Record, b: Record, path: str) -> str:
        return fmt(_ratio(metric(a, path), metric(b, path)), 1)

    cpu_u = "storm.server_cpu_per_user_ms"
    rss_u = "storm.rss_per_user_bytes"
    a1, b1 = pair(ns[0], "websocket")
    am, bm = pair(mid, "websocket")
    ab, bb = pair(big, "websocket")
    if am and bm and ab and bb:
        extra = max(big - 1, 1)
        d_cpu = (metric(ab, cpu_u) - metric(bb, cpu_u)) / extra * 1e3
        d_rss = (metric(ab, rss_u) - metric(bb, rss_u)) / extra / 1024
        d_bytes = (
            metric(ab, "storm.setup_per_user.bytes_tx")
            + metric(ab, "storm.setup_per_user.bytes_rx")
            - metric(bb, "storm.setup_per_user.bytes_tx")
            - metric(bb, "storm.setup_per_user.bytes_rx")
        ) / extra
        lines.append(
            f"- **Connecting costs grow linearly with communities in A and stay nearly flat in "
            f"B.** Over WebSocket a user in {mid} communities sends "
            f"{m(am, 'storm.setup_per_user.frames_tx', 0)} frames / "
            f"{m(am, 'storm.setup_per_user.bytes_tx', 0)} bytes in A against "
            f"{m(bm, 'storm.setup_per_user.frames_tx', 0)} / "
            f"{m(bm, 'storm.setup_per_user.bytes_tx', 0)} in B; at {big} communities "
            f"{m(ab, 'storm.setup_per_user.frames_tx', 0)} frames / "
            f"{m(ab, 'storm.setup_per_user.bytes_tx', 0)} bytes against "
            f"{m(bb, 'storm.setup_per_user.frames_tx', 0)} / "
            f"{m(bb, 'storm.setup_per_user.bytes_tx', 0)} (every CONNECT repeats the token). "
            f"Server CPU to connect a user: {m(am, cpu_u, 2)} vs {m(bm, cpu_u, 2)} ms at "
            f"N={mid} ({ratio(am, bm, cpu_u)}×), {m(ab, cpu_u, 2)} vs {m(bb, cpu_u, 2)} ms at "
            f"N={big} ({ratio(ab, bb, cpu_u)}×). Server memory per connected user at N={big}: "
            f"{m(ab, rss_u, 1, 1 / 1024)} KiB in A vs {m(bb, rss_u, 1, 1 / 1024)} KiB in B "
            f"({ratio(ab, bb, rss_u)}×); the server tracks "
            f"{m(ab, 'server_objects.sockets', 0)} sockets for {ab['spec']['users']} users "
            f"in A, {m(bb, 'server_objects.sockets', 0)} in B. Each community beyond the "
            f"first costs A about {fmt(d_cpu, 0)} µs of server CPU (a token verification, a "
            f"socket, a middleware run, a CONNECT reply), {fmt(d_rss, 1)} KiB of server memory "
            f"and {fmt(d_bytes, 0)} bytes on the wire, per user and per (re)connect"
            + (
                f" (the HS256 token check alone is {m(ab, 'server_idle.token_verify_us', 0)} µs)."
                if not math.isnan(metric(ab, "server_idle.token_verify_us"))
                else "."
            )
        )
    if a1 and b1:
        lines.append(
            f"- **With one or two communities per user the designs cost the same.** "
            f"N={ns[0]}: {m(a1, cpu_u, 2)} vs {m(b1, cpu_u, 2)} ms server CPU per user, "
            f"{m(a1, 'storm.setup_per_user.bytes_tx', 0)} vs "
            f"{m(b1, 'storm.setup_per_user.bytes_tx', 0)} bytes sent, "
            f"{m(a1, rss_u, 1, 1 / 1024)} vs {m(b1, rss_u, 1, 1 / 1024)} KiB per user."
        )
    rt_rows = [
        (
            p["spec"]["topology"],
            p["spec"]["transport"],
            metric(p, "storm.setup_per_user.round_trips"),
        )
        for p in comm
    ]

    def rts(topology: str, transport: str) -> str:
        values = sorted({v for t, tr, v in rt_rows if t == topology and tr == transport})
        return "/".join(fmt(v, 0) for v in values) or "–"

    lines.append(
        f"- **Round trips (counting client, loopback) do not separate A from B.** Until "
        f"fully subscribed: A "
        f"{rts('A', 'websocket')}, B {rts('B', 'websocket')}, B-sub {rts('B-sub', 'websocket')} "
        f"over WebSocket (the upgrade, then the CONNECTs); A {rts('A', 'polling')}, B "
        f"{rts('B', 'polling')}, B-sub {rts('B-sub', 'polling')} over polling, for every N: "
        f"A's CONNECTs are pipelined on the shared connection (one POST over polling) and the "
        f"synchronous token check answers them all in the next GET (this counting client "
        f"sends every CONNECT at once; what socket.io-client and a client awaiting each "
        f"namespace do through a delayed network is measured in the delay-proxy section)."
    )
    if ab and bb and a1 and b1:
        lines.append(
            f"- **Time to ready, one user at a time** (WebSocket, loopback, best of "
            f"{fmt(metric(ab, 'solo.n'), 0)}): A {m(a1, 'solo.ready_min_ms', 2)} ms at "
            f"N={ns[0]} → {m(ab, 'solo.ready_min_ms', 2)} ms at N={big}; B "
            f"{m(b1, 'solo.ready_min_ms', 2)} → {m(bb, 'solo.ready_min_ms', 2)} ms. With no "
            f"network delay this is the server's work per CONNECT; the p50s in the tables "
            f"are noisier (other load on the machine)."
        )
    pa, pb = pair(big, "polling")
    if pa and pb:
        lines.append(
            f"- **Long-polling clients: A costs the same requests but more bytes and CPU.** At "
            f"N={big} a polling user sends "
            f"{m(pa, 'storm.setup_per_user.http_requests', 0)} HTTP requests carrying "
            f"{m(pa, 'storm.setup_per_user.bytes_tx', 0)} bytes (receives "
            f"{m(pa, 'storm.setup_per_user.bytes_rx', 0)}) in A against "
            f"{m(pb, 'storm.setup_per_user.http_requests', 0)} requests, "
            f"{m(pb, 'storm.setup_per_user.bytes_tx', 0)} / "
            f"{m(pb, 'storm.setup_per_user.bytes_rx', 0)} bytes in B; server CPU "
            f"{m(pa, cpu_u, 2)} vs {m(pb, cpu_u, 2)} ms per user ({ratio(pa, pb, cpu_u)}×). "
            f"A larger concern for polling clients is the transport itself (next point)."
        )
    pm_a, pm_b = pair(mid, "polling")
    if am and bm and pm_a and pm_b:
        per = "steady.server_cpu_per_delivery_us"
        lines.append(
            f"- **Steady state does not depend on the topology.** A channel message costs the "
            f"server {m(am, per, 2)} µs per recipient in A vs {m(bm, per, 2)} µs in B "
            f"(N={mid}, WebSocket; the spread across N is noise of a shared machine), and "
            f"{m(am, 'steady.rx_bytes_per_delivery')} vs "
            f"{m(bm, 'steady.rx_bytes_per_delivery')} bytes per delivery (A's frame carries the "
            f"namespace, B's payload the community id). Over polling it is "
            f"{m(pm_a, per, 1)} / {m(pm_b, per, 1)} µs and "
            f"{m(pm_a, 'steady.rx_bytes_per_delivery')} / "
            f"{m(pm_b, 'steady.rx_bytes_per_delivery')} bytes per delivery, plus "
            f"{m(pm_a, 'steady.tx_bytes_per_message', 0)} bytes of new GETs per posted message, "
            f"in both designs."
        )
    if users_sweep:
        top_u = max(p["spec"]["users"] for p in users_sweep)
        for n in sorted({p["spec"]["per_user"] for p in users_sweep}):
            sa = _find(users_sweep, "A", "websocket", users=top_u, per_user=n)
            sb = _find(users_sweep, "B", "websocket", users=top_u, per_user=n)
            if not (sa and sb):
                continue
            cpu_a, cpu_b = metric(sa, "storm.server_cpu_s"), metric(sb, "storm.server_cpu_s")
            lines.append(
                f"- **Reconnect storm, {top_u} users × {n} communities** (all at once, "
                f"WebSocket): {fmt(cpu_a, 2)} s of server CPU and "
                f"{m(sa, 'storm.wall_s', 2)} s until the last user is ready in A "
                f"({m(sa, 'server_objects.sockets', 0)} sockets), against {fmt(cpu_b, 2)} s "
                f"and {m(sb, 'storm.wall_s', 2)} s in B ({fmt(_ratio(cpu_a, cpu_b), 1)}× the "
                f"CPU); p99 ready {m(sa, 'storm.ready_p99_ms', 0)} vs "
                f"{m(sb, 'storm.ready_p99_ms', 0)} ms. Linearly, a 100,000-user shard "
                f"reconnecting costs ≈{fmt(cpu_a / top_u * 1e5, 0)} s of one core in A vs "
                f"≈{fmt(cpu_b / top_u * 1e5, 0)} s in B."
            )
    lines.append("")
    costs = ""
    if am and bm and ab and bb:
        costs = (
            f", so a user in {mid} communities costs the server {ratio(am, bm, cpu_u)}× the "
            f"connect CPU and {ratio(am, bm, rss_u)}× the memory of B, and "
            f"{ratio(ab, bb, cpu_u)}× and {ratio(ab, bb, rss_u)}× at {big} (Discord allows "
            f"100-200 servers per user)"
        )
    lines.append(
        "**Answer.** Namespace-per-community is fine while users belong to one or two "
        "communities, and it costs nothing in steady state, nor in round trips for a client "
        "that sends all its CONNECTs at once (on a network, socket.io-client's polling-first "
        "default and code that awaits each namespace do pay extra round trips: see below). "
        "It hurts in proportion to communities per user: every (re)connect "
        "repeats a CONNECT, a token check, a socket and its memory per community"
        + costs
        + ". That multiplies exactly when it hurts most: reconnect storms after a deploy or a "
        "network blip, and polling clients that re-send every CONNECT in their POST. We "
        "recommend B: one namespace `/socket`, one CONNECT with the token, the server joining "
        "`commu:{id}` and `commu:{id}:chan:{id}` from its membership table before it answers "
        "the CONNECT (the fewest round trips, authorisation in one place, one socket per "
        "user; in a large cluster either design needs sharded pub/sub — classic pub/sub "
        "sends B's messages to every node and makes Redis match A's against one pattern per "
        "live community: see the cluster section). "
        "A `subscribe` event with an ack (B-sub) costs one more round trip (two more requests "
        "over polling) and is worth it only when the client should choose what to receive, "
        "e.g. lazy subscription to the communities it shows."
    )
    return lines


def _plot(results: Record, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    comm = _ok(results, "communities")
    written: list[str] = []
    series = sorted({(p["spec"]["topology"], p["spec"]["transport"]) for p in comm})

    def lines_vs_n(
        ax: Any,
        value: Callable[[Record], float],
        label_suffix: str = "",
        nested: bool = False,
    ) -> None:
        # nested: wider lines under narrower ones, so equal series stay visible
        width = {"B-sub": 6.0, "B": 3.5, "A": 1.5} if nested else {}
        for topology, transport in series:
            pts = sorted(
                (p["spec"]["per_user"], value(p))
                for p in comm
                if p["spec"]["topology"] == topology and p["spec"]["transport"] == transport
            )
            if not pts:
                continue
            color, style, marker = _STYLE.get((topology, transport), ("black", "-", "."))
            ax.plot(
                [x for x, _ in pts],
                [y for _, y in pts],
                linestyle=style,
                marker=marker,
                color=color,
                linewidth=width.get(topology, 1.5),
                alpha=0.75 if nested else 1.0,
                label=f"{topology} {transport}{label_suffix}",
            )
        ax.set_xscale("log")
        ns = sorted({p["spec"]["per_user"] for p in comm})
        ax.set_xticks(ns)
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("communities per user (N)")
        ax.grid(True, which="both", alpha=0.3)

    def save(fig: Any, name: str) -> None:
        for ax in fig.axes:
            if ax.get_yscale() == "log":
                ax.yaxis.set_major_formatter(ScalarFormatter())
                ax.yaxis.set_minor_formatter(NullFormatter())
        fig.tight_layout()
        fig.savefig(out / name, dpi=90)
        plt.close(fig)
        written.append(name)

    titles = dict(PLOTS)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    lines_vs_n(ax, lambda p: metric(p, "storm.setup_per_user.frames_tx"), nested=True)
    ax.set_yscale("log")
    ax.set_ylabel("frames (WebSocket) / HTTP requests (polling)")
    ax.set_title(titles["setup_requests.png"])
    ax.legend(fontsize=8)
    save(fig, "setup_requests.png")

    fig, ax = plt.subplots(figsize=(7, 4.5))
    lines_vs_n(
        ax,
        lambda p: (
            metric(p, "storm.setup_per_user.bytes_tx") + metric(p, "storm.setup_per_user.bytes_rx")
        ),
    )
    ax.set_yscale("log")
    ax.set_ylabel("bytes per user")
    ax.set_title(titles["setup_bytes.png"])
    ax.legend(fontsize=8)
    save(fig, "setup_bytes.png")

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    lines_vs_n(axes[0], lambda p: metric(p, "solo.ready_p50_ms"))
    axes[0].set_ylabel("ms (log)")
    axes[0].set_yscale("log")
    axes[0].set_title("one user at a time: p50 (lines), best (dots)")
    for p in comm:
        color, _, marker = _STYLE.get(
            (p["spec"]["topology"], p["spec"]["transport"]), ("black", "-", ".")
        )
        axes[0].scatter(
            [p["spec"]["per_user"]],
            [metric(p, "solo.ready_min_ms")],
            color=color,
            marker=marker,
            s=14,
        )
    lines_vs_n(axes[1], lambda p: metric(p, "storm.ready_p99_ms"))
    axes[1].set_ylabel("ms")
    users = comm[0]["spec"]["users"] if comm else 0
    axes[1].set_title(f"all {users} users at once (storm), p99")
    axes[0].legend(fontsize=8)
    fig.suptitle(titles["time_to_ready.png"])
    save(fig, "time_to_ready.png")

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    lines_vs_n(axes[0], lambda p: metric(p, "storm.server_cpu_per_user_ms"))
    axes[0].set_ylabel("server CPU ms per connecting user")
    axes[0].set_yscale("log")
    axes[0].set_title("connect (storm)")
    lines_vs_n(axes[1], lambda p: metric(p, "steady.server_cpu_per_delivery_us"))
    axes[1].set_ylabel("server CPU µs per delivered message")
    axes[1].set_title("steady state")
    axes[1].set_ylim(bottom=0)
    axes[0].legend(fontsize=8)
    fig.suptitle(titles["server_cpu.png"])
    save(fig, "server_cpu.png")

    fig, ax = plt.subplots(figsize=(7, 4.5))
    lines_vs_n(ax, lambda p: metric(p, "storm.rss_per_user_bytes") / 1024)
    ax.set_ylabel("RSS growth per user, KiB")
    ax.set_yscale("log")
    ax.set_title(titles["server_rss.png"])
    ax.legend(fontsize=8)
    save(fig, "server_rss.png")

    storm = _ok(results, "users")
    if storm:
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
        groups = sorted(
            {(p["spec"]["topology"], p["spec"]["transport"], p["spec"]["per_user"]) for p in storm}
        )
        widths = {n: 1.0 + 1.5 * i for i, n in enumerate(sorted({g[2] for g in groups}))}
        for topology, transport, n in groups:
            pts = sorted(
                (p["spec"]["users"], metric(p, "storm.server_cpu_s"), metric(p, "storm.wall_s"))
                for p in storm
                if (p["spec"]["topology"], p["spec"]["transport"], p["spec"]["per_user"])
                == (topology, transport, n)
            )
            color, style, marker = _STYLE.get((topology, transport), ("black", "-", "."))
            for ax, idx in ((axes[0], 1), (axes[1], 2)):
                ax.plot(
                    [x[0] for x in pts],
                    [x[idx] for x in pts],
                    linestyle=style,
                    marker=marker,
                    color=color,
                    linewidth=widths[n],
                    label=f"{topology} {transport} N={n}",
                )
        per_user = "/".join(str(n) for n in sorted({g[2] for g in groups}))
        axes[0].set_ylabel("server CPU s for the whole storm")
        axes[0].set_yscale("log")
        axes[1].set_ylabel("s until the last user is ready")
        for ax in axes:
            ax.set_xlabel(f"users reconnecting at once ({per_user} communities each)")
            ax.set_xscale("log")
            ax.set_xticks(sorted({p["spec"]["users"] for p in storm}))
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.grid(True, which="both", alpha=0.3)
        axes[0].legend(fontsize=8)
        fig.suptitle(titles["storm_users.png"])
        save(fig, "storm_users.png")
    return written


def _network_answer(results: Record) -> list[str]:
    """The conclusion of the delay-proxy sweep (where a person notices), if it ran."""
    lines = latency_conclusion(results.get("latency", {}))
    if not lines:
        return []
    return [
        f"**On a network** (delay proxy, real clients; a person notices about "
        f"{NOTICEABLE_MS:g} ms):",
        "",
        *lines,
        "",
    ]


def write_report(results: Record, out: Path, plots: bool = True) -> Path:
    """Writes ``report.md`` (and the plots) into ``out``; returns the report's path."""
    out.mkdir(parents=True, exist_ok=True)
    meta = results.get("meta", {})
    comm = _ok(results, "communities")
    storm = _ok(results, "users")
    written = _plot(results, out) if plots and (comm or storm) else []
    users = comm[0]["spec"]["users"] if comm else 0
    spec0 = comm[0]["spec"] if comm else {}
    md: list[str] = [
        "# Namespace per community (A) or one namespace with rooms (B)?",
        "",
        f"Measured {meta.get('started_utc', '?')} on {meta.get('cpus', '?')} CPUs "
        f"({meta.get('machine', '?')}, Python {meta.get('python', '?')}), plexio's native "
        f"listener on 127.0.0.1, one fresh server process per point"
        + (" — **smoke run, tiny counts: not for conclusions**" if meta.get("smoke") else "")
        + f". Load average {fmt(meta.get('loadavg_start', float('nan')), 1)} at the start, "
        f"{fmt(meta.get('loadavg_end', float('nan')), 1)} at the end (the machine is shared: "
        "CPU seconds, bytes and counts are solid; wall times are noisy upper bounds). "
        f"Whole run: {fmt(meta.get('elapsed_s', float('nan')), 0)} s.",
        "",
        "## What was measured",
        "",
        "- **A**: a user in N communities opens N namespace sockets `/socket/commu-{id}` "
        "(regex parent namespace) on one Engine.IO connection; each CONNECT carries the "
        "token (HS256 JWT), the middleware verifies it and the membership, and joins the "
        "rooms `chan:{k}` of the community's channels. The CONNECTs are pipelined, as "
        "socket.io-client does.",
        "- **B**: one CONNECT to `/socket` with the token; the middleware verifies it once and "
        "joins `commu:{id}` and `commu:{id}:chan:{k}` for every community of the user from "
        "the membership table, before the CONNECT reply leaves: the reply means subscribed.",
        "- **B-sub**: one CONNECT to `/socket`, then a `subscribe` event with an ack listing "
        "the community ids (the server checks each against its table).",
        f"- Population: {users} users in the communities sweep; communities of "
        f"~{meta.get('members_target', '?')} members (the pool grows with N so that the "
        f"fan-out per message stays the same), {meta.get('channels', '?')} channels per "
        "community, every member in every channel; seeded random membership.",
        "- Per point: *solo* — users connect one at a time to the idle server "
        f"({spec0.get('solo', '?')} samples; p99 of so few is about the max); *storm* — "
        "every user connects at once (a reconnect storm), server CPU (/proc/PID/stat "
        "utime+stime, schedstat precision) and RSS growth measured around it; *steady* — "
        f"{spec0.get('messages', '?')} channel messages posted (event with ack, "
        f"{spec0.get('in_flight', '?')} in flight), fanned out to the channel's other members.",
        "- Traffic is counted at the client, which speaks Engine.IO/Socket.IO itself: bytes "
        "written to and read from TCP (HTTP headers and WebSocket framing included, no "
        "compression). Polling clients use two keep-alive connections (held GET + POST). "
        "A round trip is a sequential wait on the critical path; the WebSocket upgrade is "
        "one, a POST sent together with a GET is one, each further GET is one.",
        "- Server objects come from a `/debug` namespace (`stats` event) reading the "
        "server's namespace, socket and room tables.",
        *_wall_note(storm or comm),
        "",
        "## Answer",
        "",
        *conclusion(results),
        "",
        *_network_answer(results),
    ]
    for transport in ("websocket", "polling"):
        rows = _setup_rows(comm, transport)
        if rows:
            md += [
                f"## Set-up per user over {transport} ({users} users)",
                "",
                *table(_SETUP_HEADER, rows),
                "",
            ]
    if comm:
        md += [
            "## Steady state: channel messages",
            "",
            *table(_STEADY_HEADER, _steady_rows(comm)),
            "",
        ]
    if storm:
        md += [
            "## Reconnect storm as users grow",
            "",
            *table(_STORM_HEADER, _storm_rows(storm)),
            "",
        ]
    md += latency_section(results)
    md += moving_section(results)
    md += clients_section(results)
    md += cluster_section(results)
    failed = [p for p in results.get("points", []) if "failed" in p]
    errs = [(p, e) for p in results.get("points", []) for e in p.get("errors", [])]
    if failed or errs or results.get("skipped"):
        md += ["## Problems", ""]
        for p in failed:
            md.append(f"- failed point {_key(p)}: {p['failed']}")
        for p, e in errs[:30]:
            md.append(f"- {_key(p)}: {e}")
        for s in results.get("skipped", []):
            md.append(f"- skipped (budget): {s}")
        md.append("")
    if plots:
        written += plot_parts(results, out)
    if written:
        md += ["## Plots", ""]
        titles = dict(PLOTS) | dict(PART_PLOTS)
        md += [f"![{titles.get(name, name)}]({name})" for name in written]
        md.append("")
    path = out / "report.md"
    path.write_text("\n".join(md))
    return path
