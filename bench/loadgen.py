"""Load-generator worker process: holds many `SioClient`s and obeys the orchestrator.

The orchestrator (`bench.runner`) starts one worker per load-generator core and talks to it over
a `multiprocessing` pipe with small command tuples; every command gets exactly one reply,
`("ok", dict)` or `("error", str)`:

- `("setup", spec)`: open the connections the scenario needs (and join the room for fan-out);
  for connect-type scenarios, connect and close `spec["warmup"]` clients to warm the server up.
- `("load", {})`: echo/fan-out: start the closed loops. Connect-type: open `spec["clients"]`
  connections (that is the measured work) and reply when they are all up.
- `("mark", {})`: start the measured window (counters reset).
- `("peek", {})`: operations counted so far in the window.
- `("stop", {})`: end the window and the load; the reply carries counts and latencies.
- `("status", {})`: connections held and still open, pings answered, errors (scale runs;
  from `setup` on, a connection that closes counts as an error).
- `("close", {})`: drop every connection; the worker then exits.

`spec["sources"]` (optional) lists local addresses (`127.0.0.x`) the connections are
spread over, so one worker can open more connections to one server port than one source
address has ephemeral ports; `spec["read_buffer"]` sets picows's initial read buffer.

Every wait is bounded by `spec["timeout"]` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import logging
import os
import socket
from array import array
from multiprocessing.connection import Connection
from time import monotonic, monotonic_ns
from typing import Any

import uvloop
from measure.procstat import raise_nofile_limit, set_priority
from picows import WSParsedURL, ws_connect

from bench.client import DEFLATE_OFFER, FanoutSender, SioClient, Stats, event_frame

__all__ = ["Worker", "worker_main"]

#: Linux socket option: bind() keeps the port open until connect() (IP_BIND_ADDRESS_NO_PORT).
_IP_BIND_ADDRESS_NO_PORT = 24

#: At most this many latencies travel back per worker (evenly thinned beyond it).
MAX_SAMPLES = 400_000

#: picows's optional aiofastnet transport (BENCH_AIOFASTNET=1) instead of uvloop's own.
USE_AIOFASTNET = os.environ.get("BENCH_AIOFASTNET", "") == "1"


class Worker:
    """The state of one load-generator process.

    Args:
        conn: the pipe end to the orchestrator.
        index: this worker's index (worker 0 holds the fan-out sender).
    """

    def __init__(self, conn: Connection, index: int) -> None:
        self.conn = conn
        self.index = index
        self.stats = Stats()
        self.clients: list[SioClient] = []
        self.spec: dict[str, Any] = {}
        self.sender: FanoutSender | None = None
        self._mark_at = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self._done: asyncio.Future[None] | None = None
        self._connect_latencies: list[int] = []
        self._sources: itertools.cycle[str] | None = None

    async def run(self) -> None:
        """Serve commands until `close` (or the orchestrator goes away)."""
        loop = asyncio.get_running_loop()
        self._done = loop.create_future()
        loop.add_reader(self.conn.fileno(), self._readable)
        # The event loop may switch the pipe to non-blocking mode; a large reply (latencies)
        # must then not be cut short by EAGAIN half-way, so writes stay blocking.
        os.set_blocking(self.conn.fileno(), True)
        try:
            await self._done
        finally:
            loop.remove_reader(self.conn.fileno())
            for task in self._tasks:
                task.cancel()
            for client in self.clients:
                client.disconnect()

    # -- command plumbing -------------------------------------------------------------------

    def _readable(self) -> None:
        try:
            command, arg = self.conn.recv()
        except (EOFError, OSError):
            self._finish()
            return
        handler = getattr(self, f"_cmd_{command}", None)
        if handler is None:
            self._reply_error(f"unknown command {command!r}")
            return
        if asyncio.iscoroutinefunction(handler):
            task = asyncio.get_running_loop().create_task(self._guard(handler(arg)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            try:
                self._reply(handler(arg))
            except Exception as exc:  # reported to the orchestrator, which stops the run
                self._reply_error(f"{type(exc).__name__}: {exc}")

    async def _guard(self, coro: Any) -> None:
        try:
            result = await coro
        except Exception as exc:  # reported to the orchestrator, which stops the run
            self._reply_error(f"{type(exc).__name__}: {exc}")
        else:
            self._reply(result)

    def _reply(self, result: dict[str, Any]) -> None:
        os.set_blocking(self.conn.fileno(), True)
        with contextlib.suppress(OSError):
            self.conn.send(("ok", result))

    def _reply_error(self, message: str) -> None:
        os.set_blocking(self.conn.fileno(), True)
        with contextlib.suppress(OSError):
            self.conn.send(("error", message))

    def _finish(self) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    # -- connections ------------------------------------------------------------------------

    def _bound_socket(self, url: WSParsedURL) -> socket.socket | None:
        # A socket bound to the next source address; the port is chosen at connect time
        # (IP_BIND_ADDRESS_NO_PORT), so each (source, server) pair has its own port range.
        if self._sources is None:
            return None
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.IPPROTO_IP, _IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((next(self._sources), 0))
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock

    async def _connect(self, namespaces: tuple[str, ...]) -> SioClient:
        spec = self.spec
        stats = self.stats
        raw = bool(spec.get("raw", False))
        started = monotonic_ns()
        _, client = await ws_connect(
            lambda: SioClient(stats, namespaces, raw),
            spec["url"],
            websocket_handshake_timeout=spec["timeout"],
            use_aiofastnet=USE_AIOFASTNET,
            extra_headers=(
                {"Sec-WebSocket-Extensions": DEFLATE_OFFER} if spec.get("deflate") else None
            ),
            socket_factory=self._bound_socket if self._sources is not None else None,
            read_buffer_init_size=int(spec.get("read_buffer", 16384)),
        )
        assert isinstance(client, SioClient)
        try:
            async with asyncio.timeout(spec["timeout"]):
                await client.ready
        except BaseException:
            client.disconnect()
            raise
        self._connect_latencies.append(monotonic_ns() - started)
        return client

    async def _connect_many(self, count: int, keep: bool, deadline: float) -> tuple[int, int]:
        """Open `count` connections, `spec["concurrency"]` at a time; keep or close each.

        Returns:
            (connected, failed).
        """
        namespaces = tuple(self.spec["namespaces"])
        concurrency = max(1, int(self.spec.get("concurrency", 64)))
        todo = iter(range(count))
        connected = 0
        failed = 0

        async def lane() -> None:
            nonlocal connected, failed
            for _ in todo:
                if monotonic() > deadline:
                    return
                try:
                    client = await self._connect(namespaces)
                except Exception:
                    failed += 1
                    if failed > max(10, count // 10):
                        raise
                    continue
                connected += 1
                if keep:
                    self.clients.append(client)
                else:
                    client.disconnect()

        async with asyncio.TaskGroup() as group:
            for _ in range(min(concurrency, count)):
                group.create_task(lane())
        return connected, failed

    # -- commands ---------------------------------------------------------------------------

    async def _cmd_setup(self, spec: dict[str, Any]) -> dict[str, Any]:
        self.spec = spec
        sources = spec.get("sources")
        self._sources = itertools.cycle(sources) if sources else None
        kind = spec["kind"]
        deadline = monotonic() + spec["timeout"]
        if kind in ("connect", "memory"):
            connected, failed = await self._connect_many(int(spec["warmup"]), False, deadline)
            await asyncio.sleep(0.05)
            return {"warmup": connected, "errors": failed}
        connected, failed = await self._connect_many(int(spec["clients"]), True, deadline)
        if connected < int(spec["clients"]):
            raise ConnectionError(f"only {connected} of {spec['clients']} clients connected")
        if kind == "fanout":
            room = spec["room"]
            for start in range(0, len(self.clients), 200):
                batch = self.clients[start : start + 200]
                await asyncio.gather(*(c.join(room, spec["timeout"]) for c in batch))
            for client in self.clients:
                client.prepare_fanout_member()
            if spec.get("sender"):
                sender_client = await self._connect(tuple(spec["namespaces"]))
                self.sender = FanoutSender(
                    sender_client,
                    self.stats,
                    room,
                    members=len(self.clients),
                    window=int(spec["window"]),
                    padding=int(spec["padding"]),
                )
                self.stats.sender = self.sender
        elif kind in ("echo", "binary"):
            namespace = spec["namespaces"][0]
            payload = spec["payload"]
            if spec.get("raw"):
                request = f'["echo",{payload}]'.encode()
            elif kind == "binary":
                request = event_frame(
                    namespace, 1, '["echo",{"_placeholder":true,"num":0}]', attachments=1
                )
            else:
                request = event_frame(namespace, 1, f'["echo",{payload}]')
            attachment = os.urandom(int(spec["binary_bytes"])) if kind == "binary" else b""
            for client in self.clients:
                client.prepare_echo(request, attachment)
        return {"connected": connected, "errors": failed}

    async def _cmd_load(self, _: dict[str, Any]) -> dict[str, Any]:
        spec = self.spec
        kind = spec["kind"]
        stats = self.stats
        stats.errors = 0
        stats.running = True
        if kind in ("connect", "memory"):
            self._connect_latencies = []
            started = monotonic()
            deadline = started + spec["timeout"]
            connected, failed = await self._connect_many(int(spec["clients"]), True, deadline)
            elapsed = monotonic() - started
            stats.running = False
            return {
                "ops": connected,
                "elapsed_s": elapsed,
                "errors": failed + stats.errors,
                "latencies_ns": _thin(self._connect_latencies),
            }
        if kind == "fanout":
            if self.sender is not None:
                self.sender.start()
        else:
            for client in self.clients:
                client.send_request()
        return {}

    def _cmd_mark(self, _: dict[str, Any]) -> dict[str, Any]:
        self.stats.reset()
        self.stats.recording = True
        self._mark_at = monotonic()
        return {}

    def _cmd_stop(self, _: dict[str, Any]) -> dict[str, Any]:
        stats = self.stats
        elapsed = monotonic() - self._mark_at
        stats.recording = False
        stats.running = False
        if self.sender is not None:
            self.sender.stop()
        return {
            "ops": stats.ops,
            "elapsed_s": elapsed,
            "errors": stats.errors,
            "stalls": self.sender.stalls if self.sender is not None else 0,
            "compressed": stats.compressed,
            "latencies_ns": _thin(stats.latencies_ns),
        }

    def _cmd_peek(self, _: dict[str, Any]) -> dict[str, Any]:
        return {"ops": self.stats.ops}

    def _cmd_close(self, _: dict[str, Any]) -> dict[str, Any]:
        self.stats.running = False
        for client in self.clients:
            client.disconnect()
        if self.sender is not None:
            self.sender.client.disconnect()
        self.clients = []
        asyncio.get_running_loop().call_soon(self._finish)
        return {}

    def _cmd_status(self, _: dict[str, Any]) -> dict[str, Any]:
        self.stats.running = True  # from now on, a connection that closes is an error
        return {
            "held": len(self.clients),
            "open": sum(1 for c in self.clients if not c.closed.done()),
            "pings": self.stats.pings,
            "errors": self.stats.errors,
        }

    def _cmd_ping(self, _: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


def _thin(values: array[int] | list[int]) -> bytes:
    """Latencies as packed int64 bytes, evenly thinned to at most MAX_SAMPLES."""
    if len(values) > MAX_SAMPLES:
        step = len(values) / MAX_SAMPLES
        values = [values[int(i * step)] for i in range(MAX_SAMPLES)]
    return array("q", values).tobytes()


def worker_main(conn: Connection, index: int, cpus: list[int], nice: int = 0) -> None:
    """Body of a load-generator process: pin, raise the fd limit, run the worker on uvloop.

    Args:
        conn: the pipe end to the orchestrator.
        index: worker index.
        cpus: the cores to pin this process to (empty: no pinning).
        nice: scheduling priority (ignored where not permitted).
    """
    set_priority(nice, own_session=True)
    if cpus:
        os.sched_setaffinity(0, cpus)
    raise_nofile_limit()
    # A worker lives for one run: the cyclic collector's pauses (growing with the number of
    # connections held) would only add noise to the load generator's own CPU use.
    gc.disable()
    logging.getLogger("picows").setLevel(logging.CRITICAL)
    try:
        uvloop.run(Worker(conn, index).run())
    except KeyboardInterrupt:
        pass
    finally:
        conn.close()
