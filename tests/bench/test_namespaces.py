"""The benchmark servers have the same handlers on the regex namespaces `/socket/commu-\\d+`.

Each available server is driven through echo, binary echo and fan-out in `/socket/commu-3` by
the benchmark's own runner and load generator (tiny counts), so a server whose namespace handlers
are missing or wrong shows up as a failed run here rather than as a silent gap in `make bench`.
"""

from __future__ import annotations

import dataclasses

import pytest
from bench.runner import Options, ServerProcess, run_scenario
from bench.scenarios import SCENARIOS, smoke
from bench.targets import TARGETS, Target, availability

pytestmark = pytest.mark.slow

NAMESPACE = "/socket/commu-3"
SERVERS = [t for t in TARGETS if not t.raw]


@pytest.mark.parametrize("target", SERVERS, ids=[t.key for t in SERVERS])
def test_regex_namespace_handlers(target: Target) -> None:
    status = availability(target)
    if status != "ok":
        if target.key == "psio":
            pytest.fail(f"python-socketio must be installed (the bench extra): {status}")
        pytest.skip(status)
    opts = Options(duration=0.2, warmup=0.05, settle=0.05, timeout=30.0, nice=0)
    chosen = [
        dataclasses.replace(smoke(s), namespaces=(NAMESPACE,))
        for s in SCENARIOS
        if s.name in ("echo-100", "binary-100", "fanout-1k")
    ]
    server = ServerProcess(target, [])
    server.start()
    try:
        for scenario in chosen:
            record = run_scenario(scenario, target, opts, server)
            assert record["ok"], (scenario.name, record.get("error"))
            assert record["ops"] > 0, scenario.name
            assert record["errors"] == 0, scenario.name
    finally:
        server.stop()
