"""The real clients: socket.io-client under Node and in Chromium, plexio's client, through
the delay proxy; and the browser's HAR read back as a timeline."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from topology.browser import browser_available, browser_costs, capture_har, launch
from topology.clients import node_available, plexio_client_cost, run_client
from topology.delayproxy import DelayProxy
from topology.har import timeline
from topology.model import Membership, ModelParams
from topology.runner import ServerProcess

N = 3


@pytest.fixture
async def server() -> AsyncIterator[tuple[ServerProcess, list[int]]]:
    model = ModelParams(users=2, per_user=N)
    async with ServerProcess(model) as process:
        yield process, Membership(model).of_user[0]


@pytest.mark.interop
@pytest.mark.parametrize("style", ["A", "A-seq", "B", "B-sub"])
@pytest.mark.parametrize("kind", ["node", "node-ws"])
async def test_socket_io_client_connects_in_every_style(
    server: tuple[ServerProcess, list[int]], kind: str, style: str
) -> None:
    if not node_available():
        pytest.skip("node or topology/js/node_modules missing: run `make node-deps`")
    process, communities = server
    async with DelayProxy("127.0.0.1", process.port, 0.01) as proxy:
        (sample,) = await run_client(kind, style, [proxy.port], 0, communities)
    assert sample.extra["sockets"] == (N if style.startswith("A") else 1)
    if kind == "node-ws":
        assert sample.extra["transport"] == "websocket"
    if kind == "node-ws":
        assert proxy.stats.connections == 1
    else:  # Node's polling requests do not reuse connections (one TCP connection each)
        assert proxy.stats.connections >= 3
    assert sample.extra["heap_bytes"] != 0 and sample.extra["cpu_us"] > 0


@pytest.mark.parametrize("style", ["A", "A-seq", "B", "B-sub"])
async def test_plexio_client_connects_in_every_style(
    server: tuple[ServerProcess, list[int]], style: str
) -> None:
    process, communities = server
    cost = await plexio_client_cost(style, process.port, 0, communities, ("websocket",))
    assert cost["sockets"] == (N if style.startswith("A") else 1)
    assert cost["heap_bytes"] > 0 and cost["gc_objects"] > 0


def _packets(events: list[Any], direction: str, prefix: str) -> int:
    return sum(
        1 for e in events if e.direction == direction for p in e.packets if p.startswith(prefix)
    )


@pytest.mark.browser
@pytest.mark.slow
async def test_chromium_har_shows_every_connect_and_its_reply(
    server: tuple[ServerProcess, list[int]], tmp_path: Path
) -> None:
    if not browser_available():
        pytest.skip("chromium, playwright or topology/js/node_modules missing")
    process, communities = server
    async with launch() as browser:
        costs = await browser_costs(
            browser, f"http://127.0.0.1:{process.port}", "A", 0, communities, samples=1
        )
        assert costs["sockets"] == N
        for style, connects in (("A", N), ("B", 1)):
            async with DelayProxy("127.0.0.1", process.port, 0.025) as proxy:
                path = tmp_path / f"{style}.har"
                result = await capture_har(
                    browser, f"http://127.0.0.1:{proxy.port}", style, 0, communities, path
                )
            assert result["sockets"] == connects
            events = timeline(json.loads(path.read_text()))
            assert _packets(events, "→", "40") == connects  # CONNECTs sent
            assert _packets(events, "←", "40") == connects  # and answered
            steps = [e.step for e in events if e.step]
            assert sorted(steps) == [1, 2, 3, 4, 5]  # the WebSocket upgrade completed
            order = steps.index
            assert order(1) < order(2) < order(3) and order(1) < order(4) < order(5)
