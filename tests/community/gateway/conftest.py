"""Fixtures of the gateway tests: the whole community app (REST, sockets, page) under uvicorn.

The app runs on a fresh SQLite database in the test's event loop, on a free port of 127.0.0.1,
so tests can talk to it with real clients (plexio's Socket.IO client, httpx) and also call its
service directly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from community.app import create_app, get_services
from community.settings import Settings

from community.gateway import Gateway, create_gateway_app, get_gateway
from community.services import Services
from tests.community.gateway.helpers import Clients, Live
from tests.community.helpers import TEST_PASSWORD_COST, TEST_SECRET
from tests.helpers.servers import running_uvicorn

__all__: list[str] = []


@pytest.fixture
def gateway_settings(tmp_path: Path) -> Settings:
    """Settings of an empty SQLite database without demo data."""
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'gateway.sqlite3'}",
        secret=TEST_SECRET,
        password_cost=TEST_PASSWORD_COST,
    )


@pytest.fixture
async def live(gateway_settings: Settings) -> AsyncIterator[Live]:
    """The community app served by uvicorn (lifespan on: migrations run at start-up)."""
    api = create_app(gateway_settings)
    app = create_gateway_app(api)
    async with running_uvicorn(app, lifespan="on") as server:
        services: Services = get_services(api)
        gateway: Gateway = get_gateway(api)
        async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as http:
            yield Live(url=server.http_url, services=services, gateway=gateway, http=http)


@pytest.fixture
async def clients(live: Live) -> AsyncIterator[Clients]:
    """Socket.IO client factory; every manager it made is closed after the test."""
    factory = Clients(live)
    try:
        yield factory
    finally:
        await factory.close()
