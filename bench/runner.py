"""Orchestration of one measured run: start the server, drive the workers, read /proc.

A run is one (server, scenario) pair on a fresh server process (unless `--smoke` reuses one per
server). Server CPU time is sampled from `/proc/PID/stat` right before the measured window opens
and right before it closes; the load-generator workers count operations over the same window.
Every wait is bounded; servers and workers are always stopped, also on errors and on Ctrl-C.
"""

from __future__ import annotations

import atexit
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from measure.procstat import CpuSample, cpu_sample, rss_bytes, set_priority, system_busy_s

from bench.loadgen import worker_main
from bench.scenarios import Scenario
from bench.targets import REPO_ROOT, Target

__all__ = ["Options", "RunError", "ServerProcess", "WorkerPool", "run_scenario"]

_LIVE: set[subprocess.Popen[bytes]] = set()

#: A fan-out window lasts until it holds this many broadcasts' worth of deliveries...
MIN_BROADCASTS = 5
#: ...but never longer than this many times `--duration`.
MAX_WINDOW_STRETCH = 8


def _kill_leftovers() -> None:
    for proc in list(_LIVE):
        _stop_process(proc)


atexit.register(_kill_leftovers)


class RunError(Exception):
    """A run could not be completed (server died, worker error, timeout)."""


@dataclass(slots=True)
class Options:
    """How to run the benchmark.

    Attributes:
        duration: measured window of echo/fan-out runs, seconds.
        warmup: load before the window opens, seconds.
        settle: idle time before reading RSS after the memory scenario's connects, seconds.
        timeout: bound on any single step (setup, connects, replies), seconds.
        server_cpus: cores the server is pinned to (empty: no pinning).
        loadgen_cpus: cores the load-generator workers are pinned to, one worker per entry.
        workers: number of load-generator processes.
        nice: scheduling priority for the server and the workers (negative: ahead of other
            work on a shared machine; ignored where not permitted).
        log: progress printer.
    """

    duration: float = 5.0
    warmup: float = 1.0
    settle: float = 1.0
    timeout: float = 120.0
    server_cpus: list[int] = field(default_factory=list)
    loadgen_cpus: list[int] = field(default_factory=list)
    workers: int = 1
    nice: int = 0
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _child_setup(nice: int) -> None:
    """In the server process before exec: priority, and SIGTERM if the harness dies."""
    set_priority(nice)  # Popen's start_new_session already made it a session leader
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG; survives exec (taskset, node)
    except (OSError, AttributeError):
        pass


def _stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    _LIVE.discard(proc)


class ServerProcess:
    """One server under test, started on a free port and pinned with `taskset`.

    Args:
        target: what to start.
        cpus: cores to pin it to (empty: no pinning).
        timeout: seconds to wait for it to listen.
        nice: its scheduling priority.
    """

    def __init__(
        self, target: Target, cpus: list[int], timeout: float = 30.0, nice: int = 0
    ) -> None:
        self.target = target
        self.nice = nice
        self.cpus = cpus
        self.timeout = timeout
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()

    @property
    def pid(self) -> int:
        """The server's process id (taskset execs the server, so it is the server's own)."""
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        """Start the server and wait until it accepts TCP connections.

        Raises:
            RunError: it exited or did not listen within the timeout.
        """
        self.port = free_port()
        argv = self.target.argv(self.port)
        if self.cpus and shutil.which("taskset"):
            argv = ["taskset", "-c", ",".join(map(str, self.cpus)), *argv]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p
        )
        self.proc = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            env=env,
            start_new_session=self.nice != 0,
            preexec_fn=lambda: _child_setup(self.nice),
        )
        _LIVE.add(self.proc)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RunError(
                    f"{self.target.key} exited with {self.proc.returncode}: {self.tail()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RunError(f"{self.target.key} did not listen on {self.port}: {self.tail()}")

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.proc is not None and self.proc.poll() is None

    def cpu(self) -> CpuSample:
        """CPU used so far (all threads)."""
        return cpu_sample(self.pid)

    def rss(self) -> int:
        """Resident memory now, bytes."""
        return rss_bytes(self.pid)

    def tail(self, size: int = 1500) -> str:
        """The end of the server's output (for error messages)."""
        self._log.seek(0, os.SEEK_END)
        end = self._log.tell()
        self._log.seek(max(0, end - size))
        return self._log.read().decode(errors="replace").strip()

    def stop(self) -> None:
        """Terminate (then kill) the server; safe to call twice."""
        if self.proc is not None:
            _stop_process(self.proc)
        self._log.close()


class WorkerPool:
    """Load-generator processes and their pipes.

    Args:
        count: number of workers.
        cpus: cores; worker i is pinned to `cpus[i % len(cpus)]` (empty: no pinning).
        nice: the workers' scheduling priority.
    """

    def __init__(self, count: int, cpus: list[int], nice: int = 0) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conns: list[multiprocessing.connection.Connection] = []
        self.procs: list[multiprocessing.process.BaseProcess] = []
        for index in range(count):
            parent, child = ctx.Pipe()
            pin = [cpus[index % len(cpus)]] if cpus else []
            proc = ctx.Process(target=worker_main, args=(child, index, pin, nice), daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers."""
        return [p.pid for p in self.procs if p.pid is not None]

    def cpu(self) -> float:
        """CPU seconds used so far by all workers together (utime + stime)."""
        return sum(cpu_sample(pid).stat_s for pid in self.pids)

    def send(self, command: str, args: list[dict[str, Any]] | dict[str, Any]) -> None:
        """Send a command to every worker (per-worker arguments when `args` is a list)."""
        for index, conn in enumerate(self.conns):
            conn.send((command, args[index] if isinstance(args, list) else args))

    def gather(self, timeout: float) -> list[dict[str, Any]]:
        """Collect one reply from every worker.

        Raises:
            RunError: a worker reported an error, died or did not answer in time.
        """
        deadline = time.monotonic() + timeout
        replies: list[dict[str, Any]] = []
        for index, conn in enumerate(self.conns):
            while not conn.poll(0.1):
                if not self.procs[index].is_alive():
                    raise RunError(f"load-generator worker {index} died")
                if time.monotonic() > deadline:
                    raise RunError(f"load-generator worker {index} did not answer in {timeout}s")
            try:
                status, payload = conn.recv()
            except EOFError as exc:
                raise RunError(f"load-generator worker {index} went away") from exc
            if status != "ok":
                raise RunError(f"load-generator worker {index}: {payload}")
            replies.append(payload)
        return replies

    def call(
        self, command: str, args: list[dict[str, Any]] | dict[str, Any], timeout: float
    ) -> list[dict[str, Any]]:
        """`send` then `gather`."""
        self.send(command, args)
        return self.gather(timeout)

    def close(self) -> None:
        """Ask the workers to drop their connections and exit; kill the ones that do not."""
        for conn in self.conns:
            try:
                conn.send(("close", {}))
            except OSError:
                pass
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
        for conn in self.conns:
            conn.close()


def _share(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _latency_summary(samples: list[int]) -> dict[str, float]:
    if not samples:
        return {}
    values = np.asarray(samples, dtype=np.float64) / 1000.0
    p50, p90, p99, p999 = np.percentile(values, [50, 90, 99, 99.9])
    return {
        "p50": float(p50),
        "p90": float(p90),
        "p99": float(p99),
        "p999": float(p999),
        "mean": float(values.mean()),
        "max": float(values.max()),
        "samples": len(samples),
    }


def _specs(
    scenario: Scenario, target: Target, server: ServerProcess, opts: Options, workers: int
) -> list[dict[str, Any]]:
    shares = _share(scenario.clients, workers)
    path = "/" if target.raw else "/socket.io/?EIO=4&transport=websocket"
    specs: list[dict[str, Any]] = []
    for index, clients in enumerate(shares):
        specs.append(
            {
                "kind": scenario.kind,
                "url": f"ws://127.0.0.1:{server.port}{path}",
                "raw": target.raw,
                "clients": clients,
                "namespaces": list(scenario.namespaces),
                "concurrency": scenario.concurrency,
                "warmup": _share(scenario.warmup_connects, workers)[index],
                "payload": scenario.payload,
                "binary_bytes": scenario.binary_bytes,
                "room": "bench-room",
                "window": scenario.window,
                "padding": scenario.padding,
                "deflate": scenario.deflate,
                "sender": index == 0,
                "timeout": opts.timeout,
            }
        )
    return specs


def _measure(
    scenario: Scenario, target: Target, server: ServerProcess, opts: Options
) -> dict[str, Any]:
    workers = max(1, min(opts.workers, scenario.clients))
    pool = WorkerPool(workers, opts.loadgen_cpus, opts.nice)
    try:
        specs = _specs(scenario, target, server, opts, workers)
        setup = pool.call("setup", specs, opts.timeout)
        connected = sum(int(r.get("connected", 0)) for r in setup)
        result: dict[str, Any] = {"workers": workers, "clients": scenario.clients}
        if scenario.kind in ("connect", "memory"):
            time.sleep(0.3 if opts.duration >= 1 else 0.05)
            rss0 = server.rss()
            sys0, lg0, cpu0, t0 = system_busy_s(), pool.cpu(), server.cpu(), time.monotonic()
            replies = pool.call("load", {}, opts.timeout + 5)
            cpu1, t1, lg1, sys1 = server.cpu(), time.monotonic(), pool.cpu(), system_busy_s()
            time.sleep(opts.settle)
            rss1 = server.rss()
            ops = sum(int(r["ops"]) for r in replies)
            elapsed = t1 - t0
            result.update(
                rss_before_mb=rss0 / 2**20,
                rss_after_mb=rss1 / 2**20,
                kb_per_connection=(rss1 - rss0) / 1024 / ops if ops else None,
            )
        else:
            result["connected"] = connected
            pool.call("load", {}, opts.timeout)
            time.sleep(opts.warmup)
            sys0, lg0, cpu0, t0 = system_busy_s(), pool.cpu(), server.cpu(), time.monotonic()
            pool.call("mark", {}, opts.timeout)
            time.sleep(opts.duration)
            # A fan-out window must hold several whole broadcasts, or the deliveries of the one
            # in progress at each edge weigh too much: extend it (bounded) until it does.
            wanted = scenario.clients * MIN_BROADCASTS if scenario.kind == "fanout" else 0
            limit = t0 + opts.duration * MAX_WINDOW_STRETCH
            while wanted and time.monotonic() < limit:
                if sum(int(r["ops"]) for r in pool.call("peek", {}, opts.timeout)) >= wanted:
                    break
                time.sleep(min(0.25, opts.duration))
            cpu1, t1, lg1, sys1 = server.cpu(), time.monotonic(), pool.cpu(), system_busy_s()
            replies = pool.call("stop", {}, opts.timeout)
            ops = sum(int(r["ops"]) for r in replies)
            elapsed = float(np.mean([r["elapsed_s"] for r in replies]))
            result["stalls"] = sum(int(r.get("stalls", 0)) for r in replies)
        if not server.alive():
            raise RunError(f"{target.key} died during the run: {server.tail()}")
        cpu = cpu1 - cpu0
        window = max(t1 - t0, 1e-9)
        latencies: list[int] = []
        for reply in replies:
            packed = array("q")
            packed.frombytes(reply.get("latencies_ns", b""))
            latencies.extend(packed)
        result.update(
            ok=True,
            ops=ops,
            elapsed_s=elapsed,
            throughput=ops / elapsed if elapsed > 0 else 0.0,
            server_cpu_s=cpu.stat_s,
            server_cpu_precise_s=cpu.precise_s,
            cpu_us_per_op=cpu.stat_s / ops * 1e6 if ops else None,
            cpu_us_per_op_precise=cpu.precise_s / ops * 1e6 if ops else None,
            server_cpu_pct=cpu.stat_s / window * 100,
            server_rss_mb=server.rss() / 2**20,
            loadgen_cpu_pct=(lg1 - lg0) / window / workers * 100,
            # CPU used by anything else on the machine meanwhile, in % of one core: a large
            # figure means the measurement shared the machine with other work.
            other_cpu_pct=max(0.0, (sys1 - sys0) - cpu.stat_s - (lg1 - lg0)) / window * 100,
            errors=sum(int(r.get("errors", 0)) for r in replies),
            # frames that arrived compressed (permessage-deflate scenarios; 0 elsewhere)
            compressed_frames=sum(int(r.get("compressed", 0)) for r in replies),
            latency_us=_latency_summary(latencies),
        )
        return result
    finally:
        pool.close()


def run_scenario(
    scenario: Scenario,
    target: Target,
    opts: Options,
    server: ServerProcess | None = None,
) -> dict[str, Any]:
    """Measure one scenario against one server.

    Args:
        scenario: what to run.
        target: which server.
        opts: durations, pinning, bounds.
        server: a running server to reuse (`--smoke`); None starts a fresh one and stops it.

    Returns:
        The measurement (`ok` true), or `{"ok": False, "error": ...}`.
    """
    own = server is None
    record: dict[str, Any] = {"server": target.key, "scenario": scenario.name}
    try:
        if server is None:
            server = ServerProcess(target, opts.server_cpus, nice=opts.nice)
            server.start()
            time.sleep(0.2)
        record.update(_measure(scenario, target, server, opts))
    except RunError as exc:
        record.update(ok=False, error=str(exc))
    except Exception as exc:  # one broken run is recorded; the others still run
        record.update(ok=False, error=f"{type(exc).__name__}: {exc}")
    finally:
        if own and server is not None:
            server.stop()
    return record
