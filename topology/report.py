"""Turns ``results.json`` into ``report.md`` and PNG plots (matplotlib, Agg backend)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def _fmt(value: float, digits: int = 1) -> str:
    if value != value:  # NaN
        return "–"
    if abs(value) >= 1000 and digits <= 1:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out.extend("| " + " | ".join(r) + " |" for r in rows)
    return out


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
                f"{_fmt(metric(p, setup + 'frames_tx'))} / {_fmt(metric(p, setup + 'frames_rx'))}",
                _fmt(metric(p, setup + "http_requests")),
                f"{_fmt(metric(p, setup + 'bytes_tx'), 0)} / "
                f"{_fmt(metric(p, setup + 'bytes_rx'), 0)}",
                _fmt(metric(p, setup + "round_trips")),
                f"{_fmt(metric(p, 'solo.ready_p50_ms'), 2)} / "
                f"{_fmt(metric(p, 'solo.ready_p99_ms'), 2)}",
                f"{_fmt(metric(p, 'storm.ready_p50_ms'))} / "
                f"{_fmt(metric(p, 'storm.ready_p99_ms'))}",
                _fmt(metric(p, "storm.server_cpu_per_user_ms"), 3),
                _fmt(metric(p, "storm.rss_per_user_bytes") / 1024, 1),
                _fmt(metric(p, "server_objects.sockets"), 0),
                _fmt(metric(p, "server_objects.namespaces"), 0),
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
    "solo ready p50 / p99 ms",
    "storm ready p50 / p99 ms",
    "server CPU per user ms",
    "server RSS per user KiB",
    "server sockets",
    "dynamic namespaces",
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
                f"{_fmt(metric(p, 'steady.deliveries'), 0)} / "
                f"{_fmt(metric(p, 'steady.expected_deliveries'), 0)}",
                _fmt(metric(p, "steady.server_cpu_per_delivery_us"), 2),
                _fmt(metric(p, "steady.server_cpu_per_message_us"), 0),
                _fmt(metric(p, "steady.rx_bytes_per_delivery"), 1),
                _fmt(metric(p, "steady.tx_bytes_per_message"), 0),
                _fmt(metric(p, "steady.rx_frames_per_delivery"), 2),
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
                f"{_fmt(metric(p, 'storm.ready_users'), 0)} / {s['users']}",
                _fmt(metric(p, "storm.wall_s"), 2),
                f"{_fmt(metric(p, 'storm.ready_p50_ms'))} / "
                f"{_fmt(metric(p, 'storm.ready_p99_ms'))}",
                _fmt(metric(p, "storm.server_cpu_s"), 2),
                _fmt(metric(p, "storm.server_cpu_per_user_ms"), 3),
                _fmt(metric(p, "storm.rss_per_user_bytes") / 1024, 1),
                _fmt(metric(p, "storm.gc_objects_per_user"), 0),
                _fmt(metric(p, "server_objects.sockets"), 0),
                _fmt(metric(p, "storm.client_cpu_s"), 2),
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
    "server CPU per user ms",
    "RSS per user KiB",
    "Python objects per user",
    "server sockets",
    "client CPU s",
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

    a1, b1 = pair(ns[0], "websocket")
    am, bm = pair(mid, "websocket")
    ab, bb = pair(big, "websocket")
    if am and bm and ab and bb:
        cpu_m = _ratio(
            metric(am, "storm.server_cpu_per_user_ms"), metric(bm, "storm.server_cpu_per_user_ms")
        )
        cpu_b = _ratio(
            metric(ab, "storm.server_cpu_per_user_ms"), metric(bb, "storm.server_cpu_per_user_ms")
        )
        rss_b = _ratio(
            metric(ab, "storm.rss_per_user_bytes"), metric(bb, "storm.rss_per_user_bytes")
        )
        lines.append(
            f"- **Connection set-up grows linearly with communities in A and stays flat in B.** "
            f"Over WebSocket a user in {mid} communities sends "
            f"{_fmt(metric(am, 'storm.setup_per_user.frames_tx'), 0)} frames / "
            f"{_fmt(metric(am, 'storm.setup_per_user.bytes_tx'), 0)} bytes in A against "
            f"{_fmt(metric(bm, 'storm.setup_per_user.frames_tx'), 0)} / "
            f"{_fmt(metric(bm, 'storm.setup_per_user.bytes_tx'), 0)} in B; at {big} communities "
            f"{_fmt(metric(ab, 'storm.setup_per_user.frames_tx'), 0)} frames / "
            f"{_fmt(metric(ab, 'storm.setup_per_user.bytes_tx'), 0)} bytes against "
            f"{_fmt(metric(bb, 'storm.setup_per_user.frames_tx'), 0)} / "
            f"{_fmt(metric(bb, 'storm.setup_per_user.bytes_tx'), 0)} "
            f"(every CONNECT repeats the token). Server CPU to connect a user is "
            f"{_fmt(metric(am, 'storm.server_cpu_per_user_ms'), 2)} ms vs "
            f"{_fmt(metric(bm, 'storm.server_cpu_per_user_ms'), 2)} ms at N={mid} "
            f"({_fmt(cpu_m)}×) and {_fmt(metric(ab, 'storm.server_cpu_per_user_ms'), 2)} vs "
            f"{_fmt(metric(bb, 'storm.server_cpu_per_user_ms'), 2)} ms at N={big} "
            f"({_fmt(cpu_b)}×): one token verification, one socket object, one middleware "
            f"run per community. Server memory per user at N={big}: "
            f"{_fmt(metric(ab, 'storm.rss_per_user_bytes') / 1024)} KiB in A vs "
            f"{_fmt(metric(bb, 'storm.rss_per_user_bytes') / 1024)} KiB in B ({_fmt(rss_b)}×); "
            f"the server holds {_fmt(metric(ab, 'server_objects.sockets'), 0)} sockets for "
            f"{ab['spec']['users']} users in A, {_fmt(metric(bb, 'server_objects.sockets'), 0)} "
            f"in B."
        )
    if a1 and b1:
        lines.append(
            f"- **At one community they are the same.** N={ns[0]}: "
            f"{_fmt(metric(a1, 'storm.server_cpu_per_user_ms'), 2)} vs "
            f"{_fmt(metric(b1, 'storm.server_cpu_per_user_ms'), 2)} ms CPU per user, "
            f"{_fmt(metric(a1, 'storm.setup_per_user.bytes_tx'), 0)} vs "
            f"{_fmt(metric(b1, 'storm.setup_per_user.bytes_tx'), 0)} bytes sent, "
            f"{_fmt(metric(a1, 'storm.setup_per_user.round_trips'), 0)} vs "
            f"{_fmt(metric(b1, 'storm.setup_per_user.round_trips'), 0)} round trips. Round "
            f"trips do not grow with N in A either, because the CONNECTs are pipelined on the "
            f"shared connection (a client that awaited each namespace in turn would pay N)."
        )
    pa, pb = pair(big, "polling")
    if pa and pb:
        lines.append(
            f"- **Long-polling clients pay more in A.** At N={big} a polling user needs "
            f"{_fmt(metric(pa, 'storm.setup_per_user.http_requests'))} HTTP requests and "
            f"{_fmt(metric(pa, 'storm.setup_per_user.round_trips'))} round trips "
            f"({_fmt(metric(pa, 'storm.setup_per_user.bytes_tx'), 0)} bytes sent, "
            f"{_fmt(metric(pa, 'storm.setup_per_user.bytes_rx'), 0)} received) in A against "
            f"{_fmt(metric(pb, 'storm.setup_per_user.http_requests'))} requests, "
            f"{_fmt(metric(pb, 'storm.setup_per_user.round_trips'))} round trips "
            f"({_fmt(metric(pb, 'storm.setup_per_user.bytes_tx'), 0)} / "
            f"{_fmt(metric(pb, 'storm.setup_per_user.bytes_rx'), 0)} bytes) in B: the N CONNECT "
            f"replies may come back over several GETs, each a round trip. Server CPU per "
            f"polling user: {_fmt(metric(pa, 'storm.server_cpu_per_user_ms'), 2)} vs "
            f"{_fmt(metric(pb, 'storm.server_cpu_per_user_ms'), 2)} ms."
        )
    if am and bm:
        lines.append(
            f"- **Steady state barely differs.** Delivering a channel message costs the server "
            f"{_fmt(metric(am, 'steady.server_cpu_per_delivery_us'), 2)} µs per recipient in A "
            f"vs {_fmt(metric(bm, 'steady.server_cpu_per_delivery_us'), 2)} µs in B "
            f"(N={mid}, WebSocket), and "
            f"{_fmt(metric(am, 'steady.rx_bytes_per_delivery'))} vs "
            f"{_fmt(metric(bm, 'steady.rx_bytes_per_delivery'))} bytes per delivery: A's "
            f"frame carries the namespace, B's payload carries the community id, the sizes are "
            f"within a few bytes. A broadcast touches one room in either design."
        )
    if users_sweep:
        top_u = max(p["spec"]["users"] for p in users_sweep)
        sa = _find(users_sweep, "A", "websocket", users=top_u)
        sb = _find(users_sweep, "B", "websocket", users=top_u)
        if sa and sb:
            lines.append(
                f"- **Reconnect storms are where A hurts most.** {top_u} users with "
                f"{sa['spec']['per_user']} communities each reconnecting at once: "
                f"{_fmt(metric(sa, 'storm.server_cpu_s'), 2)} s of server CPU and "
                f"{_fmt(metric(sa, 'storm.wall_s'), 2)} s until the last user is ready in A, "
                f"against {_fmt(metric(sb, 'storm.server_cpu_s'), 2)} s and "
                f"{_fmt(metric(sb, 'storm.wall_s'), 2)} s in B "
                f"(p99 ready {_fmt(metric(sa, 'storm.ready_p99_ms'))} vs "
                f"{_fmt(metric(sb, 'storm.ready_p99_ms'))} ms; the load generator shares the "
                f"two cores, so wall times are upper bounds)."
            )
    lines.append("")
    lines.append(
        "**Answer.** Namespace-per-community is fine when users belong to a handful of "
        "communities and connect over WebSocket: the extra CONNECTs are pipelined, and the "
        "steady-state cost per message is the same. It hurts in proportion to communities per "
        "user — server CPU and memory per connected user, bytes and token checks on every "
        "(re)connect, more sockets to track — and so it hurts most in reconnect storms, for "
        "users in dozens of communities (Discord's cap is 100-200 guilds per user), and for "
        "long-polling clients. One namespace `/socket` with rooms `commu:{id}` / "
        "`commu:{id}:chan:{id}` joined by the server from its membership table at CONNECT "
        "costs one CONNECT and one token check whatever N is, is ready in the same round trips, "
        "and keeps authorisation in one place (the membership table), so we recommend B "
        "(server-side join). `subscribe` with an ack (B-sub) costs one more round trip and is "
        "only worth it when the client must choose what to receive (lazy loading of communities)."
    )
    return lines


def _plot(results: Record, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    comm = _ok(results, "communities")
    written: list[str] = []
    series = sorted({(p["spec"]["topology"], p["spec"]["transport"]) for p in comm})

    def lines_vs_n(ax: Any, value: Callable[[Record], float], label_suffix: str = "") -> None:
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
                label=f"{topology} {transport}{label_suffix}",
            )
        ax.set_xscale("log")
        ax.set_xlabel("communities per user (N)")
        ax.grid(True, which="both", alpha=0.3)

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=90)
        plt.close(fig)
        written.append(name)

    titles = dict(PLOTS)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    lines_vs_n(ax, lambda p: metric(p, "storm.setup_per_user.frames_tx"))
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
    axes[0].set_ylabel("ms")
    axes[0].set_title("one user at a time, p50")
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
        for topology, transport in sorted(
            {(p["spec"]["topology"], p["spec"]["transport"]) for p in storm}
        ):
            pts = sorted(
                (p["spec"]["users"], metric(p, "storm.server_cpu_s"), metric(p, "storm.wall_s"))
                for p in storm
                if p["spec"]["topology"] == topology and p["spec"]["transport"] == transport
            )
            color, style, marker = _STYLE.get((topology, transport), ("black", "-", "."))
            for ax, idx in ((axes[0], 1), (axes[1], 2)):
                ax.plot(
                    [x[0] for x in pts],
                    [x[idx] for x in pts],
                    linestyle=style,
                    marker=marker,
                    color=color,
                    label=f"{topology} {transport}",
                )
        per_user = storm[0]["spec"]["per_user"]
        axes[0].set_ylabel("server CPU s for the whole storm")
        axes[1].set_ylabel("s until the last user is ready")
        for ax in axes:
            ax.set_xlabel(f"users reconnecting at once ({per_user} communities each)")
            ax.set_xscale("log")
            ax.grid(True, which="both", alpha=0.3)
        axes[0].legend(fontsize=8)
        fig.suptitle(titles["storm_users.png"])
        save(fig, "storm_users.png")
    return written


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
        + f". Load average {_fmt(meta.get('loadavg_start', float('nan')), 1)} at the start, "
        f"{_fmt(meta.get('loadavg_end', float('nan')), 1)} at the end (the machine is shared: "
        "CPU seconds, bytes and counts are solid; wall times are noisy upper bounds). "
        f"Whole run: {_fmt(meta.get('elapsed_s', float('nan')), 0)} s.",
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
        "",
        "## Answer",
        "",
        *conclusion(results),
        "",
    ]
    for transport in ("websocket", "polling"):
        rows = _setup_rows(comm, transport)
        if rows:
            md += [
                f"## Set-up per user over {transport} ({users} users)",
                "",
                *_table(_SETUP_HEADER, rows),
                "",
            ]
    if comm:
        md += [
            "## Steady state: channel messages",
            "",
            *_table(_STEADY_HEADER, _steady_rows(comm)),
            "",
        ]
    if storm:
        md += [
            "## Reconnect storm as users grow",
            "",
            *_table(_STORM_HEADER, _storm_rows(storm)),
            "",
        ]
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
    if written:
        md += ["## Plots", ""]
        titles = dict(PLOTS)
        md += [f"![{titles.get(name, name)}]({name})" for name in written]
        md.append("")
    path = out / "report.md"
    path.write_text("\n".join(md))
    return path
