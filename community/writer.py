"""Group commit for the frequent writes: units of work that arrive together share a transaction.

:class:`Writer` takes *works*: plain functions that get a synchronous SQLAlchemy
:class:`~sqlalchemy.engine.Connection` inside an open transaction, run their statements and
return a value, or raise a :class:`~community.errors.CommunityError` **before writing
anything** to refuse. Works queued while the writer is idle run together on the next turn of
the event loop, works queued while batches are written wait for the next one
(:class:`community.batches.Batches`); each caller gets its work's result only after its batch
has committed. Batches are cut in arrival order, so no work waits behind a later one; on
PostgreSQL a few are written at once (their commits overlap), on SQLite one.

A batch that fails as a whole (a constraint another writer's commit made fail, a lost
connection) is rolled back and its works are run again one per transaction, so each gets its
own answer and the others are not lost.

On PostgreSQL a batch runs on a pooled connection of the application's async engine
(``AsyncConnection.run_sync``: each statement is one round trip). On a SQLite file the writer
has a connection of its own, used from one thread of its own: the whole batch is one hop to
that thread instead of several per statement through aiosqlite, and it is the only writer of
the process's frequent writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from community.batches import Batches
from community.errors import CommunityError

__all__ = ["DEFAULT_CONCURRENCY", "DEFAULT_MAX_BATCH", "Work", "Writer"]

T = TypeVar("T")

Work = Callable[[Connection], T]
"""A unit of work: runs statements on a connection inside the batch's transaction."""

DEFAULT_MAX_BATCH: Final = 256
"""Most works written in one transaction."""

DEFAULT_CONCURRENCY: Final = 4
"""Most batches written at once on PostgreSQL."""


@dataclass(slots=True)
class _Queued(Generic[T]):
    work: Work[T]
    future: asyncio.Future[T]


@dataclass(frozen=True, slots=True)
class _Done:
    value: Any


_Outcome = _Done | BaseException


def _run_works(connection: Connection, works: list[Work[Any]]) -> list[_Outcome]:
    outcomes: list[_Outcome] = []
    for work in works:
        try:
            outcomes.append(_Done(work(connection)))
        except CommunityError as exc:
            outcomes.append(exc)
    return outcomes


class Writer:
    """Runs works in group commits.

    Args:
        engine: The application's async engine.
        sqlite_engine: For a SQLite file, a synchronous engine on the same file (see
            :func:`community.db.create_writer_engine`); ``None`` to run on ``engine``.
        max_batch: Most works per transaction.
        concurrency: Most batches written at once on PostgreSQL (commits overlap, so one slow
            commit does not hold every later request). On SQLite two batches are in flight
            but written one after the other by the writer's thread: the next one is written
            while the event loop answers the callers of the previous one.

    Attributes:
        transactions: Transactions committed so far (for tests and monitoring).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        sqlite_engine: Engine | None = None,
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self._engine = engine
        self._sqlite_engine = sqlite_engine
        self._thread: ThreadPoolExecutor | None = None
        self._batches: Batches[_Queued[Any]] = Batches(
            self._write_batch,
            max_batch=max_batch,
            # SQLite: two in flight, executed one after the other by the writer's one thread,
            # so the next batch is written while the loop answers the previous one.
            concurrency=2 if sqlite_engine is not None else concurrency,
        )
        self._closed = False
        self.transactions = 0

    @property
    def serial(self) -> bool:
        """Whether batches are written one after the other (SQLite), never overlapping."""
        return self._sqlite_engine is not None

    async def run(self, work: Work[T]) -> T:
        """Run a work in the next batch and return its result once the batch has committed.

        Raises:
            CommunityError: The work refused.
            RuntimeError: The writer is closed.
            Exception: The database failed the work (also when run alone).
        """
        if self._closed:
            raise RuntimeError("the writer is closed")
        queued: _Queued[T] = _Queued(work, asyncio.get_running_loop().create_future())
        self._batches.add(queued)
        return await asyncio.shield(queued.future)

    async def close(self) -> None:
        """Finish the queued works, then release the writer's own connection and thread."""
        self._closed = True
        await self._batches.drain()
        if self._thread is not None:
            thread, self._thread = self._thread, None
            await asyncio.get_running_loop().run_in_executor(thread, self._dispose)
            thread.shutdown(wait=True)
        elif self._sqlite_engine is not None:
            self._sqlite_engine.dispose()

    def _dispose(self) -> None:
        assert self._sqlite_engine is not None
        self._sqlite_engine.dispose()

    async def _write_batch(self, batch: list[_Queued[Any]]) -> None:
        outcomes = await self._write([q.work for q in batch])
        for queued, outcome in zip(batch, outcomes, strict=True):
            if queued.future.done():
                continue
            if isinstance(outcome, _Done):
                queued.future.set_result(outcome.value)
            else:
                queued.future.set_exception(outcome)
                # The caller may be gone; the exception is theirs, not the loop's.
                queued.future.exception()

    async def _write(self, works: list[Work[Any]]) -> list[_Outcome]:
        try:
            return await self._transaction(works)
        except Exception as exc:
            if len(works) == 1:
                return [exc]
        outcomes: list[_Outcome] = []
        for work in works:
            try:
                outcomes.extend(await self._transaction([work]))
            except Exception as exc:
                outcomes.append(exc)
        return outcomes

    async def _transaction(self, works: list[Work[Any]]) -> list[_Outcome]:
        if self._sqlite_engine is not None:
            if self._thread is None:
                self._thread = ThreadPoolExecutor(1, thread_name_prefix="community-writer")
            loop = asyncio.get_running_loop()
            outcomes = await loop.run_in_executor(self._thread, self._sync_transaction, works)
        else:
            async with self._engine.begin() as connection:
                outcomes = await connection.run_sync(_run_works, works)
        self.transactions += 1
        return outcomes

    def _sync_transaction(self, works: list[Work[Any]]) -> list[_Outcome]:
        assert self._sqlite_engine is not None
        with self._sqlite_engine.begin() as connection:
            return _run_works(connection, works)
