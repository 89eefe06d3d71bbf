"""Results: median of repeats, Markdown tables (with plexio/peer ratios), JSON and PNG plots."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

__all__ = ["TARGETS", "markdown", "summarize", "target_status", "write_json", "write_plots"]

#: The speed and memory targets (issue 15), as (what, scenario, server, versus, bound):
#: the key figure of ``server`` in ``scenario`` divided by that of ``versus`` must be at most
#: ``bound``; with ``versus`` None, the figure itself (KB per connection for memory).
TARGETS: tuple[tuple[str, str, str, str | None, float], ...] = (
    ("echo CPU per ack, 100 clients, vs Node", "echo-100", "plexio", "node", 0.7),
    ("echo CPU per ack, 100 clients, vs the ceiling", "echo-100", "plexio", "ceiling", 1.3),
    ("fan-out CPU per delivery, 1,000 members, vs Node", "fanout-1k", "plexio", "node", 0.5),
    (
        "fan-out CPU per delivery, 1,000 members, vs the ceiling",
        "fanout-1k",
        "plexio",
        "ceiling",
        1.15,
    ),
    ("fan-out CPU per delivery, 10,000 members, vs Node", "fanout-10k", "plexio", "node", 0.5),
    (
        "fan-out CPU per delivery, 10,000 members, vs the ceiling",
        "fanout-10k",
        "plexio",
        "ceiling",
        1.15,
    ),
    (
        "fan-out, 8 broadcasts in flight, 1,000 members, vs Node",
        "fanout-inflight-1k",
        "plexio",
        "node",
        0.5,
    ),
    (
        "fan-out, 8 broadcasts in flight, 1,000 members, vs the ceiling",
        "fanout-inflight-1k",
        "plexio",
        "ceiling",
        1.15,
    ),
    ("connect CPU, 5 namespaces, vs Node", "connect-5ns", "plexio", "node", 0.3),
    ("RSS per idle connection (KB), 10,000 connections", "memory-10k", "plexio", None, 6.0),
    (
        "ASGI on uvicorn vs the native listener, echo CPU per ack",
        "echo-100",
        "plexio-uvicorn",
        "plexio",
        1.5,
    ),
)

_NUMERIC_FIELDS = (
    "ops",
    "elapsed_s",
    "throughput",
    "server_cpu_s",
    "server_cpu_precise_s",
    "cpu_us_per_op",
    "cpu_us_per_op_precise",
    "server_cpu_pct",
    "server_rss_mb",
    "rss_before_mb",
    "rss_after_mb",
    "kb_per_connection",
    "loadgen_cpu_pct",
    "other_cpu_pct",
    "errors",
    "stalls",
)


def _median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Median of every figure over the successful repeats of each (scenario, server).

    Args:
        runs: the raw run records.

    Returns:
        `summary[scenario][server]`: the medians, `repeats` (successful runs), and `error`
        (the last error) when no run succeeded.
    """
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in runs:
        grouped.setdefault((run["scenario"], run["server"]), []).append(run)
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for (scenario, server), records in grouped.items():
        good = [r for r in records if r.get("ok")]
        entry: dict[str, Any] = {"repeats": len(good), "attempts": len(records)}
        if not good:
            entry["error"] = records[-1].get("error", "failed")
        for name in _NUMERIC_FIELDS:
            values = [float(r[name]) for r in good if r.get(name) is not None]
            entry[name] = _median(values)
        latencies: dict[str, float | None] = {}
        for key in ("p50", "p90", "p99", "p999", "mean", "max"):
            values = [float(r["latency_us"][key]) for r in good if key in r.get("latency_us", {})]
            latencies[key] = _median(values)
        entry["latency_us"] = latencies
        summary.setdefault(scenario, {})[server] = entry
    return summary


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}×"


def _key_figure(scenario: dict[str, Any], entry: dict[str, Any]) -> float | None:
    """The headline figure of a scenario: KB per connection for memory, else CPU-µs per op."""
    if scenario["kind"] == "memory":
        value = entry.get("kb_per_connection")
    else:
        value = entry.get("cpu_us_per_op")
    return float(value) if value is not None else None


def target_status(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target of :data:`TARGETS` with its measured value and status.

    Returns:
        One dict per target: ``what``, ``scenario``, ``value`` (ratio or figure, None when
        not measured), ``bound`` and ``status`` (``met``, ``not met`` or ``not measured``
        with the reason).
    """
    summary: dict[str, dict[str, dict[str, Any]]] = results["summary"]
    kinds = {s["name"]: s for s in results["config"]["scenarios"]}
    rows: list[dict[str, Any]] = []
    for what, name, server, versus, bound in TARGETS:
        row: dict[str, Any] = {"what": what, "scenario": name, "bound": bound, "value": None}
        scenario = kinds.get(name)
        entries = summary.get(name, {})
        mine = entries.get(server)
        theirs = entries.get(versus) if versus is not None else None
        missing = [
            key
            for key, entry in ((server, mine), (versus, theirs))
            # a zero is no figure either: CPU below /proc's clock tick (a smoke window)
            if key is not None and (entry is None or not _key_figure(scenario or {}, entry))
        ]
        if scenario is None or missing:
            why = "scenario not run" if scenario is None else f"no figure for {', '.join(missing)}"
            row["status"] = f"not measured ({why})"
        else:
            assert mine is not None
            value = _key_figure(scenario, mine)
            if versus is not None:
                assert theirs is not None
                other = _key_figure(scenario, theirs)
                value = value / other if value is not None and other else None
            row["value"] = value
            row["status"] = "met" if value is not None and value <= bound else "not met"
        rows.append(row)
    return rows


def markdown(results: dict[str, Any]) -> str:
    """Render the results as Markdown: machine, headline tables, ratios, full details.

    Args:
        results: the document written to results.json.

    Returns:
        The Markdown text.
    """
    machine = results["machine"]
    config = results["config"]
    summary: dict[str, dict[str, dict[str, Any]]] = results["summary"]
    scenarios: list[dict[str, Any]] = config["scenarios"]
    targets: dict[str, dict[str, Any]] = config["targets"]
    shown = [key for key, t in targets.items() if t["status"] == "ok"]
    labels = {key: t["label"] for key, t in targets.items()}
    pkgs = machine["python_packages"]
    npm = machine["npm_packages"]
    lines: list[str] = ["# plexio side-by-side benchmark", ""]
    if config.get("smoke"):
        lines += ["**Smoke run** (tiny counts): the figures only show the harness works.", ""]
    lines += [
        f"- Date: {machine['date']}; commit {machine.get('git_commit')}",
        f"- Machine: {machine['nproc']} × {machine['cpu_model']}, {machine['memory_gib']} GiB RAM, "
        f"Linux {machine['kernel']}; load average at start {machine['loadavg'][0]:.2f}",
        f"- Python {machine['python']}, Node {machine.get('node')}; "
        + ", ".join(f"{name} {ver}" for name, ver in pkgs.items() if ver)
        + "; npm "
        + ", ".join(f"{name} {ver}" for name, ver in npm.items() if ver),
        f"- Server pinned to core(s) {config['server_cpus'] or 'none'}, load generator "
        f"({config['workers']} process(es)) to core(s) {config['loadgen_cpus'] or 'none'}; "
        f"fresh server per run: {not config.get('reuse_server')}; measured window "
        f"{config['duration']} s after {config['warmup']} s of warm-up; median of "
        f"{config['repeat']} run(s).",
        "",
    ]
    for key, target in targets.items():
        if target["status"] != "ok":
            lines.append(f"- **{key}: not available** — {target['status']}")
    lines += [
        "",
        "## Targets",
        "",
        "Ratios of server CPU per operation within this run (memory: KB per idle "
        "connection); a target is met when the figure is at most the bound.",
        "",
        "| target | scenario | measured | bound | status |",
        "|---|---|---|---|---|",
    ]
    for row in target_status(results):
        unit = "" if row["scenario"] == "memory-10k" else "×"
        measured = "—" if row["value"] is None else f"{row['value']:.2f}{unit}"
        lines.append(
            f"| {row['what']} | {row['scenario']} | {measured} | ≤ {row['bound']:g}{unit} "
            f"| {row['status']} |"
        )
    lines.append("")

    lines += [
        "## Server CPU time per operation (µs; memory row: KB per idle connection)",
        "",
        "Lower is better. Server CPU = utime + stime from /proc/PID/stat over the measured "
        "window, divided by the operations completed in it.",
        "",
        "| scenario | unit | " + " | ".join(labels[k] for k in shown) + " |",
        "|---|---|" + "---|" * len(shown),
    ]
    for scenario in scenarios:
        row = summary.get(scenario["name"], {})
        unit = "KB/conn" if scenario["kind"] == "memory" else f"µs/{scenario['unit']}"
        cells = [_fmt(_key_figure(scenario, row[k])) if k in row else "—" for k in shown]
        lines.append(f"| {scenario['name']} | {unit} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Throughput (operations per second)",
        "",
        "| scenario | " + " | ".join(labels[k] for k in shown) + " |",
        "|---|" + "---|" * len(shown),
    ]
    for scenario in scenarios:
        row = summary.get(scenario["name"], {})
        cells = [_fmt(row[k].get("throughput"), 0) if k in row else "—" for k in shown]
        lines.append(f"| {scenario['name']} | " + " | ".join(cells) + " |")

    plexios = [k for k in shown if targets[k]["family"] == "plexio"]
    peers = [k for k in shown if targets[k]["family"] == "peer"]
    lines += ["", "## Ratios plexio / peer", ""]
    if not plexios:
        lines.append("plexio was not available in this run, so there are no ratios.")
    elif not peers:
        lines.append("No peer ran in this run, so there are no ratios.")
    else:
        lines += [
            "CPU: plexio's server CPU per operation divided by the peer's (below 1: plexio "
            "spends less; memory row: KB per connection). Throughput: plexio's divided by the "
            "peer's (above 1: plexio is faster).",
            "",
        ]
    for plexio in plexios if peers else []:
        header = ["scenario"]
        for peer in peers:
            header += [f"CPU vs {peer}", f"throughput vs {peer}"]
        lines += [
            f"### {labels[plexio]}",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
        ]
        for scenario in scenarios:
            row = summary.get(scenario["name"], {})
            cells = [scenario["name"]]
            for peer in peers:
                mine, theirs = row.get(plexio), row.get(peer)
                if mine is None or theirs is None:
                    cells += ["—", "—"]
                    continue
                cells.append(_ratio(_key_figure(scenario, mine), _key_figure(scenario, theirs)))
                cells.append(_ratio(mine.get("throughput"), theirs.get("throughput")))
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")

    lines += ["", "## Every figure", ""]
    for scenario in scenarios:
        row = summary.get(scenario["name"], {})
        if not row:
            continue
        lines += [
            f"### {scenario['name']}: {scenario['title']}",
            "",
            f"{scenario['clients']:,} client(s); op = one {scenario['unit']}.",
            "",
            "| server | ops | ops/s | CPU-µs/op | server CPU % | p50 µs | p99 µs | p99.9 µs "
            "| RSS MB | KB/conn | load-gen CPU % | other CPU % | errors |",
            "|---|" + "---|" * 12,
        ]
        for key in shown:
            entry = row.get(key)
            if entry is None:
                continue
            if entry.get("repeats", 0) == 0:
                lines.append(f"| {labels[key]} | failed: {entry.get('error', '')[:120]} |")
                continue
            lat = entry.get("latency_us", {})
            lines.append(
                "| "
                + " | ".join(
                    [
                        labels[key],
                        _fmt(entry.get("ops"), 0),
                        _fmt(entry.get("throughput"), 0),
                        _fmt(entry.get("cpu_us_per_op"), 2),
                        _fmt(entry.get("server_cpu_pct")),
                        _fmt(lat.get("p50")),
                        _fmt(lat.get("p99")),
                        _fmt(lat.get("p999")),
                        _fmt(entry.get("server_rss_mb")),
                        _fmt(entry.get("kb_per_connection")),
                        _fmt(entry.get("loadgen_cpu_pct")),
                        _fmt(entry.get("other_cpu_pct")),
                        _fmt(entry.get("errors"), 0),
                    ]
                )
                + " |"
            )
        lines.append("")
    lines += [
        "Columns: *server CPU %* is of one core over the window; *load-gen CPU %* is per "
        "load-generator process (past ~85 % the load generator, not the server, sets the pace); "
        "*other CPU %* is what the rest of the machine used meanwhile (in % of one core; large "
        "values mean the run shared the machine). Latency is per operation: ack round trip, "
        "connect time, or send-to-delivery for fan-out.",
        "",
    ]
    return "\n".join(lines)


def write_json(results: dict[str, Any], path: Path) -> None:
    """Write the results document as indented JSON."""
    path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")


def write_plots(results: dict[str, Any], out: Path) -> list[Path]:
    """Draw the headline figures as PNG bar charts (matplotlib, Agg backend).

    Args:
        results: the results document.
        out: directory to write into.

    Returns:
        The files written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary: dict[str, dict[str, dict[str, Any]]] = results["summary"]
    scenarios: list[dict[str, Any]] = results["config"]["scenarios"]
    targets: dict[str, dict[str, Any]] = results["config"]["targets"]
    shown = [key for key, t in targets.items() if t["status"] == "ok"]
    written: list[Path] = []

    def bars(
        names: list[str],
        value: Any,
        title: str,
        ylabel: str,
        filename: str,
        log: bool = False,
    ) -> None:
        if not names:
            return
        fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(names) + 2), 4.5))
        width = 0.8 / max(1, len(shown))
        for i, key in enumerate(shown):
            xs, ys = [], []
            for j, name in enumerate(names):
                entry = summary.get(name, {}).get(key)
                v = value(name, entry) if entry is not None else None
                if v is not None and v > 0:
                    xs.append(j + i * width - 0.4 + width / 2)
                    ys.append(v)
            if xs:
                ax.bar(xs, ys, width, label=targets[key]["label"])
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=20, ha="right")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        if log:
            ax.set_yscale("log")
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        path = out / filename
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    def get(field: str) -> Any:
        return lambda name, entry: entry.get(field)

    def lat(field: str) -> Any:
        return lambda name, entry: entry.get("latency_us", {}).get(field)

    work = [s["name"] for s in scenarios if s["kind"] != "memory"]
    timed = [s["name"] for s in scenarios if s["kind"] in ("echo", "binary", "fanout")]
    memory = [s["name"] for s in scenarios if s["kind"] == "memory"]
    bars(
        work,
        get("cpu_us_per_op"),
        "Server CPU per operation (lower is better)",
        "µs",
        "cpu_per_op.png",
        log=True,
    )
    bars(
        work,
        get("throughput"),
        "Throughput (higher is better)",
        "ops/s",
        "throughput.png",
        log=True,
    )
    bars(timed, lat("p50"), "Latency p50 (lower is better)", "µs", "latency_p50.png", log=True)
    bars(timed, lat("p99"), "Latency p99 (lower is better)", "µs", "latency_p99.png", log=True)
    bars(memory, get("kb_per_connection"), "Memory per idle connection", "KB", "memory.png")
    return written
