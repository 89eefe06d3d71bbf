"""``python -m topology --smoke`` for real: outputs well-formed, protocol invariants hold."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from topology.browser import browser_available
from topology.clients import node_available
from topology.model import Membership, ModelParams
from topology.report import PLOTS
from topology.sections import PLOTS as PART_PLOTS

ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("topology")
    done = subprocess.run(
        [sys.executable, "-m", "topology", "--smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out, json.loads((out / "results.json").read_text())


def _points(results: dict[str, Any]) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = results["points"]
    return points


@pytest.mark.slow
def test_every_point_completed_without_errors(smoke: tuple[Path, dict[str, Any]]) -> None:
    _, results = smoke
    points = _points(results)
    assert results["skipped"] == []
    # 2 community counts x 3 topologies x 2 transports, plus 1 user count x 2 x 2.
    assert len(points) == 16
    seen = {(p["sweep"], p["spec"]["topology"], p["spec"]["transport"]) for p in points}
    assert ("communities", "B-sub", "polling") in seen and ("users", "A", "websocket") in seen
    for point in points:
        assert "failed" not in point, point.get("failed")
        assert point["errors"] == []
        assert point["storm"]["ready_users"] == point["spec"]["users"]
        assert point["storm"]["failed_users"] == 0
        assert point["solo"]["n"] == min(point["spec"]["solo"], point["spec"]["users"])


@pytest.mark.slow
def test_setup_traffic_follows_the_topology(smoke: tuple[Path, dict[str, Any]]) -> None:
    _, results = smoke
    for point in _points(results):
        spec = point["spec"]
        setup = point["storm"]["setup_per_user"]
        n = spec["per_user"]
        assert setup["bytes_tx"] > 0 and setup["bytes_rx"] > 0
        assert setup["frames_tx"] >= 1 and setup["frames_rx"] >= 1
        if spec["topology"] == "A":
            assert setup["packets_tx"] == n  # one CONNECT per community
            assert setup["packets_rx"] == n  # one CONNECT reply each
        elif spec["topology"] == "B":
            assert setup["packets_tx"] == 1
            assert setup["packets_rx"] == 1
        else:  # B-sub: CONNECT, then subscribe
            assert setup["packets_tx"] == 2
            assert setup["packets_rx"] == 2
        if spec["transport"] == "websocket":
            assert setup["tcp_connections"] == 1
            assert setup["http_requests"] == 1
            assert setup["frames_tx"] == setup["packets_tx"]
            assert setup["round_trips"] == (3 if spec["topology"] == "B-sub" else 2)
        else:
            assert setup["tcp_connections"] == 2
            # Handshake GET, then at least one POST and one GET per exchange.
            exchanges = 2 if spec["topology"] == "B-sub" else 1
            assert setup["http_requests"] >= 1 + 2 * exchanges
            assert setup["round_trips"] >= 1 + exchanges


@pytest.mark.slow
def test_server_objects_match_the_membership(smoke: tuple[Path, dict[str, Any]]) -> None:
    _, results = smoke
    for point in _points(results):
        spec = point["spec"]
        users, n, channels = spec["users"], spec["per_user"], spec["channels"]
        membership = Membership(ModelParams(users, n, spec["members"], channels, spec["seed"]))
        objects = point["server_objects"]
        assert objects["engine_sessions"] == users
        if spec["topology"] == "A":
            assert objects["sockets"] == users * n
            # one dynamic child namespace per community that has members
            assert objects["namespaces"] == len(membership.members)
            # channel rooms + each socket's own room
            assert objects["room_memberships"] == users * n * (channels + 1)
        else:
            assert objects["sockets"] == users
            assert objects["namespaces"] == 0
            assert objects["room_memberships"] == users * (n * (channels + 1) + 1)


@pytest.mark.slow
def test_messages_reach_exactly_the_channel_members(smoke: tuple[Path, dict[str, Any]]) -> None:
    _, results = smoke
    for point in _points(results):
        steady = point["steady"]
        assert steady["messages"] == point["spec"]["messages"]
        assert steady["deliveries"] == steady["expected_deliveries"]
        if steady["deliveries"]:
            assert steady["rx_bytes_per_delivery"] > 0
            assert steady["server_cpu_per_delivery_us"] >= 0


@pytest.mark.slow
def test_report_and_plots_are_written(smoke: tuple[Path, dict[str, Any]]) -> None:
    out, _ = smoke
    report = (out / "report.md").read_text()
    assert report.startswith("# Namespace per community (A) or one namespace with rooms (B)?")
    for heading in (
        "## Answer",
        "## Set-up per user over websocket",
        "## Set-up per user over polling",
        "## Steady state: channel messages",
        "## Reconnect storm as users grow",
    ):
        assert heading in report
    assert "smoke run" in report
    assert "## Problems" not in report
    for name, _ in PLOTS:
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC), name
        assert f"]({name})" in report


@pytest.mark.slow
def test_the_parts_beyond_loopback_ran(smoke: tuple[Path, dict[str, Any]]) -> None:
    out, results = smoke
    for part in ("latency", "moving", "clients", "cluster"):
        assert part in results, part
        errors = results[part]["errors"]
        assert [e for e in errors if not e.startswith("skipped")] == [], errors
        if node_available() and browser_available():
            assert errors == []
    latency = results["latency"]["points"]
    assert {p["style"] for p in latency} == {"A", "A-seq", "B", "B-sub"}
    assert {p["rtt_ms"] for p in latency} == {0, 100}
    for p in latency:
        if p["kind"].startswith("wire") and p["rtt_ms"] == 100:
            assert p["proxy_round_trips"] >= 3
    moving = results["moving"]["points"]
    assert {(p["transport"], p["topology"]) for p in moving} == {
        ("websocket", "A"),
        ("websocket", "B"),
        ("polling", "A"),
        ("polling", "B"),
    }
    report = (out / "report.md").read_text()
    for heading in (
        "## On a network: time to ready through a delay proxy",
        "**Where a person notices**",
        "## Moving around: leaving and joining a channel and a community",
        "## Cluster scale: what one channel message costs Redis and every node",
    ):
        assert heading in report
    if browser_available():
        assert "## What the browser's network log shows" in report
        for style in ("A", "B"):
            assert (out / "har" / f"{style}.har").exists()
    for name, _ in PART_PLOTS:
        assert (out / name).read_bytes().startswith(PNG_MAGIC), name
