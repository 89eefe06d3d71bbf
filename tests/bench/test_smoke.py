"""Runs `python -m bench --smoke` for real and checks the harness produced well-formed results.

No speed assertions: only that every available server ran every scenario it supports, the
figures are positive numbers, and results.json / results.md / the PNG plots were written.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bench.report import TARGETS
from bench.scenarios import SCENARIOS
from bench.targets import NODE_DIR

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _node_ready() -> bool:
    return shutil.which("node") is not None and (NODE_DIR / "node_modules" / "socket.io").is_dir()


def _run_smoke(out: Path, only: list[str], extra: list[str] | None = None) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--only", ",".join(only), "--out", str(out)]
        + (extra or []),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data: dict[str, Any] = json.loads((out / "results.json").read_text())
    return data


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("bench-smoke")
    only = ["plexio", "plexio-uvicorn", "psio", "psio-aiohttp", "ceiling"]
    only += ["node"] if _node_ready() else []
    return out, _run_smoke(out, only)


def test_every_available_server_ran_every_scenario(
    smoke_results: tuple[Path, dict[str, Any]],
) -> None:
    _, data = smoke_results
    targets = data["config"]["targets"]
    assert targets["psio"]["status"] == "ok"
    if _node_ready():
        assert targets["node"]["status"] == "ok"
    summary = data["summary"]
    for scenario in SCENARIOS:
        for key, target in targets.items():
            if target["status"] != "ok" or (key == "ceiling" and not scenario.ceiling):
                continue
            entry = summary[scenario.name][key]
            assert entry["repeats"] == 1, (scenario.name, key, entry.get("error"))


def test_deflate_scenarios_really_compress(smoke_results: tuple[Path, dict[str, Any]]) -> None:
    _, data = smoke_results
    deflate = {s.name for s in SCENARIOS if s.deflate}
    plain = {s.name for s in SCENARIOS if not s.deflate}
    runs = [r for r in data["runs"] if r["ok"]]
    assert any(r["scenario"] in deflate for r in runs)
    for run in runs:
        where = (run["server"], run["scenario"])
        if run["scenario"] in deflate:
            assert run["compressed_frames"] > 0, where
        elif run["scenario"] in plain:
            assert run["compressed_frames"] == 0, where


def test_figures_are_positive_numbers(smoke_results: tuple[Path, dict[str, Any]]) -> None:
    _, data = smoke_results
    runs = data["runs"]
    assert runs
    for run in runs:
        assert run["ok"], run
        where = (run["server"], run["scenario"])
        assert run["ops"] > 0, where
        assert run["throughput"] > 0, where
        assert run["server_cpu_precise_s"] > 0, where
        assert run["server_cpu_s"] >= 0, where
        assert run["cpu_us_per_op_precise"] > 0, where
        assert run["server_rss_mb"] > 0, where
        assert run["loadgen_cpu_pct"] >= 0, where
        latency = run["latency_us"]
        assert 0 < latency["p50"] <= latency["p99"] <= latency["max"], where
        if run["scenario"].startswith("memory"):
            assert run["kb_per_connection"] is not None, where


def test_every_target_is_reported_with_its_status(
    smoke_results: tuple[Path, dict[str, Any]],
) -> None:
    out, data = smoke_results
    rows = data["targets"]
    assert [(r["what"], r["scenario"], r["bound"]) for r in rows] == [
        (what, scenario, bound) for what, scenario, _, _, bound in TARGETS
    ]
    text = (out / "results.md").read_text()
    assert "## Targets" in text
    for row in rows:
        assert row["what"] in text
        if row["status"].startswith("not measured"):
            assert row["value"] is None, row
        else:  # every server of the ratio ran: a figure, met or not
            assert row["value"] > 0, row
            assert row["status"] == ("met" if row["value"] <= row["bound"] else "not met")
    measured = {r["scenario"] for r in rows if not r["status"].startswith("not measured")}
    # the ceiling runs the fan-out scenarios too, so those ratios have figures
    assert {"echo-100", "fanout-1k", "fanout-inflight-1k", "memory-10k"} <= measured


def test_machine_description(smoke_results: tuple[Path, dict[str, Any]]) -> None:
    _, data = smoke_results
    machine = data["machine"]
    assert machine["nproc"] >= 1
    assert machine["cpu_model"]
    assert machine["memory_gib"] > 0
    assert machine["python"]
    assert machine["python_packages"]["python-socketio"]


def test_files_written(smoke_results: tuple[Path, dict[str, Any]]) -> None:
    out, data = smoke_results
    text = (out / "results.md").read_text()
    assert "Server CPU time per operation" in text
    for key, target in data["config"]["targets"].items():
        if target["status"] == "ok":
            assert target["label"] in text
        else:
            assert f"{key}: not available" in text
    for name in ("cpu_per_op.png", "throughput.png", "latency_p99.png", "memory.png"):
        png = out / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    for args in (["--only", "nosuchserver"], ["--scenarios", "nosuchscenario"]):
        proc = subprocess.run(
            [sys.executable, "-m", "bench", "--smoke", "--out", str(tmp_path), *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 2, proc.stderr
        assert "unknown" in proc.stderr
    assert not (tmp_path / "results.json").exists()


def test_missing_plexio_is_reported_not_faked(tmp_path: Path) -> None:
    # A plexio without the Socket.IO server API stands in front of the real one on sys.path.
    fake = tmp_path / "fake"
    (fake / "plexio").mkdir(parents=True)
    (fake / "plexio" / "__init__.py").write_text('"""No Server here."""\n')
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=f"{fake}{os.pathsep}{REPO}")
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--only", "plexio,ceiling"]
        + ["--scenarios", "echo-1", "--no-plots", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "plexio: not available" in proc.stderr
    data = json.loads((out / "results.json").read_text())
    assert data["config"]["targets"]["plexio"]["status"] != "ok"
    assert {run["server"] for run in data["runs"]} == {"ceiling"}
    text = (out / "results.md").read_text()
    assert "plexio: not available" in text
    assert "no ratios" in text
