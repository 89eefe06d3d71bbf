"""Calling user handlers, each as in a task of its own, started eagerly (layer L2).

Shared by server and client. Every handler call gets its own copy of the caller's
:mod:`contextvars` context, so a value one handler sets is never seen by another or by
the connection that called it.

A plain function runs inline, at once, in that context; while it runs
``asyncio.current_task()`` is ``None`` (it is not running in the connection's task, and
must not be able to cancel it).

A coroutine function gets its own :class:`asyncio.Task`, current while its first step
runs right here, synchronously (the idea of Python 3.12's eager tasks, done on 3.11 with
asyncio's task switching functions). Inside the handler every asyncio facility therefore
behaves as in a task of its own (``asyncio.timeout``, ``TaskGroup``, ``current_task()``,
cancellation), while a handler that finishes without waiting (an echo, a broadcast) has
its result, and its acknowledgement, delivered before :func:`call_handler` returns. A
handler that suspends is resumed by its task, which the :class:`TaskOwner` keeps.

The task costs little until it is needed: it is allocated before the first step, but
initialised (registered with the loop, scheduled) only when the handler suspends or its
code uses it as a task (cancels it, adds a callback, asks its name ...). A handler that
returns at once therefore never schedules anything; ``asyncio.all_tasks()`` lists a
handler's task from then on.

Exceptions are logged and contained: they never reach the event loop or another socket.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import sys
import types
from asyncio import tasks as _aio_tasks
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterator
from typing import Any, TextIO, TypeVar

from plexio.typing import JSONValue

__all__ = ["FailureLog", "TaskOwner", "ack_args", "call_handler", "failures", "report_failure"]

logger = logging.getLogger(__name__)

#: Called with what a handler returned (its acknowledgement).
Done = Callable[[object], None]
_T = TypeVar("_T")

# asyncio's own task switching (what its tasks call around every step). Python 3.12
# uses the same pair for its eager tasks.
_TaskSwitch = Callable[[asyncio.AbstractEventLoop, "asyncio.Task[object]"], None]
_enter_task: _TaskSwitch = getattr(_aio_tasks, "_enter_task")  # noqa: B009
_leave_task: _TaskSwitch = getattr(_aio_tasks, "_leave_task")  # noqa: B009
# asyncio.current_task is a Python function on 3.11; the dict it reads is asyncio's own.
_current_task: Callable[[asyncio.AbstractEventLoop], asyncio.Task[object] | None] = (
    getattr(_aio_tasks, "_current_tasks").get  # noqa: B009
    if isinstance(getattr(_aio_tasks, "_current_tasks", None), dict)
    else asyncio.current_task
)
_copy_context = contextvars.copy_context
_get_running_loop = asyncio.get_running_loop
_CoroutineType = types.CoroutineType
_getrefcount = sys.getrefcount
#: _getrefcount of a handler task that only _ended's caller (and _ended) refer to.
_UNSHARED = 3
_new_task = asyncio.Task.__new__
#: Results that are certainly not awaitable (what handlers return most), recognised by
#: their exact type before the general checks.
_PLAIN = frozenset({dict, list, tuple, str, int, float, bool, bytes})


class FailureLog:
    """Logs a handler error in full the first time, then only counts it.

    The same error (the same handler, exception type and raising line) again and
    again, from many clients, would otherwise write a traceback each time, and the
    logging itself slows every other client down. Repeats are summed up when the
    count reaches 10, 100, 1000... Keys are bounded (``max_kinds``).
    """

    __slots__ = ("_counts", "_max_kinds")

    def __init__(self, max_kinds: int = 1000) -> None:
        self._counts: dict[tuple[str, str, str, int], int] = {}
        self._max_kinds = max_kinds

    def report(self, what: str, exc: BaseException) -> None:
        """Logs (or counts) ``exc``, raised by the handler for ``what``."""
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        where = (tb.tb_frame.f_code.co_filename, tb.tb_lineno) if tb is not None else ("?", 0)
        key = (what, type(exc).__qualname__, *where)
        counts = self._counts
        count = counts.get(key, 0) + 1
        if count == 1 and len(counts) >= self._max_kinds:
            counts.clear()
        counts[key] = count
        if count == 1:
            logger.error("handler for %s failed", what, exc_info=exc)
        elif _power_of_ten(count):
            logger.error(
                "handler for %s failed %d times with %s at %s:%d (traceback logged once)",
                what,
                count,
                key[1],
                key[2],
                key[3],
            )

    def count(self, what: str) -> int:
        """How many failures of the handler for ``what`` were seen (all kinds)."""
        return sum(n for key, n in self._counts.items() if key[0] == what)


def _power_of_ten(n: int) -> bool:
    while n >= 10 and n % 10 == 0:
        n //= 10
    return n == 1


#: The process-wide log of handler failures.
failures = FailureLog()


def report_failure(what: str) -> None:
    """Logs the exception being handled, raised by the handler for ``what``."""
    exc = sys.exc_info()[1]
    if exc is not None:
        failures.report(what, exc)


class TaskOwner:
    """Owns the tasks of suspended handlers so they can be cancelled together."""

    __slots__ = ("_tasks", "_below")

    def __init__(self) -> None:
        # A dict used as an ordered set: empty (most connections), it costs 64 bytes
        # where a set costs 216; emptied, it is replaced so it holds no table.
        self._tasks: dict[asyncio.Task[object], None] = {}
        self._below: tuple[int, Callable[[], None]] | None = None

    def add(self, task: asyncio.Task[object]) -> None:
        """Keeps ``task`` until it finishes."""
        self._tasks[task] = None
        task.add_done_callback(self._discard)

    def _discard(self, task: asyncio.Task[object]) -> None:
        tasks = self._tasks
        tasks.pop(task, None)
        if not tasks:
            tasks = self._tasks = {}
        below = self._below
        if below is not None and len(tasks) < below[0]:
            self._below = None
            below[1]()

    def when_below(self, count: int, callback: Callable[[], None]) -> None:
        """Calls ``callback`` once fewer than ``count`` tasks are left (replaces an
        earlier request)."""
        if len(self._tasks) < count:
            self._below = None
            callback()
        else:
            self._below = (count, callback)

    def spawn(
        self, coro: Coroutine[object, object, _T], name: str | None = None
    ) -> asyncio.Task[_T]:
        """Runs ``coro`` in a task kept until it finishes."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.add(task)
        return task

    def cancel_all(self) -> None:
        """Cancels every task still running."""
        for task in list(self._tasks):
            task.cancel()
        self._tasks = {}
        below, self._below = self._below, None
        if below is not None:
            below[1]()

    async def wait(self) -> None:
        """Waits until the tasks running now have finished (not those started later)."""
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        if tasks:
            await asyncio.wait(tasks)

    async def close(self) -> None:
        """Cancels every task still running (but the caller's own) and waits for them."""
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[asyncio.Task[object]]:
        """The tasks still running (a snapshot: adding or ending one does not disturb it)."""
        return iter(list(self._tasks))


class _EagerStep(Coroutine[Any, Any, None]):
    """What the handler's task runs: the handler coroutine after its eager first step.

    The task is initialised (and scheduled) during or after the handler's eager first
    step, which ran with the task as the current task. When the task then takes its own first
    step, this object hands it what the handler is waiting on (or finishes at once if
    the handler already has), and from then on forwards every ``send`` and ``throw`` to
    the handler: the task drives the handler exactly as if it had started it.
    The handler's result goes to ``done``; its exceptions are logged here, so the task
    itself ends with ``None`` (or cancelled).
    """

    __slots__ = (
        "_coro",
        "_done",
        "_what",
        "_waiting",
        "_blocking",
        "_first",
        "_finished",
        "_cancelled",
    )

    def __init__(self, coro: Coroutine[Any, Any, Any], done: Done | None, what: str) -> None:
        self._coro = coro
        self._done = done
        self._what = what
        self._waiting: Any = None  # what the eager step yielded to the event loop
        self._blocking = False  # it was a future awaited with ``await`` (see start)
        self._first = True  # the task has not taken its first step yet
        self._finished = False
        self._cancelled = False

    # What the eager step (run by call_handler with the task current) ended with.
    def suspended(self, waiting: Any) -> None:
        """The handler's first step yielded ``waiting`` to the event loop."""
        self._waiting = waiting
        # A future's ``await`` flags it as blocking, and the task that receives it clears
        # the flag at once. The task only receives it at its first step, so the flag is
        # put aside until then: another handler's eager step may await the same future
        # meanwhile, and its task must find its own flag set.
        if getattr(waiting, "_asyncio_future_blocking", False):
            waiting._asyncio_future_blocking = False
            self._blocking = True

    def cancelled(self) -> None:
        """The handler's first step raised CancelledError."""
        self._finished = self._cancelled = True

    def failed(self) -> None:
        """The handler's first step ended it (raised, already logged; or returned, its
        result already delivered)."""
        self._finished = True

    def _complete(self, result: object) -> None:
        self._finished = True
        done = self._done
        if done is not None:
            try:
                done(result)
            except Exception:
                logger.exception("completion of %s failed", self._what)

    def _resume(self, method: Callable[[Any], Any], value: Any) -> Any:
        try:
            return method(value)
        except StopIteration as stop:
            self._complete(stop.value)
        except asyncio.CancelledError:
            self._finished = True
            raise
        except Exception:
            self._finished = True
            report_failure(self._what)
        raise StopIteration

    # The coroutine protocol, as the task drives it.
    def send(self, value: Any) -> Any:
        if self._first:  # the task's first step
            self._first = False
            waiting, self._waiting = self._waiting, None
            if self._finished:
                if self._cancelled:
                    raise asyncio.CancelledError
                raise StopIteration
            if self._blocking:
                waiting._asyncio_future_blocking = True
            return waiting  # the task now waits for what the handler waits for
        return self._resume(self._coro.send, value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        exc = typ if isinstance(typ, BaseException) else typ(*(() if val is None else (val,)))
        if self._first:
            # Cancelled before its first step: the task never saw what the handler waits
            # on, so cancel that here, as the task would have.
            self._first = False
            waiting, self._waiting = self._waiting, None
            if self._finished:
                raise exc
            if isinstance(exc, asyncio.CancelledError) and asyncio.isfuture(waiting):
                waiting.cancel()
        return self._resume(self._coro.throw, exc)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, None]:
        raise TypeError("an eager handler step is driven by its task only")

    # What asyncio's introspection (task repr, get_stack) looks for.
    @property
    def cr_frame(self) -> types.FrameType | None:
        return getattr(self._coro, "cr_frame", None)

    @property
    def cr_await(self) -> object:
        return getattr(self._coro, "cr_await", None)

    @property
    def cr_running(self) -> bool:
        return bool(getattr(self._coro, "cr_running", False))

    @property
    def cr_code(self) -> types.CodeType | None:
        return getattr(self._coro, "cr_code", None)


class _HandlerTask(asyncio.Task[Any]):
    """The task of a coroutine handler: allocated before its eager first step,
    initialised only when something needs it as a task (see the module docstring).

    Until then it is a pending task nobody has cancelled: ``done()``, ``cancelled()``,
    ``cancelling()`` and ``uncancel()`` answer as such; every other method initialises
    it first.
    """

    __slots__ = ("_h_coro", "_h_call", "_h_step")
    _h_coro: Coroutine[Any, Any, Any]
    _h_call: tuple[Done | None, str, contextvars.Context, asyncio.AbstractEventLoop]
    _h_step: _EagerStep | None

    def _h_start(self) -> _EagerStep:
        """Initialises the task (once): registered with the loop, its first step scheduled."""
        step = self._h_step
        if step is None:
            done, what, context, loop = self._h_call
            step = self._h_step = _EagerStep(self._h_coro, done, what)
            asyncio.Task.__init__(self, step, loop=loop, context=context)
        return step

    def get_coro(self) -> Coroutine[Any, Any, Any]:
        return self._h_coro  # the handler's coroutine, not the step driving it

    def cancel(self, msg: Any | None = None) -> bool:
        self._h_start()
        return super().cancel(msg)

    def result(self) -> Any:
        self._h_start()
        return super().result()

    def exception(self) -> BaseException | None:
        self._h_start()
        return super().exception()

    def add_done_callback(self, fn: Any, *, context: contextvars.Context | None = None) -> None:
        self._h_start()
        super().add_done_callback(fn, context=context)

    def remove_done_callback(self, fn: Any) -> int:
        self._h_start()
        return super().remove_done_callback(fn)

    def get_loop(self) -> asyncio.AbstractEventLoop:
        self._h_start()
        return super().get_loop()

    def get_context(self) -> contextvars.Context:
        return self._h_call[2]

    def get_name(self) -> str:
        self._h_start()
        return super().get_name()

    def set_name(self, value: object) -> None:
        self._h_start()
        super().set_name(value)

    def get_stack(self, *, limit: int | None = None) -> list[types.FrameType]:
        self._h_start()
        return super().get_stack(limit=limit)

    def print_stack(self, *, limit: int | None = None, file: TextIO | None = None) -> None:
        self._h_start()
        super().print_stack(limit=limit, file=file)

    def __repr__(self) -> str:
        self._h_start()
        return super().__repr__()

    def __await__(self) -> Generator[Any, None, Any]:
        self._h_start()
        return super().__await__()

    __iter__ = __await__


def ack_args(result: object) -> list[JSONValue]:
    """A handler's return value as acknowledgement arguments (a tuple gives several)."""
    if result is None:
        return []
    if isinstance(result, tuple):
        return list(result)
    return [result]


async def _await(awaitable: Awaitable[_T]) -> _T:
    return await awaitable


def call_handler(
    handler: Callable[..., object],
    args: tuple[object, ...],
    done: Done | None,
    owner: TaskOwner,
    what: str,
) -> None:
    """Runs ``handler(*args)`` as in a task of its own and calls ``done(result)`` when it returns.

    Args:
        handler: a function or coroutine function.
        args: its positional arguments.
        done: called with the return value (not called if the handler raised).
        owner: keeps the task if the handler suspends.
        what: names the handler in logs.
    """
    # The hot path of every event: one function (no helper frames), asyncio's C task
    # switching, and the plain values a handler returns recognised by their type.
    loop = _get_running_loop()
    outer = _current_task(loop)
    if outer is not None:
        _leave_task(loop, outer)  # the caller's task is not the handler's
    try:
        context = _copy_context()
        try:
            coro = context.run(handler, *args)
        except Exception:
            report_failure(what)
            return
        if type(coro) is not _CoroutineType:
            if coro is None or type(coro) in _PLAIN or not inspect.isawaitable(coro):
                if done is not None:
                    try:
                        done(coro)
                    except Exception:
                        logger.exception("completion of %s failed", what)
                return
            if not isinstance(coro, Coroutine):
                coro = _await(coro)  # a future or other awaitable: drive it as a coroutine
        # A coroutine: its first step runs here, with its own task current.
        task = _new_task(_HandlerTask)
        task._h_coro = coro
        task._h_call = (done, what, context, loop)
        task._h_step = None
        _enter_task(loop, task)
        try:
            waiting = context.run(coro.send, None)
        except StopIteration as stop:
            _leave_task(loop, task)
            if done is not None:
                try:
                    done(stop.value)
                except Exception:
                    logger.exception("completion of %s failed", what)
            # The common case ends here: nothing initialised the task and nothing else
            # refers to it (our local and getrefcount's argument), so it is simply dropped.
            if task._h_step is not None or _getrefcount(task) > 2:
                _ended(task, cancelled=False)
            return
        except asyncio.CancelledError:
            _leave_task(loop, task)
            _ended(task, cancelled=True)
            return
        except Exception:
            _leave_task(loop, task)
            report_failure(what)
            _ended(task, cancelled=False)
            return
        except BaseException:
            _leave_task(loop, task)
            raise
        _leave_task(loop, task)
        task._h_start().suspended(waiting)
        owner.add(task)
    finally:
        if outer is not None:
            _enter_task(loop, outer)


def _ended(task: _HandlerTask, *, cancelled: bool) -> None:
    """The handler ended in its eager first step (its result, if any, delivered).

    A task nobody initialised is dropped, unless the handler kept a reference to it:
    then it must become a real task that ends, as the handler's task would have.
    """
    step = task._h_step
    if step is None and _getrefcount(task) > _UNSHARED:
        step = task._h_start()
    if step is not None:  # its first step will end it
        if cancelled:
            step.cancelled()
        else:
            step.failed()  # ended: nothing more to deliver
