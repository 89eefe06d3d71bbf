"""plexio's client against plexio's server (in a subprocess, so it can be killed).

The same scenarios run against Node's socket.io 4.8 in
``tests/interop/test_client_vs_node.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.client import scenarios
from tests.client.targets import PlexioTarget

Scenario = Callable[[PlexioTarget, str], Awaitable[None]]

ALL_TRANSPORTS = ["upgrade", "polling", "websocket"]


@pytest.fixture
async def target(request: pytest.FixtureRequest) -> AsyncIterator[PlexioTarget]:
    param = getattr(request, "param", "json")
    parser, _, limit = param.partition(":")
    kwargs: dict[str, float | bool] = {"ping_interval": 1.0, "ping_timeout": 1.0}
    if limit == "recovery":
        kwargs["recovery"] = True
    elif limit:
        kwargs["max_http_buffer_size"] = int(limit)
    server = PlexioTarget(parser=parser, kwargs=kwargs)
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
async def test_scenario(target: PlexioTarget, scenario: Scenario, transports: str) -> None:
    await scenario(target, transports)


@pytest.mark.parametrize(
    "scenario",
    scenarios.UPGRADE_ONLY,
)
async def test_scenario_upgrade(target: PlexioTarget, scenario: Scenario) -> None:
    await scenario(target, "upgrade")


@pytest.mark.parametrize("target", ["msgpack"], indirect=True)
@pytest.mark.parametrize("transports", ALL_TRANSPORTS)
@pytest.mark.parametrize(
    "scenario",
    [scenarios.multi_namespace_one_engine, scenarios.acks_both_ways, scenarios.binary_both_ways],
)
async def test_msgpack(target: PlexioTarget, scenario: Scenario, transports: str) -> None:
    await scenario(target, transports)


@pytest.mark.parametrize("target", ["msgpack"], indirect=True)
async def test_msgpack_reconnect(target: PlexioTarget) -> None:
    await scenarios.reconnect_after_restart(target, "upgrade")


@pytest.mark.parametrize("target", ["json:2000"], indirect=True)
@pytest.mark.parametrize("transports", ["polling", "websocket"])
async def test_payload_over_max_is_refused(target: PlexioTarget, transports: str) -> None:
    await scenarios.payload_over_max_is_refused(target, transports)


@pytest.mark.parametrize("transport", ["websocket", "polling"])
@pytest.mark.parametrize("situation", scenarios.SITUATIONS)
async def test_disconnect_reason_is_the_official_clients(
    target: PlexioTarget, situation: str, transport: str
) -> None:
    reason = await scenarios.disconnect_reason(
        target, transport, situation, scenarios.PlexioProbe()
    )
    assert reason == scenarios.EXPECTED_REASONS[situation, transport]


@pytest.mark.parametrize("target", ["json:recovery"], indirect=True)
@pytest.mark.parametrize("transports", ALL_TRANSPORTS)
async def test_recovery(target: PlexioTarget, transports: str) -> None:
    await scenarios.recovery_after_a_network_cut(target, transports)


@pytest.mark.parametrize("transports", ["websocket", "polling"])
async def test_no_recovery_when_the_server_has_it_off(
    target: PlexioTarget, transports: str
) -> None:
    await scenarios.no_recovery_without_it_on_the_server(target, transports)
