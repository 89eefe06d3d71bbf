"""plexio.aio.deadlines: many deadlines on one loop timer, batched, never early."""

from __future__ import annotations

import asyncio
import logging

import pytest

from plexio.aio.deadlines import Deadlines
from tests.helpers.timers import live_timers


async def test_calls_run_in_order_and_never_early() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop, resolution=0.01)
    start = loop.time()
    ran: list[tuple[int, float]] = []
    done = loop.create_future()
    for index, delay in enumerate([0.05, 0.01, 0.03, 0.0, 0.02]):
        when = start + delay

        def call(index: int = index, when: float = when) -> None:
            ran.append((index, loop.time() - when))
            if len(ran) == 5:
                done.set_result(None)

        deadlines.call_at(when, call)
    await asyncio.wait_for(done, 5)
    assert [index for index, _ in ran] == [3, 1, 4, 2, 0]
    assert all(late >= 0 for _, late in ran)
    assert len(deadlines) == 0


async def test_deadlines_of_one_grid_cell_run_in_one_loop_callback() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop, resolution=0.05)
    base = (loop.time() // 0.05 + 2) * 0.05  # a cell boundary in the future
    order: list[str] = []
    done = loop.create_future()

    def first() -> None:
        order.append("first")
        loop.call_soon(order.append, "next loop step")

    def second() -> None:
        order.append("second")
        loop.call_soon(done.set_result, None)

    deadlines.call_at(base + 0.01, first)
    deadlines.call_at(base + 0.04, second)
    await asyncio.wait_for(done, 5)
    # the second ran in the same callback as the first, before the loop moved on
    assert order == ["first", "second", "next loop step"]


async def test_an_earlier_deadline_rearms_the_timer() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop)
    late = loop.create_future()
    early = loop.create_future()
    deadlines.call_at(loop.time() + 3600, lambda: late.set_result(None))
    deadlines.call_at(loop.time() + 0.01, lambda: early.set_result(None))
    await asyncio.wait_for(early, 5)
    assert not late.done()
    deadlines.close()
    assert len(deadlines) == 0


async def test_a_cancelled_call_does_not_run_and_cancelled_entries_are_dropped() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop)
    ran: list[int] = []
    far = loop.time() + 3600
    handles = [deadlines.call_at(far + i, lambda i=i: ran.append(i)) for i in range(5000)]
    for handle in handles[:4000]:
        handle.cancel()
        handle.cancel()  # twice is harmless
    assert handles[0].cancelled and not handles[4999].cancelled
    # rebuilt once cancelled entries outnumbered the live ones
    assert len(deadlines) < 5000
    soon = loop.create_future()
    cancelled = deadlines.call_at(loop.time() + 0.01, lambda: ran.append(-1))
    cancelled.cancel()
    deadlines.call_at(loop.time() + 0.02, lambda: soon.set_result(None))
    await asyncio.wait_for(soon, 5)
    assert ran == []
    for handle in handles[4000:]:
        handle.cancel()
    # nothing live: no entries, no loop timer
    assert len(deadlines) == 0
    assert not live_timers(loop)


async def test_a_failing_callback_is_logged_and_the_others_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop)
    done = loop.create_future()

    def boom() -> None:
        raise RuntimeError("boom")

    when = loop.time() + 0.01
    deadlines.call_at(when, boom)
    deadlines.call_at(when, lambda: done.set_result(None))
    with caplog.at_level(logging.ERROR, logger="plexio.aio.deadlines"):
        await asyncio.wait_for(done, 5)
    assert "deadline callback failed" in caplog.text


async def test_a_call_scheduled_by_a_callback_for_now_runs_at_the_next_fire() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop)
    order: list[str] = []
    done = loop.create_future()

    def again() -> None:
        order.append("again")
        done.set_result(None)

    def first() -> None:
        order.append("first")
        deadlines.call_at(loop.time() - 1, again)  # already due: not in this batch
        loop.call_soon(order.append, "between")

    deadlines.call_at(loop.time(), first)
    await asyncio.wait_for(done, 5)
    assert order == ["first", "between", "again"]


async def test_resolution_must_be_positive() -> None:
    with pytest.raises(ValueError, match="resolution"):
        Deadlines(asyncio.get_running_loop(), resolution=0)
