"""``make soak`` and ``make hostile`` work (tiny sizes; the figures come from the commands)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str) -> tuple[int, list[dict[str, object]]]:
    done = subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines() if line]


def test_soak_holds_connections_and_reports_per_connection_figures() -> None:
    code, lines = _run(
        "bench.soak", "--connections", "50", "--ping-interval", "0.5", "--traffic-every",
        "0.2", "--settle", "0.5", "--plateau", "1", "--hold", "1", "--leak-kb", "50",
    )  # fmt: skip
    summary = lines[-1]["summary"]
    assert isinstance(summary, dict)
    assert summary["connections"] == 50 and summary["connections_lost"] == 0, summary
    assert code == 0, summary


def test_hostile_oversized_post_is_refused() -> None:
    code, lines = _run("bench.hostile", "oversized-post")
    assert code == 0
    assert lines[0]["answer"] == "HTTP/1.1 413 Payload Too Large"


def test_hostile_runaway_handlers_reports_the_servers_own_stalls() -> None:
    code, lines = _run("bench.hostile", "runaway-handlers")
    assert code == 0
    (result,) = lines
    assert result["tasks_after_they_left"] == result["tasks_before"]
    # timed in the echo client's own process, and by the server's loop itself
    assert isinstance(result["good_echo_p99_ms"], float) and result["good_echo_p99_ms"] > 0
    assert (
        0
        < float(str(result["server_tick_cpu_p99_ms"]))
        <= float(str(result["server_tick_cpu_max_ms"]))
    )
    assert isinstance(result["server_full_gcs"], int)
