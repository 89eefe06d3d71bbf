"""A server process of a measurement or a test, in a process group of its own.

``running_process`` starts it, waits for the stdout line that says it listens, and stops it
on exit: SIGTERM, then after ``stop_timeout`` its whole group is killed. One home for the
benchmarks (``bench.workers``) and the tests (``tests/helpers/workers.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path

__all__ = ["children", "running_process"]


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (from ``/proc``)."""
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _any_line(line: str) -> bool:
    return True


@contextlib.asynccontextmanager
async def running_process(
    *argv: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    ready: Callable[[str], bool] = _any_line,
    stop_timeout: float = 15.0,
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """Runs ``argv`` in a session of its own (stdin closed, stdout read here, stderr
    inherited); yields the process and the first stdout line ``ready`` accepts (the first
    line by default).

    Raises:
        RuntimeError: the process ended before printing such a line.
        TimeoutError: no such line within ``timeout`` seconds.
    """
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=None if env is None else dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                line = (await proc.stdout.readline()).decode()
                if not line:
                    raise RuntimeError(f"{' '.join(argv[:3])} ended before listening")
                if ready(line):
                    break
        yield proc, line
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            try:
                async with asyncio.timeout(stop_timeout):
                    await proc.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
