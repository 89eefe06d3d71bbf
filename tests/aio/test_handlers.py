"""plexio.aio.handlers: eager handler calls, task ownership, containment."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from plexio.aio.handlers import TaskOwner, call_handler
from tests.helpers.timers import live_timers

LOGGER = "plexio.aio.handlers"


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """Whatever reaches the event loop's exception handler (must stay empty)."""
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    yield errors
    loop.set_exception_handler(previous)


async def test_sync_handler_completes_at_once() -> None:
    owner = TaskOwner()
    results: list[Any] = []
    call_handler(lambda a, b: a + b, (2, 3), results.append, owner, "add")
    assert results == [5]
    assert len(owner) == 0


async def test_coroutine_that_never_suspends_finishes_before_the_call_returns() -> None:
    owner = TaskOwner()
    results: list[Any] = []
    ran: list[str] = []

    async def handler(x: int) -> int:
        ran.append("body")
        return x * 2

    call_handler(handler, (21,), results.append, owner, "double")
    # finished (and acknowledged) before call_handler returned; nothing left to own
    assert results == [42]
    assert ran == ["body"]
    assert len(owner) == 0


async def test_coroutine_that_suspends_gets_one_owned_task() -> None:
    owner = TaskOwner()
    results: list[Any] = []
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def handler(x: int) -> tuple[int, str]:
        got = await gate
        await asyncio.sleep(0)
        return x, got

    call_handler(handler, (7,), results.append, owner, "wait")
    assert results == []
    assert len(owner) == 1
    gate.set_result("opened")
    async with asyncio.timeout(5):
        while not results:
            await asyncio.sleep(0)
    assert results == [(7, "opened")]
    await asyncio.sleep(0)
    assert len(owner) == 0


async def test_two_handlers_waiting_on_one_future_both_resume(
    loop_errors: list[dict[str, Any]],
) -> None:
    # Two eager first steps yield the same pending future before either task has taken
    # its first step (e.g. two CONNECTs waiting for one namespace's cluster adapter).
    owner = TaskOwner()
    results: list[Any] = []
    shared: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def handler(x: int) -> tuple[int, str]:
        return x, await shared

    call_handler(handler, (1,), results.append, owner, "first")
    call_handler(handler, (2,), results.append, owner, "second")
    shared.set_result("ready")
    async with asyncio.timeout(5):
        while len(results) < 2:
            await asyncio.sleep(0)
    assert sorted(results) == [(1, "ready"), (2, "ready")]
    assert loop_errors == []


async def test_exception_thrown_into_a_resumed_coroutine_reaches_it() -> None:
    owner = TaskOwner()
    results: list[Any] = []
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def handler() -> str:
        try:
            await gate
        except KeyError as exc:
            return f"caught {exc.args[0]}"
        return "not reached"

    call_handler(handler, (), results.append, owner, "catch")
    gate.set_exception(KeyError("k"))
    async with asyncio.timeout(5):
        while not results:
            await asyncio.sleep(0)
    assert results == ["caught k"]


async def test_order_of_eager_and_suspended_handlers() -> None:
    """Handlers start in call order; eager ones finish at once, suspended ones later."""
    owner = TaskOwner()
    log: list[str] = []

    def sync(tag: str) -> str:
        log.append(f"start {tag}")
        return tag

    async def eager(tag: str) -> str:
        log.append(f"start {tag}")
        return tag

    async def sleeper(tag: str) -> str:
        log.append(f"start {tag}")
        await asyncio.sleep(0.01)
        return tag

    def done(result: Any) -> None:
        log.append(f"done {result}")

    call_handler(sleeper, ("a",), done, owner, "a")
    call_handler(sync, ("b",), done, owner, "b")
    call_handler(eager, ("c",), done, owner, "c")
    call_handler(sleeper, ("d",), done, owner, "d")
    assert log == ["start a", "start b", "done b", "start c", "done c", "start d"]
    async with asyncio.timeout(5):
        while len(owner):
            await asyncio.sleep(0.005)
    assert log[6:] == ["done a", "done d"]


@pytest.mark.parametrize("where", ["sync", "before suspending", "after suspending"])
async def test_handler_exceptions_are_logged_and_contained(
    caplog: pytest.LogCaptureFixture, loop_errors: list[dict[str, Any]], where: str
) -> None:
    owner = TaskOwner()
    results: list[Any] = []

    def sync_fail() -> None:
        raise RuntimeError("boom sync")

    async def early_fail() -> None:
        raise RuntimeError("boom early")

    async def late_fail() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("boom late")

    handler = {"sync": sync_fail, "before suspending": early_fail, "after suspending": late_fail}
    call_handler(handler[where], (), results.append, owner, f"event-{where}")
    async with asyncio.timeout(5):
        while len(owner):
            await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert results == []
    failures = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.ERROR]
    assert len(failures) == 1
    assert failures[0].getMessage() == f"handler for event-{where} failed"
    assert failures[0].exc_info is not None
    assert "boom" in str(failures[0].exc_info[1])
    assert loop_errors == []


@pytest.mark.parametrize("suspends", [False, True])
async def test_failing_completion_is_logged(
    caplog: pytest.LogCaptureFixture, loop_errors: list[dict[str, Any]], suspends: bool
) -> None:
    owner = TaskOwner()

    async def handler() -> int:
        if suspends:
            await asyncio.sleep(0)
        return 1

    def done(result: Any) -> None:
        raise ValueError("cannot ack")

    call_handler(handler, (), done, owner, "acked")
    async with asyncio.timeout(5):
        while len(owner):
            await asyncio.sleep(0)
    await asyncio.sleep(0)
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert messages == ["completion of acked failed"]
    assert loop_errors == []


@pytest.mark.parametrize("started", [False, True])
async def test_cancel_all_cancels_suspended_handlers(
    loop_errors: list[dict[str, Any]], started: bool
) -> None:
    """Cancelled before or after the task's first step, the handler is unwound."""
    owner = TaskOwner()
    cleaned: list[str] = []
    results: list[Any] = []

    async def forever(tag: str) -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            cleaned.append(tag)

    for tag in ("x", "y", "z"):
        call_handler(forever, (tag,), results.append, owner, tag)
    assert len(owner) == 3
    if started:
        await asyncio.sleep(0)
    timers = len(live_timers(asyncio.get_running_loop()))
    assert timers >= 3
    tasks = list(owner)
    owner.cancel_all()
    assert len(owner) == 0
    await asyncio.gather(*tasks, return_exceptions=True)
    assert all(t.cancelled() for t in tasks)
    assert sorted(cleaned) == ["x", "y", "z"]
    assert results == []
    assert loop_errors == []
    # the hour-long sleeps released their timers
    live = live_timers(asyncio.get_running_loop())
    assert all(h.when() - asyncio.get_running_loop().time() < 3000 for h in live)


async def test_cancelled_handler_may_catch_and_return() -> None:
    """A handler that swallows its cancellation still ends; its result is acknowledged."""
    owner = TaskOwner()
    results: list[Any] = []

    async def stubborn() -> str:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            return "cleaned up"
        return "not reached"

    call_handler(stubborn, (), results.append, owner, "stubborn")
    await asyncio.sleep(0)  # the task took its first step
    (task,) = owner
    owner.cancel_all()
    async with asyncio.timeout(5):
        await asyncio.gather(task, return_exceptions=True)
    assert results == ["cleaned up"]


async def test_task_owner_forgets_finished_tasks() -> None:
    owner = TaskOwner()

    async def quick() -> None:
        await asyncio.sleep(0)

    task = asyncio.get_running_loop().create_task(quick())
    owner.add(task)
    assert len(owner) == 1
    await task
    await asyncio.sleep(0)
    assert len(owner) == 0
    owner.cancel_all()  # nothing to cancel: no error


def test_ack_args() -> None:
    from plexio.aio.handlers import ack_args

    assert ack_args(None) == [] and ack_args(1) == [1] and ack_args((1, "a")) == [1, "a"]
    assert ack_args([1, 2]) == [[1, 2]]


async def test_spawn_and_close_wait_for_cancellation() -> None:
    owner = TaskOwner()
    stopped: list[str] = []

    async def forever() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            stopped.append("stopped")

    task = owner.spawn(forever(), name="t")
    await asyncio.sleep(0)
    assert len(owner) == 1 and task.get_name() == "t"
    await owner.close()
    assert stopped == ["stopped"] and task.cancelled()


async def test_a_handler_returning_a_future_is_awaited() -> None:
    owner = TaskOwner()
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    results: list[int] = []
    call_handler(lambda: future, (), results.append, owner, "future")
    assert len(owner) == 1 and results == []
    future.set_result(7)
    await asyncio.sleep(0.01)
    assert results == [7] and len(owner) == 0


# ---------------------------------------------------------------- a task of its own
#
# Each scenario runs as the two serving shells call handlers: from inside another task
# (the ASGI connection's task, a polling request's task) and from a plain event-loop
# callback (the native listener's protocol callbacks), where no task is current.


async def _call_from(where: str, call: Callable[[], None]) -> None:
    """Makes the handler calls in ``call`` from a caller task or a loop callback."""
    if where == "task":

        async def caller() -> None:
            call()
            await asyncio.sleep(0.05)  # the caller lives on: handlers must not touch it

        task = asyncio.get_running_loop().create_task(caller())
        await task
        assert not task.cancelled()
    else:
        called = asyncio.Event()

        def callback() -> None:
            call()
            called.set()

        asyncio.get_running_loop().call_soon(callback)
        await called.wait()


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():
            await asyncio.sleep(0.001)


CALLERS = ["task", "callback"]


@pytest.mark.parametrize("where", CALLERS)
async def test_current_task_is_the_handlers_own(where: str) -> None:
    owner = TaskOwner()
    seen: list[Any] = []
    outer: list[Any] = []

    async def handler() -> None:
        first = asyncio.current_task()
        await asyncio.sleep(0)
        seen.append((first, asyncio.current_task()))

    def call() -> None:
        outer.append(asyncio.current_task())
        call_handler(handler, (), None, owner, "h")
        assert asyncio.current_task() is outer[0]  # the caller's task is back

    await _call_from(where, call)
    await _until(lambda: bool(seen))
    ((first, later),) = seen
    assert isinstance(first, asyncio.Task)
    assert first is later
    assert first is not outer[0]


@pytest.mark.parametrize("where", CALLERS)
async def test_asyncio_timeout_fires_in_the_handler_only(where: str) -> None:
    owner = TaskOwner()
    results: list[Any] = []

    async def handler() -> str:
        try:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(10)
        except TimeoutError:
            return "timed out"
        return "slept"

    await _call_from(where, lambda: call_handler(handler, (), results.append, owner, "t"))
    await _until(lambda: bool(results))
    assert results == ["timed out"]


@pytest.mark.parametrize("where", CALLERS)
async def test_task_group_in_a_handler(where: str) -> None:
    owner = TaskOwner()
    results: list[Any] = []

    async def child(n: int) -> int:
        await asyncio.sleep(0)
        return n * 10

    async def handler() -> list[int]:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(child(n)) for n in range(3)]
        return [t.result() for t in tasks]

    await _call_from(where, lambda: call_handler(handler, (), results.append, owner, "g"))
    await _until(lambda: bool(results))
    assert results == [[0, 10, 20]]


@pytest.mark.parametrize("where", CALLERS)
@pytest.mark.parametrize("suspended_first", [False, True])
async def test_a_handler_cancelling_its_own_task(where: str, suspended_first: bool) -> None:
    """``current_task().cancel()`` cancels the handler, as in any task, and nothing else."""
    owner = TaskOwner()
    log: list[str] = []

    async def handler() -> None:
        if suspended_first:
            await asyncio.sleep(0)
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            log.append(f"cancelled {task.cancelling()}")
            raise

    await _call_from(where, lambda: call_handler(handler, (), None, owner, "c"))
    await _until(lambda: bool(log) and not len(owner))
    assert log == ["cancelled 1"]


@pytest.mark.parametrize("where", CALLERS)
async def test_context_variables_are_isolated(where: str) -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    owner = TaskOwner()
    seen: list[tuple[str, str]] = []

    async def setter(tag: str) -> None:
        seen.append((tag, var.get()))
        var.set(tag)
        await asyncio.sleep(0)
        seen.append((tag, var.get()))

    def sync_setter(tag: str) -> None:
        seen.append((tag, var.get()))
        var.set(tag)

    def call() -> None:
        var.set("caller")
        call_handler(setter, ("a",), None, owner, "a")
        call_handler(sync_setter, ("b",), None, owner, "b")
        call_handler(setter, ("c",), None, owner, "c")
        seen.append(("caller", var.get()))

    await _call_from(where, call)
    await _until(lambda: len(seen) == 6)
    # each handler starts from the caller's values and keeps its own changes to itself
    assert sorted(seen) == sorted(
        [
            ("a", "caller"),
            ("b", "caller"),
            ("c", "caller"),
            ("caller", "caller"),
            ("a", "a"),
            ("c", "c"),
        ]
    )


@pytest.mark.parametrize("where", CALLERS)
async def test_a_plain_function_runs_inline_outside_the_callers_task(where: str) -> None:
    owner = TaskOwner()
    seen: list[Any] = []
    call_handler(lambda: seen.append(asyncio.current_task()), (), None, owner, "sync")
    await _call_from(
        where,
        lambda: call_handler(lambda: seen.append(asyncio.current_task()), (), None, owner, "s"),
    )
    assert seen == [None, None]
    assert len(owner) == 0


@pytest.mark.parametrize("where", CALLERS)
async def test_a_handler_that_returns_at_once_schedules_nothing(where: str) -> None:
    """Its task is never initialised: nothing registered or scheduled refers to it."""
    owner = TaskOwner()
    results: list[Any] = []
    seen: list[Any] = []

    async def handler(x: int) -> int:
        task = asyncio.current_task()
        assert isinstance(task, asyncio.Task)
        seen.append((weakref.ref(task), task.done(), task.cancelled(), task.cancelling()))
        return x + 1

    await _call_from(where, lambda: call_handler(handler, (1,), results.append, owner, "h"))
    assert results == [2]
    ((ref, done, cancelled, cancelling),) = seen
    assert (done, cancelled, cancelling) == (False, False, 0)  # a pending task's answers
    assert ref() is None  # gone at once: never scheduled, never registered
    assert len(owner) == 0


@pytest.mark.parametrize("where", CALLERS)
@pytest.mark.parametrize("ending", ["return", "raise", "cancel"])
async def test_a_task_kept_by_a_handler_that_returned_at_once_ends(
    where: str, ending: str, loop_errors: list[dict[str, Any]]
) -> None:
    """A handler that keeps its task and returns at once: the task ends, as any task."""
    owner = TaskOwner()
    results: list[Any] = []
    kept: list[asyncio.Task[Any]] = []

    async def handler() -> str:
        task = asyncio.current_task()
        assert task is not None
        kept.append(task)
        if ending == "raise":
            raise LookupError("boom")
        if ending == "cancel":
            raise asyncio.CancelledError
        return "ok"

    await _call_from(where, lambda: call_handler(handler, (), results.append, owner, "h"))
    assert results == (["ok"] if ending == "return" else [])
    (task,) = kept
    async with asyncio.timeout(5):
        await asyncio.gather(task, return_exceptions=True)
    assert task.done() and task.cancelled() == (ending == "cancel")
    if ending != "cancel":
        assert task.result() is None
    assert results == (["ok"] if ending == "return" else [])  # delivered once
    assert loop_errors == []


@pytest.mark.parametrize("where", CALLERS)
async def test_using_the_task_during_the_first_step_makes_it_a_real_one(where: str) -> None:
    """Name, repr, callbacks and the coroutine of the handler's task work at once."""
    owner = TaskOwner()
    results: list[Any] = []
    seen: dict[str, Any] = {}
    finished = asyncio.Event()

    async def handler() -> str:
        task = asyncio.current_task()
        assert task is not None
        seen["name"] = task.get_name()
        seen["repr"] = repr(task)
        seen["coro"] = task.get_coro()
        seen["loop"] = task.get_loop()
        task.add_done_callback(lambda t: finished.set())
        return "ok"

    await _call_from(where, lambda: call_handler(handler, (), results.append, owner, "h"))
    assert results == ["ok"]  # delivered at once, as ever
    assert seen["name"].startswith("Task-") and "Task" in seen["repr"]
    assert seen["coro"].__qualname__.endswith("handler")
    assert seen["loop"] is asyncio.get_running_loop()
    async with asyncio.timeout(5):
        await finished.wait()  # the task ended, and only once
    assert results == ["ok"]


async def test_the_same_handler_error_is_logged_in_full_once_then_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from plexio.aio.handlers import FailureLog, TaskOwner, call_handler, failures

    def broken(n: int) -> None:
        raise ValueError(f"bad {n}")

    owner = TaskOwner()
    with caplog.at_level(logging.ERROR, logger="plexio.aio.handlers"):
        for n in range(100):
            call_handler(broken, (n,), None, owner, "dedupe-test")
    records = [r for r in caplog.records if "dedupe-test" in r.getMessage()]
    assert [r.exc_info is not None for r in records] == [True, False, False]
    assert "failed 10 times with ValueError" in records[1].getMessage()
    assert "failed 100 times with ValueError" in records[2].getMessage()
    assert failures.count("dedupe-test") == 100
    log = FailureLog(max_kinds=2)
    for what in ("a", "b", "c"):
        try:
            raise KeyError(what)
        except KeyError as exc:
            log.report(what, exc)
    assert log.count("c") == 1 and log.count("a") == 0  # bounded: old kinds forgotten
