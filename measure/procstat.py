"""Readers for /proc: a process's CPU time and resident memory, and the fd limit.

The key figure of the benchmark is server CPU time per operation. `utime + stime` from
`/proc/PID/stat` (clock ticks, all threads of the process) is the reference; the sum of
`/proc/PID/task/*/schedstat` (nanoseconds on CPU, all live threads) is recorded beside it because
it stays precise over the very short windows of `--smoke`.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CpuSample",
    "cpu_sample",
    "raise_nofile_limit",
    "rss_bytes",
    "set_priority",
    "system_busy_s",
]

_TICK: float = 1.0 / os.sysconf("SC_CLK_TCK")
_PAGE: int = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True, slots=True)
class CpuSample:
    """CPU time consumed by one process so far.

    Attributes:
        stat_s: utime + stime from /proc/PID/stat, in seconds (clock-tick resolution).
        precise_s: sum of on-CPU nanoseconds of the live threads (schedstat), in seconds;
            equal to `stat_s` when schedstat is unavailable.
    """

    stat_s: float
    precise_s: float

    def __sub__(self, other: CpuSample) -> CpuSample:
        return CpuSample(self.stat_s - other.stat_s, self.precise_s - other.precise_s)


def _stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def cpu_sample(pid: int) -> CpuSample:
    """Read the CPU time used so far by process `pid` (all its threads).

    Args:
        pid: process id.

    Returns:
        The sample; subtract two samples to get the time spent between them.

    Raises:
        OSError: the process does not exist (any more).
    """
    fields = _stat_fields(pid)
    # After the command name, field index 0 is field 3 (state); utime is 14, stime 15.
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
    precise_s = precise_ns / 1e9 if precise_ns else stat_s
    return CpuSample(stat_s, precise_s)


def rss_bytes(pid: int) -> int:
    """Resident set size of process `pid` in bytes (from /proc/PID/statm)."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE


def raise_nofile_limit(wanted: int = 65536) -> int:
    """Raise this process's open-file limit towards `wanted` (capped by the hard limit).

    Args:
        wanted: the soft limit to ask for.

    Returns:
        The soft limit in force afterwards.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def system_busy_s() -> float:
    """CPU seconds all cores have spent busy since boot (from the `cpu` line of /proc/stat).

    Busy is everything but idle and iowait. The harness subtracts the server's and the load
    generator's share to show how much else ran during a measurement (other users, other jobs).
    """
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    values = [int(v) for v in fields[:8]]
    idle = values[3] + values[4]
    return (sum(values) - idle) * _TICK


def set_priority(nice: int, own_session: bool = False) -> None:
    """Give this process scheduling priority `nice` (negative: ahead of other work).

    With the kernel's autogroups (`/proc/sys/kernel/sched_autogroup_enabled`), CPU time is
    shared between sessions first and nice values count only inside a session; so the process
    may start a session of its own (`own_session`) and give that session's autogroup the same
    nice value. Where this is not permitted, the priority silently stays as it was.

    Args:
        nice: the nice value (-20..19); 0 leaves everything alone.
        own_session: call `setsid()` first (not for a process that already leads a session).
    """
    if not nice:
        return
    if own_session:
        try:
            os.setsid()
        except OSError:
            pass
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    except OSError:
        pass
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(nice))
    except OSError:
        pass
