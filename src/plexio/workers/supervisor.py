"""Several worker processes on one port (layer L4): ``plexio.run(..., workers=N)``.

The supervisor (the process that called ``run``) holds the port, forks ``N`` workers and
restarts any that dies. Each worker binds its own listening socket to the port with
``SO_REUSEPORT``, so the kernel spreads new connections over the workers (by the
connection's addresses and ports: no stickiness of any kind), and serves on its own event
loop. Long-polling requests that land on a worker that does not hold their session are
forwarded to the one that does (:mod:`plexio.workers.forward`).

Linux (``SO_REUSEPORT`` balancing, ``fork``). Build the app before ``run`` but start nothing
in it (no event loop, no connections): every worker gets a copy of it as it was.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from plexio.workers.forward import MAX_WORKERS

__all__ = ["WorkerInfo", "listening_socket", "supervise"]

logger = logging.getLogger(__name__)

_RESTART_DELAY: Final = 1.0
_STOP_GRACE: Final = 10.0


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """What one worker process is told.

    Attributes:
        index: the worker's index, from 0.
        count: how many workers there are.
        host: the address to bind.
        port: the port every worker binds.
        rundir: the directory of the workers' unix sockets.
        ready_fd: write one byte there once listening.
    """

    index: int
    count: int
    host: str
    port: int
    rundir: str
    ready_fd: int

    def ready(self) -> None:
        """Tells the supervisor this worker listens."""
        with contextlib.suppress(OSError):
            os.write(self.ready_fd, bytes((self.index,)))


def listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` sharing the port (``SO_REUSEPORT``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _reserve(host: str, port: int) -> socket.socket:
    """Holds the port for the supervisor's life (bound, not listening: gets no connections)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def supervise(
    count: int,
    worker: Callable[[WorkerInfo], None],
    host: str,
    port: int,
    *,
    ready: Callable[[int], None] | None = None,
) -> None:
    """Runs ``count`` forked workers on ``host:port`` until SIGINT or SIGTERM.

    Args:
        count: how many workers (2 to 64).
        worker: runs one worker in the forked child until it is told to stop (SIGTERM);
            it must bind with :func:`listening_socket` and call ``info.ready()``.
        host: the address to bind.
        port: the port (0 for a free one, reported to ``ready``).
        ready: called with the port once every worker listens.

    Raises:
        ValueError: ``count`` is out of range.
        RuntimeError: not on a system with ``fork`` and ``SO_REUSEPORT``.
    """
    if not 2 <= count <= MAX_WORKERS:
        raise ValueError(f"workers must be between 1 and {MAX_WORKERS}")
    if not hasattr(os, "fork") or not hasattr(socket, "SO_REUSEPORT"):
        raise RuntimeError("several workers need fork() and SO_REUSEPORT (Linux)")
    holder = _reserve(host, port)
    port = int(holder.getsockname()[1])
    rundir = tempfile.mkdtemp(prefix="plexio-workers-")
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    children: dict[int, int] = {}  # pid -> index

    def start(index: int) -> None:
        info = WorkerInfo(index, count, host, port, rundir, write_fd)
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
                os.close(read_fd)
                holder.close()
                worker(info)
            except BaseException:
                logger.exception("worker %d failed", index)
                code = 1
            finally:
                os._exit(code)
        children[pid] = index

    try:
        for index in range(count):
            start(index)
        listening: set[int] = set()
        announced = False
        while children:
            with contextlib.suppress(InterruptedError):
                readable, _, _ = select.select([read_fd], [], [], 0.2)
            if readable:
                with contextlib.suppress(BlockingIOError):
                    listening.update(os.read(read_fd, 256))
            if not announced and len(listening) >= count:
                announced = True
                logger.info("%d workers listening on %s:%d", count, host, port)
                if ready is not None:
                    ready(port)
            if stopping:
                break
            while True:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    pid = 0
                if pid == 0:
                    break
                index = children.pop(pid, -1)
                if index >= 0 and not stopping:
                    logger.error(
                        "worker %d (pid %d) ended (status %d); starting it again",
                        index,
                        pid,
                        status,
                    )
                    time.sleep(_RESTART_DELAY)
                    start(index)
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + _STOP_GRACE
        while children and time.monotonic() < deadline:
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid:
                children.pop(pid, None)
            else:
                time.sleep(0.05)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        os.close(read_fd)
        os.close(write_fd)
        holder.close()
        shutil.rmtree(rundir, ignore_errors=True)
