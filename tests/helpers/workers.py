"""Start a ``plexio.run(..., workers=N)`` app as a process of its own (its process group is
killed on exit) and read the port it prints (``{"port": N}``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RunningWorkers", "running_workers", "worker_pids"]

ROOT = Path(__file__).resolve().parents[2]


@dataclass(slots=True)
class RunningWorkers:
    """The supervisor process and the port its workers share."""

    proc: asyncio.subprocess.Process
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def worker_pids(supervisor: int) -> list[int]:
    """The supervisor's children (its workers)."""
    path = Path(f"/proc/{supervisor}/task/{supervisor}/children")
    return [int(pid) for pid in path.read_text().split()]


@contextlib.asynccontextmanager
async def running_workers(
    module: str,
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> AsyncIterator[RunningWorkers]:
    """Runs ``python -m module *args`` until exit; it must print ``{"port": N}`` first."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *args,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=None,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                line = await proc.stdout.readline()
                if not line:
                    raise AssertionError(f"{module} ended before listening")
                with contextlib.suppress(ValueError):
                    value = json.loads(line)
                    if isinstance(value, dict) and "port" in value:
                        break
        yield RunningWorkers(proc, int(value["port"]))
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            try:
                async with asyncio.timeout(15):
                    await proc.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
