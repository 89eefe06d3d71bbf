"""Calling user handlers from the client (layer L3).

A handler may be a plain function or a coroutine function. A plain function runs at
once; a coroutine runs in a task kept in a :class:`TaskSet` (cancelled when the
manager closes). Exceptions are logged and contained: they never reach the event
loop, the connection or another handler.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

__all__ = ["TaskSet", "ack_args", "call_handler"]

logger = logging.getLogger(__name__)

Done = Callable[[Any], None]


class TaskSet:
    """Owns background tasks so they can be cancelled together."""

    __slots__ = ("_tasks",)

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        """Runs ``coro`` in a task kept until it finishes."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def cancel_all(self) -> None:
        """Cancels every task still running and waits for them to end."""
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __len__(self) -> int:
        return len(self._tasks)


def ack_args(result: Any) -> list[Any]:
    """A handler's return value as acknowledgement arguments (tuple = several)."""
    if result is None:
        return []
    if isinstance(result, tuple):
        return list(result)
    return [result]


async def _finish(awaitable: Awaitable[Any], done: Done | None, what: str) -> None:
    try:
        result = await awaitable
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


async def _wrap(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def call_handler(
    handler: Callable[..., Any],
    args: tuple[Any, ...],
    done: Done | None,
    tasks: TaskSet,
    what: str,
) -> None:
    """Runs ``handler(*args)``; calls ``done(result)`` when it has returned.

    Args:
        handler: a function or coroutine function.
        args: its positional arguments.
        done: called with the return value (not called if the handler raised).
        tasks: owns the task when the handler is a coroutine.
        what: names the handler in logs.
    """
    try:
        result = handler(*args)
    except Exception:
        logger.exception("handler for %s failed", what)
        return
    if inspect.isawaitable(result):
        coro = result if inspect.iscoroutine(result) else _wrap(result)
        tasks.spawn(_finish(coro, done, what))
        return
    if done is not None:
        try:
            done(result)
        except Exception:
            logger.exception("completion of %s failed", what)
