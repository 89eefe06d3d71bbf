"""plexio's client against the official Node socket.io 4.8 server.

``tests/interop/js/client_server.js`` is started by the test (and killed and started
again on the same port for the reconnection scenario); the scenarios are those of
``tests/client/scenarios.py``, also run against plexio's server.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from tests.client import scenarios
from tests.client.targets import NodeTarget, PlexioTarget
from tests.helpers.node import NodeScriptError

from plexio.client import Manager

pytestmark = pytest.mark.interop

Scenario = Callable[[NodeTarget, str], Awaitable[None]]

ALL_TRANSPORTS = ["upgrade", "polling", "websocket"]

#: What socket.io 4.8 with socket.io-msgpack-parser (notepack.io) sends as the CONNECT
#: reply: {type: 0, nsp: "/", data: {sid: "abc"}, id: undefined}. notepack writes
#: ``undefined`` as the MessagePack extension type 0 (fixext 1, ``d4 00 00``).
NODE_CONNECT_REPLY = bytes.fromhex(
    "84a47479706500a36e7370a12fa46461746181a3736964a3616263a26964d40000"
)


def test_msgpack_decoder_reads_node_undefined() -> None:
    from plexio.socketio.msgpack import MsgPackParser
    from plexio.socketio.packets import Packet

    packet = MsgPackParser().decoder().feed(NODE_CONNECT_REPLY)
    assert packet == Packet.connect("/", {"sid": "abc"})


@pytest.fixture
async def target(request: pytest.FixtureRequest) -> AsyncIterator[NodeTarget]:
    param: dict[str, Any] = getattr(request, "param", {})
    server = NodeTarget(
        parser=param.get("parser", "json"),
        env={"PING_INTERVAL": "1000", "PING_TIMEOUT": "1000", **param.get("env", {})},
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.mark.parametrize("transports", ALL_TRANSPORTS)
@pytest.mark.parametrize(
    "scenario",
    scenarios.PER_TRANSPORT,
)
async def test_scenario(target: NodeTarget, scenario: Scenario, transports: str) -> None:
    await scenario(target, transports)


@pytest.mark.parametrize(
    "scenario",
    scenarios.UPGRADE_ONLY,
)
async def test_scenario_upgrade(target: NodeTarget, scenario: Scenario) -> None:
    await scenario(target, "upgrade")


@pytest.mark.parametrize("target", [{"parser": "msgpack"}], indirect=True)
@pytest.mark.parametrize("transports", ALL_TRANSPORTS)
@pytest.mark.parametrize(
    "scenario",
    [scenarios.multi_namespace_one_engine, scenarios.acks_both_ways, scenarios.binary_both_ways],
)
async def test_msgpack(target: NodeTarget, scenario: Scenario, transports: str) -> None:
    await scenario(target, transports)


@pytest.mark.parametrize("target", [{"parser": "msgpack"}], indirect=True)
async def test_msgpack_reconnect(target: NodeTarget) -> None:
    await scenarios.reconnect_after_restart(target, "upgrade")


@pytest.mark.parametrize("target", [{"env": {"MAX_PAYLOAD": "2000"}}], indirect=True)
async def test_polling_posts_stay_under_max_payload(target: NodeTarget) -> None:
    """Many events queued at once leave in several POSTs, each within maxPayload."""
    async with Manager(target.url, transports=["polling"]) as io:
        sock = io.socket("/")
        await sock.connect(timeout=10)
        assert io.engine is not None and io.engine.session.max_payload == 2000
        for i in range(20):
            sock.emit("record", f"{i:02d}" + "x" * 300)
        records = await sock.emit_with_ack("records", timeout=10)
        assert records == [f"{i:02d}" + "x" * 300 for i in range(20)]
    assert target.server is not None
    proc = target.server.process
    with contextlib.suppress(NodeScriptError):
        while True:  # read what the server reported so far (bounded by the script's deadline)
            await proc.read_json(timeout=0.5)
    posts = [line["bytes"] for line in proc.lines if line.get("event") == "post"]
    big = [size for size in posts if size > 1000]
    assert len(big) >= 3  # 20 × ~310 bytes cannot fit in one body
    assert max(posts) <= 2000


async def test_pings_are_answered_over_polling(target: NodeTarget) -> None:
    """The connection outlives several ping intervals on polling (pongs go out in time)."""
    async with Manager(target.url, transports=["polling"]) as io:
        sock = io.socket("/")
        rec = scenarios.Recorder()
        sock.on("disconnect", rec.handler("disconnect"))
        await sock.connect(timeout=10)
        engine = io.engine_id
        await asyncio.sleep(3.5)  # 1 s ping interval, 1 s ping timeout on this server
        assert rec.of("disconnect") == []
        assert io.engine_id == engine
        assert await sock.emit_with_ack("echo", "alive", timeout=5) == "alive"


@pytest.mark.parametrize("target", [{"env": {"MAX_PAYLOAD": "2000"}}], indirect=True)
@pytest.mark.parametrize("transports", ["polling", "websocket"])
async def test_payload_over_max_is_refused(target: NodeTarget, transports: str) -> None:
    await scenarios.payload_over_max_is_refused(target, transports)


@pytest.mark.parametrize("transport", ["websocket", "polling"])
@pytest.mark.parametrize("situation", scenarios.SITUATIONS)
@pytest.mark.parametrize("client", ["plexio", "official"])
async def test_disconnect_reason(
    target: NodeTarget, situation: str, transport: str, client: str
) -> None:
    """plexio's client and the official one report the same reason (Node's server)."""
    probe = scenarios.PlexioProbe() if client == "plexio" else scenarios.OfficialProbe()
    reason = await scenarios.disconnect_reason(target, transport, situation, probe)
    assert reason == scenarios.EXPECTED_REASONS[situation, transport]


@pytest.mark.parametrize("transport", ["websocket", "polling"])
@pytest.mark.parametrize("situation", scenarios.SITUATIONS)
async def test_official_client_reasons_against_plexio(situation: str, transport: str) -> None:
    """The official client, in the same situations against plexio's server, agrees too."""
    server = PlexioTarget(kwargs={"ping_interval": 1.0, "ping_timeout": 1.0})
    await server.start()
    try:
        probe = scenarios.OfficialProbe()
        reason = await scenarios.disconnect_reason(server, transport, situation, probe)
    finally:
        await server.stop()
    assert reason == scenarios.EXPECTED_REASONS[situation, transport]


@pytest.mark.parametrize("target", [{"env": {"RECOVERY": "1"}}], indirect=True)
@pytest.mark.parametrize("transports", ALL_TRANSPORTS)
async def test_recovery(target: NodeTarget, transports: str) -> None:
    """Node's server with connectionStateRecovery: plexio's client gets its session back."""
    await scenarios.recovery_after_a_network_cut(target, transports)


@pytest.mark.parametrize("transports", ["websocket", "polling"])
async def test_no_recovery_when_the_server_has_it_off(target: NodeTarget, transports: str) -> None:
    await scenarios.no_recovery_without_it_on_the_server(target, transports)
