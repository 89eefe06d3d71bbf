"""Runs ``python -m bench.gateway --smoke`` for real: the report's shape and its checks.

No speed assertions (they live in the full run): only that both servers ran every phase on
every available database, the figures are numbers, and nothing was lost or duplicated.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bench.gateway.cli import SMOKE, build_report

REPO = Path(__file__).resolve().parents[3]
PHASES = {
    "message:send",
    "duplicates",
    "message:edit",
    "channel:join",
    "presence:get",
    "message:send paced",
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("bench-gateway")
    proc = subprocess.run(
        [sys.executable, "-m", "bench.gateway", "--smoke", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out, json.loads((out / "report.json").read_text())


def test_both_servers_ran_every_phase(report: tuple[Path, dict[str, Any]]) -> None:
    _, data = report
    assert "sqlite" in data["databases"]
    for runs in data["databases"].values():
        assert set(runs) == {"reference", "gateway"}
        for run in runs.values():
            assert set(run["phases"]) == PHASES
            for phase in run["phases"].values():
                assert phase["requests"] > 0
                assert phase["ok"] == phase["requests"], phase["errors"]
                for key in ("per_second", "p50_ms", "p99_ms", "cpu_us_per_op", "server_cpu_s"):
                    assert isinstance(phase[key], int | float) and math.isfinite(phase[key])
                    assert phase[key] >= 0


def test_every_phase_did_the_work_asked(report: tuple[Path, dict[str, Any]]) -> None:
    _, data = report
    users = SMOKE.users
    for runs in data["databases"].values():
        for run in runs.values():
            phases = run["phases"]
            assert phases["message:send"]["requests"] == users * SMOKE.messages
            assert phases["duplicates"]["requests"] == users * SMOKE.duplicates * 3
            assert phases["message:edit"]["requests"] == users * SMOKE.edits
            assert phases["channel:join"]["requests"] == users * SMOKE.joins
            assert phases["presence:get"]["requests"] == users * SMOKE.presence
            assert phases["message:send paced"]["rate"] > 0


def test_nothing_lost_or_duplicated(report: tuple[Path, dict[str, Any]]) -> None:
    _, data = report
    for runs in data["databases"].values():
        for run in runs.values():
            check = run["check"]
            assert check["clean"] is True
            assert check["sent_ok"] == check["stored"] > 0
            assert check["concurrent_pairs"] == SMOKE.users * SMOKE.duplicates
            for key in (
                "unacknowledged",
                "lost",
                "duplicated_rows",
                "undelivered",
                "duplicate_deliveries",
                "pair_violations",
            ):
                assert check[key] == 0, key


def test_markdown_report_matches_the_json(report: tuple[Path, dict[str, Any]]) -> None:
    out, data = report
    text = (out / "report.md").read_text()
    assert text == build_report(data)
    for database in data["databases"]:
        assert f"| {database} | message:send | gateway |" in text


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_several_workers_lose_nothing(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.gateway", "--smoke", "--databases", "sqlite"]
        + ["--workers", "2", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads((tmp_path / "report.json").read_text())
    runs = data["databases"]["sqlite"]
    assert set(runs) == {"reference", "workers2"}
    check = runs["workers2"]["check"]
    assert check["clean"] is True and check["sent_ok"] == check["stored"] > 0
    assert set(runs["workers2"]["phases"]) == PHASES
