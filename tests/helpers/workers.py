"""Start a ``plexio.run(..., workers=N)`` app as a process of its own (its process group is
killed on exit) and read the port it prints (``{"port": N}``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from measure.process import children, running_process

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
    return children(supervisor)


def _port(line: str) -> int | None:
    with contextlib.suppress(ValueError):
        value = json.loads(line)
        if isinstance(value, dict) and isinstance(value.get("port"), int):
            return int(value["port"])
    return None


def _listening(line: str) -> bool:
    return _port(line) is not None


@contextlib.asynccontextmanager
async def running_workers(
    module: str,
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> AsyncIterator[RunningWorkers]:
    """Runs ``python -m module *args`` until exit; it prints ``{"port": N}`` once
    listening (other lines before it are skipped)."""
    argv = (sys.executable, "-m", module, *args)
    environ = {**os.environ, **(env or {})}
    started = running_process(*argv, cwd=ROOT, env=environ, timeout=timeout, ready=_listening)
    async with started as (proc, line):
        port = _port(line)
        assert port is not None
        yield RunningWorkers(proc, port)
