"""Many one-shot deadlines on one event-loop timer, run in batches (layer L2).

May import: asyncio and the standard library only.

Every session has a deadline (its next ping, its pong timeout...). One asyncio timer
per session costs about 600 bytes and a loop wake-up per deadline; :class:`Deadlines`
keeps them in one heap instead (a tuple and a small handle each) under a single loop
timer armed for the earliest one. Deadlines are rounded up to a grid of
``resolution`` seconds, so every deadline of one grid cell runs in the same loop
callback: the heartbeats of thousands of idle sessions wake the loop once per cell,
and the frames they queue leave in one flush. A deadline never runs early; it may run
up to ``resolution`` late.

Cancelling marks the handle (the heap entry is dropped when it comes up, or when
cancelled entries outnumber the live ones).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
from collections.abc import Callable

__all__ = ["Deadline", "Deadlines"]

logger = logging.getLogger(__name__)

#: Cancelled entries tolerated before the heap is rebuilt without them.
_COMPACT_AFTER = 1024


class Deadline:
    """One scheduled call; :meth:`cancel` it to drop it.

    Attributes:
        when: the loop time it is due.
        callback: what it calls; ``None`` once cancelled or taken to run.
    """

    __slots__ = ("when", "callback", "_owner")

    def __init__(self, when: float, callback: Callable[[], None], owner: Deadlines) -> None:
        self.when = when
        self.callback: Callable[[], None] | None = callback
        self._owner = owner

    @property
    def cancelled(self) -> bool:
        """Whether it was cancelled (or has run)."""
        return self.callback is None

    def cancel(self) -> None:
        """Drops the call (nothing happens if it already ran or was cancelled)."""
        if self.callback is not None:
            self.callback = None
            self._owner.note_cancelled()


class Deadlines:
    """One-shot calls at loop times, batched per ``resolution`` seconds.

    Args:
        loop: the event loop whose clock and timer are used.
        resolution: the grid deadlines are rounded up to (seconds, > 0).
    """

    __slots__ = ("_loop", "_resolution", "_heap", "_order", "_armed_at", "_handle", "_cancelled")

    def __init__(self, loop: asyncio.AbstractEventLoop, resolution: float = 0.01) -> None:
        if not resolution > 0:
            raise ValueError("resolution must be positive")
        self._loop = loop
        self._resolution = resolution
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._armed_at = math.inf
        self._handle: asyncio.TimerHandle | None = None
        self._cancelled = 0

    def __len__(self) -> int:
        """Entries held (cancelled ones not yet dropped included)."""
        return len(self._heap)

    def call_at(self, when: float, callback: Callable[[], None]) -> Deadline:
        """Calls ``callback()`` at loop time ``when`` or up to ``resolution`` later."""
        deadline = Deadline(when, callback, self)
        heapq.heappush(self._heap, (when, next(self._order), deadline))
        if when < self._armed_at:
            self._arm(when)
        return deadline

    def close(self) -> None:
        """Drops every pending call and the loop timer."""
        for _, _, deadline in self._heap:
            deadline.callback = None
        self._heap.clear()
        self._cancelled = 0
        self._disarm()

    def note_cancelled(self) -> None:
        """One of this scheduler's deadlines was cancelled (it stays in the heap until
        it is due or the heap is compacted)."""
        self._cancelled += 1
        heap = self._heap
        if self._cancelled >= len(heap):  # nothing live is left: no loop timer either
            heap.clear()
            self._cancelled = 0
            self._disarm()
        elif self._cancelled > _COMPACT_AFTER and self._cancelled * 2 > len(heap):
            heap[:] = [entry for entry in heap if entry[2].callback is not None]
            heapq.heapify(heap)
            self._cancelled = 0

    # ------------------------------------------------------------ internals

    def _arm(self, when: float) -> None:
        resolution = self._resolution
        at = math.ceil(when / resolution) * resolution
        if at < when:  # float rounding: never earlier than the deadline
            at = when
        if self._handle is not None:
            if at >= self._armed_at:
                return
            self._handle.cancel()
        self._armed_at = at
        self._handle = self._loop.call_at(at, self._fire)

    def _disarm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._armed_at = math.inf

    def _fire(self) -> None:
        self._handle = None
        self._armed_at = math.inf
        now = self._loop.time()
        heap = self._heap
        due: list[Callable[[], None]] = []
        while heap and heap[0][0] <= now:
            deadline = heapq.heappop(heap)[2]
            callback = deadline.callback
            if callback is None:
                self._cancelled -= 1
                continue
            deadline.callback = None
            due.append(callback)
        # Calls scheduled by these callbacks, even already due, wait for the next fire.
        for callback in due:
            try:
                callback()
            except Exception:
                logger.exception("deadline callback failed")
        while heap and heap[0][2].callback is None:
            heapq.heappop(heap)
            self._cancelled -= 1
        if heap:
            self._arm(heap[0][0])  # unless a callback armed the timer earlier still
