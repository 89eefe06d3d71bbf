"""Bounded waiting for a condition that other tasks make true."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["eventually"]


async def eventually(
    condition: Callable[[], object], timeout: float = 5.0, interval: float = 0.005
) -> None:
    """Wait until ``condition()`` is truthy, checking every ``interval`` seconds.

    Args:
        condition: checked on the event loop, so it may read server state directly.
        timeout: seconds before failing.
        interval: seconds between checks.

    Raises:
        AssertionError: when the condition is still false after ``timeout``.
    """
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not condition():
        if loop.time() >= end:
            raise AssertionError(f"condition not met within {timeout} s: {condition}")
        await asyncio.sleep(interval)
