"""Debian's headless chromium through Playwright, as the topology measurement and the
end-to-end tests launch it (Playwright cannot download its own browser here)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from playwright.async_api import Browser

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "launch"]

CHROMIUM: Final = Path("/usr/bin/chromium")
CHROMIUM_ARGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
)


@asynccontextmanager
async def launch(*extra_args: str) -> AsyncIterator[Browser]:
    """Headless :data:`CHROMIUM` with :data:`CHROMIUM_ARGS` and ``extra_args``."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra_args], timeout=60_000
        )
        try:
            yield browser
        finally:
            await browser.close()
