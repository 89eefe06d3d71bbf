"""plexio.workers.supervisor: forked workers on one port, restarted when they die, stopped
together (the app of tests/helpers/workers_app.py on a real Redis)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import httpx
import pytest

from plexio.workers import supervise
from tests.helpers.redis import running_redis
from tests.helpers.waiting import eventually
from tests.helpers.workers import running_workers, worker_pids

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]


async def test_a_dead_worker_is_started_again_and_sigterm_stops_them_all() -> None:
    async with running_redis() as redis_server:
        args = [redis_server.url, "2"]
        async with running_workers("tests.helpers.workers_app", args) as running:
            first = worker_pids(running.proc.pid)
            assert len(first) == 2
            os.kill(first[0], signal.SIGKILL)
            await eventually(
                lambda: len(pids := worker_pids(running.proc.pid)) == 2 and first[0] not in pids,
                timeout=10,
            )
            # the port still answers (new connections reach either worker)
            async with httpx.AsyncClient() as client:
                for _ in range(6):
                    opened = await client.get(
                        f"{running.url}/socket.io/", params={"EIO": "4", "transport": "polling"}
                    )
                    assert opened.status_code == 200
            survivors = worker_pids(running.proc.pid)
            running.proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(15):
                assert await running.proc.wait() == 0
            for pid in survivors:
                assert (
                    not Path(f"/proc/{pid}").exists()
                    or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
                )


def test_worker_counts_out_of_range_are_refused() -> None:
    for count in (1, 65):
        with pytest.raises(ValueError, match="workers must be between"):
            supervise(count, lambda info: None, "127.0.0.1", 0)
