"""End-to-end fixtures: the community app with its demo data, and Debian's chromium.

Playwright drives ``/usr/bin/chromium`` (installed by ``scripts/system-deps.sh``; Playwright
cannot download its own browser here). Screenshots go to ``artifacts/`` at the repository root.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

import pytest
from community.app import create_app
from community.settings import Settings
from measure.chromium import CHROMIUM, launch
from playwright.async_api import Browser

from community.gateway import create_gateway_app
from tests.community.helpers import TEST_PASSWORD_COST, TEST_SECRET
from tests.helpers.servers import running_uvicorn

__all__: list[str] = []

ARTIFACTS: Final = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[str]:
    """URL of the community app (REST, sockets, page) seeded with the demo data."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'e2e.sqlite3'}",
        secret=TEST_SECRET,
        password_cost=TEST_PASSWORD_COST,
        seed_demo=True,
    )
    app = create_gateway_app(create_app(settings))
    async with running_uvicorn(app, lifespan="on") as server:
        yield server.http_url


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless chromium (Debian's build)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make system-deps` (installs chromium)")
    async with launch() as launched:
        yield launched


@pytest.fixture
def artifacts() -> Path:
    """The folder for screenshots (created on demand, ignored by git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
