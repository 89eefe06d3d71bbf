"""Hostile clients against a plexio server with default settings; prints the figures.

Besides what the clients see, each latency scenario reports the server loop's own
stalls (``server_tick_cpu_*``: the CPU its thread spent between two 1 ms ticks, i.e.
how long a message can wait behind the server's own work; ``server_full_gc*``: full
collections), which do not depend on the machine's load as wall-clock latencies do.

    python -m bench.hostile                  # every scenario
    python -m bench.hostile slow-consumer    # one of: slow-consumer, slowloris,
                                             #   oversized-post, runaway-handlers
    python -m bench.hostile --server uvicorn slow-consumer   # the ASGI path

The server (:mod:`bench.hostile_app`) runs in its own process on the native listener;
its RSS is read from /proc. Where the machine has two CPUs or more, the server has the
first to itself and the clients share the others, the hostile ones at a lower priority
than the well-behaved echo client: they stand for other machines, and on a 2-core box
their decoding would otherwise take the server's core, or delay the echo client, and the
latency would measure the scheduler. ``--nice -15`` (``make hostile``) also puts the
server and the echo client ahead of other work on a shared machine (a scheduler
autogroup each; ignored where not permitted). ``server_tick_wall_max_ms`` against
``server_tick_cpu_max_ms`` tells how long the server waited for a CPU rather than
worked. Figures measured on a shared machine vary with its load.

- slow-consumer: 3 healthy room members read, 1 stops reading, 2,000 × 10 KB
  broadcasts 1 ms apart (10 MB/s; a consumer slower than the producer for longer than
  its buffers is, by design, a slow consumer); a healthy client echoes meanwhile
  (from a process of its own, so that this one's work does not delay it).
  Reports peak RSS growth, when the slow member was dropped (after the broadcasts
  began), whether the healthy ones got every message in order, and the echo p99.
- slowloris: 2,000 connections that never finish their request; how many are still
  open after ``handshake_timeout`` + 2 s.
- oversized-post: a POST announcing 100 MiB; the answer and how long it took.
- runaway-handlers: 100 clients each leave 20 handlers hanging and make 20 fail, while
  a well-behaved client echoes; its p99, then the server's task count after they left.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import websockets
from measure.procstat import raise_nofile_limit, rss_bytes, set_priority

__all__ = ["main"]

COUNT = 2000
SERVER = "native"
NICE = 0  # the server's and the well-behaved client's priority (--nice)
GAP = 0.001  # between broadcasts: 10 MB/s of room traffic
SCENARIOS = ("slow-consumer", "slowloris", "oversized-post", "runaway-handlers")


def cpu_split() -> tuple[set[int], set[int]]:
    """The server's CPU and the clients' CPUs: apart where the machine has two or more.

    The hostile and healthy clients stand for other machines: on a 2-core box they would
    otherwise take the server's core whenever they decode a burst, and the well-behaved
    client's latency would measure the scheduler rather than the server.
    """
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return set(cpus), set(cpus)
    return {cpus[0]}, set(cpus[1:])


def _child(cpus: set[int], nice: int) -> None:
    """In the server's and the echo client's process: its CPUs, and a session (hence a
    scheduler autogroup) of its own, so that other work on the machine and the hostile
    clients share the CPU with it as separate groups."""
    os.sched_setaffinity(0, cpus)
    os.setsid()
    set_priority(nice)


@contextlib.asynccontextmanager
async def server() -> AsyncIterator[tuple[int, int]]:
    server_cpus, _ = cpu_split()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.hostile_app",
        "0",
        "-",
        SERVER,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        preexec_fn=lambda: _child(server_cpus, NICE),
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 20)
    port = int(line.split()[1])
    for _ in range(100):  # uvicorn prints nothing when ready: wait until it listens
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.1)
    try:
        yield port, proc.pid
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 20)


class Client:
    """A minimal Socket.IO client over one WebSocket (acks by id, events queued)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 0
        self.acks: dict[int, asyncio.Future[Any]] = {}
        self.events: asyncio.Queue[list[Any]] = asyncio.Queue()
        self.reader: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, port: int, read: bool = True) -> Client:
        ws = await websockets.connect(
            f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket", max_size=None
        )
        await ws.recv()  # OPEN
        await ws.send("40")
        await ws.recv()  # CONNECT
        client = cls(ws)
        if read:
            client.reader = asyncio.get_running_loop().create_task(client._read())
        return client

    async def _read(self) -> None:
        try:
            await self._frames()
        finally:
            for fut in self.acks.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("connection closed"))

    async def _frames(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for frame in self.ws:
                if frame == "2":
                    await self.ws.send("3")
                elif isinstance(frame, str) and frame.startswith("43"):
                    digits = frame[2:].split("[", 1)[0]
                    fut = self.acks.pop(int(digits), None)
                    if fut is not None and not fut.done():
                        args = json.loads(frame[2 + len(digits) :])
                        fut.set_result(args[0] if args else None)
                elif isinstance(frame, str) and frame.startswith("42"):
                    self.events.put_nowait(json.loads(frame[2:]))

    async def call(self, event: str, *args: Any) -> Any:
        ack = self.next_id
        self.next_id += 1
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.acks[ack] = fut
        await self.ws.send(f"42{ack}" + json.dumps([event, *args]))
        return await fut

    async def emit(self, event: str, *args: Any) -> None:
        await self.ws.send("42" + json.dumps([event, *args]))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()


async def sample_rss(pid: int, peak: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_bytes(pid))
        await asyncio.sleep(0.005)


async def echo_latencies(client: Client, stop: asyncio.Event) -> list[float]:
    out: list[float] = []
    while not stop.is_set():
        started = time.perf_counter()
        await client.call("echo", "ping")
        out.append(time.perf_counter() - started)
        await asyncio.sleep(0.005)
    return out


class EchoProcess:
    """The well-behaved client, echoing every 5 ms from a process of its own.

    Its latencies are the server's: the hostile clients (which decode 60 MB of
    broadcasts, or open and close 100 connections, in this process) would otherwise
    hold up the loop the echoes are timed on.
    """

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, port: int) -> EchoProcess:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.hostile",
            "--echo-client",
            str(port),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            preexec_fn=lambda: _child(cpu_split()[1], NICE),
        )
        assert proc.stdout is not None
        assert (await asyncio.wait_for(proc.stdout.readline(), 20)).strip() == b"ready"
        return cls(proc)

    async def stop(self) -> list[float]:
        """Stops echoing; the latencies measured, in seconds."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        line = await asyncio.wait_for(self.proc.stdout.readline(), 20)
        await asyncio.wait_for(self.proc.wait(), 20)
        latencies: list[float] = json.loads(line)
        return latencies


async def echo_client(port: int) -> None:
    """``--echo-client PORT``: echoes until stdin closes, then prints the latencies."""
    loop = asyncio.get_running_loop()
    client = await Client.connect(port)
    stop = asyncio.Event()
    echoing = loop.create_task(echo_latencies(client, stop))
    print("ready", flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    stop.set()
    latencies = await echoing
    await client.close()
    print(json.dumps(latencies), flush=True)


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 2 else float("nan")


async def slow_consumer() -> dict[str, Any]:
    count, size = COUNT, 10_000
    async with server() as (port, pid):
        healthy = [await Client.connect(port) for _ in range(3)]
        slow = await Client.connect(port, read=False)  # never reads: TCP backs up
        echo = await Client.connect(port)  # asks for the stats
        for c in [*healthy, slow]:
            if c is slow:
                await c.emit("join")
            else:
                await c.call("join")
        await asyncio.sleep(0.3)
        base = rss_bytes(pid)
        peak = [base]
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_rss(pid, peak, stop))
        echoing = await EchoProcess.start(port)
        await echo.call("loopstats")  # the server's own stalls, from now on
        started = time.monotonic()
        await healthy[0].call("flood", count, size, GAP)
        received = []
        for c in healthy:
            got = [await asyncio.wait_for(c.events.get(), 30) for _ in range(count)]
            received.append([n for _, n, _ in got] == list(range(count)))
        delivered_s = time.monotonic() - started
        # the slow member: dropped means its socket is gone server-side
        dropped_after = None
        for _ in range(200):
            stats = await echo.call("stats")
            if stats["sessions"] == 5:
                dropped_after = time.monotonic() - started
                break
            await asyncio.sleep(0.05)
        stop.set()
        latencies = await echoing.stop()
        loop_stats = await echo.call("loopstats")
        await sampler
        for c in [*healthy, slow, echo]:
            await c.close()
    echo_p99 = round(p99(latencies) * 1000, 2)
    growth = round((peak[0] - base) / 1e6, 2)
    return {
        "scenario": "slow-consumer",
        "broadcasts": f"{count} x {size} B, {GAP * 1000:g} ms apart",
        "server_rss_growth_MB": growth,
        "slow_dropped_after_s": None if dropped_after is None else round(dropped_after, 2),
        "healthy_all_in_order": all(received),
        "healthy_delivery_s": round(delivered_s, 2),
        "echo_p50_ms": round(statistics.median(latencies) * 1000, 2),
        "echo_p99_ms": echo_p99,
        "echo_max_ms": round(max(latencies) * 1000, 2),
        "echo_samples": len(latencies),
        **{f"server_{k}": v for k, v in loop_stats.items()},
        # issue 14's targets for one slow consumer with default settings
        "targets_met": {
            "rss_growth<=2MB": growth <= 2.0,
            "dropped<=5s": dropped_after is not None and dropped_after <= 5.0,
            "healthy_all_in_order": all(received),
            "echo_p99<=2ms": echo_p99 <= 2.0,
        },
    }


async def slowloris() -> dict[str, Any]:
    raise_nofile_limit(10_000)
    count = 2000
    async with server() as (port, pid):
        socks = []
        for _ in range(count):
            s = socket.socket()
            s.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                s.connect(("127.0.0.1", port))
            socks.append(s)
        await asyncio.sleep(0.5)
        for s in socks:
            with contextlib.suppress(OSError):
                s.send(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n")
        await asyncio.sleep(12.0)  # handshake_timeout (10 s) + 2 s
        still_open = 0
        for s in socks:
            try:
                data = s.recv(1)
                if data:
                    still_open += 1
            except BlockingIOError:
                still_open += 1
            except OSError:
                pass
            s.close()
    return {"scenario": "slowloris", "connections": count, "still_open_after_12s": still_open}


async def oversized_post() -> dict[str, Any]:
    async with server() as (port, pid):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        body = await reader.readexactly(length)
        sid = json.loads(body[1:])["sid"]
        base = rss_bytes(pid)
        started = time.monotonic()
        writer.write(
            f"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n"
            f"Content-Length: {100 * 1024 * 1024}\r\n\r\n".encode()
        )
        sent = 0
        answer = b""
        with contextlib.suppress(ConnectionError):
            while sent < 8 * 1024 * 1024 and not answer:
                writer.write(b"4" * 65536)
                sent += 65536
                with contextlib.suppress(TimeoutError):
                    answer = await asyncio.wait_for(reader.read(200), 0.001)
            if not answer:
                answer = await asyncio.wait_for(reader.read(200), 5)
        took = time.monotonic() - started
        growth = rss_bytes(pid) - base
        writer.close()
    return {
        "scenario": "oversized-post",
        "announced": "100 MiB",
        "answer": answer.split(b"\r\n", 1)[0].decode(),
        "answered_after_s": round(took, 3),
        "body_bytes_sent_before_answer": sent,
        "server_rss_growth_MB": round(growth / 1e6, 2),
    }


async def runaway_handlers() -> dict[str, Any]:
    async with server() as (port, pid):
        good = await Client.connect(port)  # asks for the stats
        echoing = await EchoProcess.start(port)
        before = (await good.call("stats"))["tasks"]
        await good.call("loopstats")  # the server's own stalls, from now on
        abusers = [await Client.connect(port) for _ in range(100)]
        for _ in range(20):
            for c in abusers:
                await c.emit("hang")
                await c.emit("boom")
        await asyncio.sleep(1.0)
        during = (await good.call("stats"))["tasks"]
        for c in abusers:
            await c.close()
        await asyncio.sleep(1.0)
        latencies = await echoing.stop()
        loop_stats = await good.call("loopstats")
        after = (await good.call("stats"))["tasks"]
        await good.close()
    echo_p99 = round(p99(latencies) * 1000, 2)
    return {
        "scenario": "runaway-handlers",
        "abusive_clients": 100,
        "tasks_before": before,
        "tasks_while_abused": during,
        "tasks_after_they_left": after,
        "good_echo_p99_ms": echo_p99,
        "good_echo_max_ms": round(max(latencies) * 1000, 2),
        **{f"server_{k}": v for k, v in loop_stats.items()},
        "targets_met": {
            "no_tasks_left": after <= before,
            "good_echo_p99<=10ms": echo_p99 <= 10.0,
        },
    }


RUNNERS = {
    "slow-consumer": slow_consumer,
    "slowloris": slowloris,
    "oversized-post": oversized_post,
    "runaway-handlers": runaway_handlers,
}


def main(argv: list[str] | None = None) -> None:
    cli = argparse.ArgumentParser(description=__doc__)
    cli.add_argument("scenario", nargs="*", choices=[*SCENARIOS, []], default=[])
    cli.add_argument("--server", choices=["native", "uvicorn"], default="native")
    cli.add_argument(
        "--nice",
        type=int,
        default=0,
        help="priority of the server and the well-behaved client (negative: ahead of other "
        "work on a shared machine; needs the privilege); the hostile clients run 10 below",
    )
    cli.add_argument("--echo-client", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = cli.parse_args(argv)
    if args.echo_client:
        asyncio.run(echo_client(args.echo_client))
        return
    global SERVER, NICE
    SERVER, NICE = args.server, args.nice
    # this process holds the hostile and the healthy clients: on the clients' CPUs, behind
    # the well-behaved client (the two would be on different machines)
    os.sched_setaffinity(0, cpu_split()[1])
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, os.getpriority(os.PRIO_PROCESS, 0) + 10)
    for name in args.scenario or SCENARIOS:
        result = asyncio.run(RUNNERS[name]())
        print(json.dumps({"server": SERVER, **result}), flush=True)


if __name__ == "__main__":
    main()
