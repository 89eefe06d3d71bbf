"""The event loop's pending timers, for tests that check nothing was left scheduled."""

from __future__ import annotations

import asyncio

__all__ = ["live_timers"]


def live_timers(loop: asyncio.AbstractEventLoop) -> list[asyncio.TimerHandle]:
    """The timers of ``loop`` that are scheduled and not cancelled.

    asyncio offers no public view of them: they sit in the loop's ``_scheduled`` heap
    (``BaseEventLoop``, which uvloop does not share). This is the one place the tests read
    it.
    """
    scheduled: list[asyncio.TimerHandle] = getattr(loop, "_scheduled")  # noqa: B009
    return [handle for handle in scheduled if not handle.cancelled()]
