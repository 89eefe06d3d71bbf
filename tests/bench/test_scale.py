"""bench.scale for real at a small size: both phases run, every figure is there, nothing fails.

No speed assertions: the figures only have to exist and be consistent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_scale_phases_hold_their_connections(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.scale", "--connections", "300", "--total", "400"]
        + ["--server-workers", "2", "--ping-interval", "0.5", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((tmp_path / "scale.json").read_text())
    single, workers = data["phases"]
    assert (single["server_workers"], workers["server_workers"]) == (1, 2)
    for phase, count in ((single, 300), (workers, 400)):
        assert phase["ok"], phase
        assert phase["connected"] == phase["still_open"] == count
        assert phase["errors"] == 0
        assert phase["pings"] > 0
        assert phase["kb_per_connection"] > 0
        assert phase["connect_cpu_us"] > 0
        assert phase["cpu_us_per_ping"] > 0
    # the connections really were spread over the workers
    assert len(workers["server_fds"]) == 3
    assert all(fds > 50 for fds in workers["server_fds"][1:])
    assert "one process" in (tmp_path / "scale.md").read_text()
