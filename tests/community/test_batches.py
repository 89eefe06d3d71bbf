"""Group commit's queue (community/batches.py), without a database."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from community.batches import Batches


@dataclass
class _Item:
    n: int
    future: asyncio.Future[int] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class _Recorder:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.release = asyncio.Event()

    async def write(self, batch: list[_Item]) -> None:
        self.batches.append([item.n for item in batch])
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await self.release.wait()
        self.in_flight -= 1
        for item in batch:
            item.future.set_result(item.n)


async def test_items_arriving_together_form_one_batch() -> None:
    recorder = _Recorder()
    recorder.release.set()
    batches: Batches[_Item] = Batches(recorder.write, max_batch=100)
    items = [_Item(n) for n in range(10)]
    for item in items:
        batches.add(item)
    assert await asyncio.gather(*(item.future for item in items)) == list(range(10))
    assert recorder.batches == [list(range(10))]


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_batches_are_cut_in_arrival_order_within_the_limits(concurrency: int) -> None:
    recorder = _Recorder()
    batches: Batches[_Item] = Batches(recorder.write, max_batch=4, concurrency=concurrency)
    items: list[_Item] = []
    for n in range(30):
        item = _Item(n)
        items.append(item)
        batches.add(item)
        if n % 3 == 0:
            await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    assert recorder.most_in_flight == concurrency  # held until released
    recorder.release.set()
    assert await asyncio.gather(*(item.future for item in items)) == list(range(30))
    await batches.drain()
    assert [n for batch in recorder.batches for n in batch] == list(range(30))
    assert all(1 <= len(batch) <= 4 for batch in recorder.batches)
    assert recorder.most_in_flight == concurrency


async def test_a_failing_write_answers_its_unanswered_items() -> None:
    async def write(batch: list[_Item]) -> None:
        batch[0].future.set_result(-1)
        raise RuntimeError("database gone")

    batches: Batches[_Item] = Batches(write, max_batch=10)
    items = [_Item(n) for n in range(3)]
    for item in items:
        batches.add(item)
    results = await asyncio.gather(*(item.future for item in items), return_exceptions=True)
    assert results[0] == -1
    assert all(isinstance(r, RuntimeError) for r in results[1:])


def test_limits_are_checked() -> None:
    async def write(batch: list[_Item]) -> None:
        return None

    with pytest.raises(ValueError):
        Batches(write, max_batch=0)
    with pytest.raises(ValueError):
        Batches(write, max_batch=1, concurrency=0)
