"""Calling user handlers without a task per message (layer L2, shared by server and client).

A handler may be a plain function or a coroutine function. A coroutine is first run
synchronously, right here: most handlers (an echo, a broadcast) finish without ever
waiting, and then no task is created at all. Only a coroutine that really suspends is
handed to a task, which resumes it where it stopped (the same idea as Python 3.12's
eager tasks, available here on 3.11). Exceptions are logged and contained: they never
reach the event loop or another socket.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

__all__ = ["TaskOwner", "ack_args", "call_handler"]

logger = logging.getLogger(__name__)

Done = Callable[[Any], None]


class TaskOwner:
    """Owns the tasks of suspended handlers so they can be cancelled together."""

    __slots__ = ("_tasks",)

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def add(self, task: asyncio.Task[Any]) -> None:
        """Keeps ``task`` until it finishes."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        """Runs ``coro`` in a task kept until it finishes."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.add(task)
        return task

    def cancel_all(self) -> None:
        """Cancels every task still running."""
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()

    async def close(self) -> None:
        """Cancels every task still running (but the caller's own) and waits for them."""
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __len__(self) -> int:
        return len(self._tasks)


class _Resume:
    """Awaitable that continues a coroutine which already yielded ``first``."""

    __slots__ = ("_coro", "_first")

    def __init__(self, coro: Coroutine[Any, Any, Any], first: Any) -> None:
        self._coro = coro
        self._first = first

    def __await__(self) -> Generator[Any, Any, Any]:
        coro = self._coro
        pending = self._first
        while True:
            try:
                sent = yield pending
            except BaseException as exc:  # cancellation and errors go to the coroutine
                try:
                    pending = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    pending = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


async def _finish(coro: Coroutine[Any, Any, Any], first: Any, done: Done | None, what: str) -> None:
    try:
        result = await _Resume(coro, first)
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("handler for %s failed", what)
        return
    if done is not None:
        try:
            done(result)
        except Exception:
            logger.exception("completion of %s failed", what)


def _close(coro: Coroutine[Any, Any, Any], what: str) -> None:
    """Closes a handler coroutine its task never resumed (no-op once it has finished)."""
    try:
        coro.close()
    except Exception:
        logger.exception("handler for %s failed while being cancelled", what)


def ack_args(result: Any) -> list[Any]:
    """A handler's return value as acknowledgement arguments (a tuple gives several)."""
    if result is None:
        return []
    if isinstance(result, tuple):
        return list(result)
    return [result]


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def call_handler(
    handler: Callable[..., Any],
    args: tuple[Any, ...],
    done: Done | None,
    owner: TaskOwner,
    what: str,
) -> None:
    """Runs ``handler(*args)`` and calls ``done(result)`` when it returns.

    Args:
        handler: a function or coroutine function.
        args: its positional arguments.
        done: called with the return value (not called if the handler raised).
        owner: keeps the task if the handler suspends.
        what: names the handler in logs.
    """
    try:
        result = handler(*args)
    except Exception:
        logger.exception("handler for %s failed", what)
        return
    if not isinstance(result, Coroutine) and inspect.isawaitable(result):
        result = _await(result)  # a future or other awaitable: drive it like a coroutine
    if isinstance(result, Coroutine):
        try:
            first = result.send(None)
        except StopIteration as stop:
            result = stop.value
        except Exception:
            logger.exception("handler for %s failed", what)
            return
        else:
            task = asyncio.get_running_loop().create_task(_finish(result, first, done, what))
            # A task cancelled before its first step never enters ``_finish``, so the
            # handler would stay suspended (its timers and waiters alive) until GC.
            coro = result

            def release(_task: asyncio.Task[None]) -> None:
                _close(coro, what)

            task.add_done_callback(release)
            owner.add(task)
            return
    if done is not None:
        try:
            done(result)
        except Exception:
            logger.exception("completion of %s failed", what)
