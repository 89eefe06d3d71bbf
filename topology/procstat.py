"""CPU time, memory and scheduler state of another process, from /proc (shared readers
come from :mod:`measure.procstat`, shared with the benchmarks)."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from pathlib import Path

from measure.procstat import cpu_sample, raise_nofile_limit, rss_bytes

__all__ = ["StateSampler", "cpu_seconds", "raise_nofile_limit", "rss_bytes", "tcp_ports_of"]


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU time process ``pid`` has used: ``(utime+stime from /proc/PID/stat, schedstat)``.

    The shared reader (:func:`measure.procstat.cpu_sample`), as a tuple.

    Raises:
        OSError: the process does not exist.
    """
    sample = cpu_sample(pid)
    return sample.stat_s, sample.precise_s


def tcp_ports_of(pid: int) -> set[int]:
    """Local ports of the TCP sockets (IPv4) process ``pid`` holds open right now.

    The socket inodes of ``/proc/PID/fd`` looked up in ``/proc/PID/net/tcp``: tells which
    process a connection accepted on loopback came from (its peer port).

    Raises:
        OSError: the process does not exist.
    """
    inodes: set[str] = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports: set[int] = set()
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) > 9 and fields[9] in inodes:
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


class StateSampler:
    """Samples a process's scheduler state (``R`` runnable, ``S`` sleeping ...) in a thread.

    A server that is ``R`` most of the time while using little CPU was waiting for a core
    (other load on the machine), not for its clients.

    Args:
        pid: the process to watch.
        interval: seconds between samples.
        max_samples: bound on the number of samples.
    """

    def __init__(self, pid: int, interval: float = 0.005, max_samples: int = 100_000) -> None:
        self.pid = pid
        self.interval = interval
        self.max_samples = max_samples
        self.states: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        path = f"/proc/{self.pid}/stat"
        for _ in range(self.max_samples):
            if self._stop.is_set():
                return
            try:
                with open(path) as f:
                    raw = f.read()
                self.states[raw[raw.rindex(")") + 2]] += 1
            except (OSError, ValueError, IndexError):
                return
            time.sleep(self.interval)

    def start(self) -> None:
        """Starts sampling."""
        self._thread.start()

    def stop(self) -> float:
        """Stops sampling; returns the share of samples in which the process was runnable."""
        self._stop.set()
        self._thread.join(timeout=5)
        total = sum(self.states.values())
        return self.states.get("R", 0) / total if total else 0.0
