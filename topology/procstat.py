"""CPU time and resident memory of another process, from /proc."""

from __future__ import annotations

import os
import resource
import threading
import time
from collections import Counter
from pathlib import Path

__all__ = ["StateSampler", "cpu_seconds", "raise_nofile_limit", "rss_bytes"]

_TICK = 1.0 / os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU time process ``pid`` has used: ``(utime+stime from /proc/PID/stat, schedstat)``.

    The first figure has clock-tick resolution (10 ms); the second sums the on-CPU
    nanoseconds of the live threads and stays precise over short windows (it equals the
    first when schedstat is unavailable).

    Raises:
        OSError: the process does not exist.
    """
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    stat_s = (int(fields[11]) + int(fields[12])) * _TICK
    precise_ns = 0
    try:
        for task in os.scandir(f"/proc/{pid}/task"):
            try:
                precise_ns += int(Path(task.path, "schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
    except OSError:
        precise_ns = 0
    return stat_s, (precise_ns / 1e9 if precise_ns else stat_s)


def rss_bytes(pid: int) -> int:
    """Resident set size of process ``pid`` in bytes."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE


def raise_nofile_limit(wanted: int = 65536) -> int:
    """Raises this process's open-file soft limit towards ``wanted``; returns the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


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
