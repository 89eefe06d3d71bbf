"""Group commit's queue: items that arrive together are handled as one batch.

:class:`Batches` collects items; on the next turn of the event loop it hands the waiting ones,
in arrival order and at most ``max_batch`` at a time, to a coroutine that writes them. Items
that arrive while ``concurrency`` batches are being written wait for the next free turn, so
batches grow with the load and a later item is never taken before an earlier one. The writing
coroutine answers each item (its future) itself; whatever it raises answers every item of its
batch that is still unanswered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["Batches", "Item"]


class Item(Protocol):
    """What a batch holds: anything with the future its caller awaits."""

    @property
    def future(self) -> asyncio.Future[Any]:
        """Answered when the item's batch is done."""
        ...


T = TypeVar("T", bound=Item)


class Batches(Generic[T]):
    """A queue written in batches.

    Args:
        write: Writes one batch and answers its items.
        max_batch: Most items per batch.
        concurrency: Most batches written at once.
    """

    def __init__(
        self,
        write: Callable[[list[T]], Awaitable[None]],
        *,
        max_batch: int,
        concurrency: int = 1,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._write = write
        self._max_batch = max_batch
        self._concurrency = concurrency
        self._queue: list[T] = []
        self._pump: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()

    def add(self, item: T) -> None:
        """Queue an item for the next batch."""
        self._queue.append(item)
        if self._pump is None:
            self._pump = asyncio.get_running_loop().create_task(self._run())

    async def drain(self) -> None:
        """Wait until every queued item has been written."""
        while self._pump is not None or self._in_flight:
            if self._pump is not None:
                await asyncio.shield(self._pump)
            if self._in_flight:
                await asyncio.wait(set(self._in_flight))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                if len(self._in_flight) >= self._concurrency:
                    await asyncio.wait(set(self._in_flight), return_when=asyncio.FIRST_COMPLETED)
                    continue
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                task = loop.create_task(self._write_batch(batch))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
                # Let the batch start before the next one is cut from what arrived meanwhile.
                await asyncio.sleep(0)
        finally:
            self._pump = None

    async def _write_batch(self, batch: list[T]) -> None:
        try:
            await self._write(batch)
        except Exception as exc:
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
                    # The caller may be gone; the exception is theirs, not the loop's.
                    item.future.exception()
