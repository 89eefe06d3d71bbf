"""A TCP proxy on 127.0.0.1 that adds a one-way delay each way and optionally caps bandwidth.

Every chunk read from one side is written to the other side ``delay`` seconds after it was
read, in order; a round trip through the proxy therefore takes at least ``2 * delay`` (the
RTT). With ``bandwidth_bps`` each direction of each connection is a link of that many bits
per second: a chunk leaves when the link has finished sending the chunks before it, so large
bodies take ``size * 8 / bandwidth`` longer (a first-order model of a slow access link: no
loss, no TCP slow start).

``python -m topology.delayproxy --target 127.0.0.1:PORT --rtt-ms 50`` runs one by hand.

With ``tcp_handshake=True`` (the default) a new connection also costs one RTT before its
first bytes move, as TCP's SYN / SYN-ACK does on a real network (on loopback the client's
``connect()`` returns at once; the proxy holds the connection's first bytes for one RTT).

The proxy counts what it forwards (connections, chunks and bytes each way; in total and per
connection, :attr:`DelayProxy.peers`) and the **round
trips on the critical path** as it saw them: every chunk gets a depth — a chunk read from a
client is one deeper than the deepest chunk delivered to clients before it was read, a chunk
read from the server is as deep as the deepest chunk delivered to the server, a TCP
handshake is one deeper than what was delivered before it — and :attr:`LinkStats.round_trips`
is the deepest chunk delivered to a client. With a delay well above the processing times,
that is the number of sequential waits the client went through, counted independently of
the client's own bookkeeping. Measure one client per proxy (a fresh proxy per sample).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["DelayProxy", "LinkStats", "main"]

_CHUNK = 65536


@dataclass(slots=True)
class LinkStats:
    """What the proxy forwarded.

    Attributes:
        connections: TCP connections accepted.
        chunks_up: reads from clients forwarded to the server.
        chunks_down: reads from the server forwarded to clients.
        bytes_up: bytes forwarded client → server.
        bytes_down: bytes forwarded server → client.
        round_trips: depth of the deepest chunk delivered to a client (see the module).
        matches: occurrences of each watched byte string (see ``watch``), by name.
    """

    connections: int = 0
    chunks_up: int = 0
    chunks_down: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    round_trips: int = 0
    matches: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The counters as a JSON object."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["matches"] = dict(self.matches)
        return out


class DelayProxy:
    """Forwards ``127.0.0.1:port`` to ``target`` with a delay each way.

    Args:
        target_host: the server's address.
        target_port: the server's port.
        one_way_delay: seconds added to every chunk in each direction (RTT / 2).
        bandwidth_bps: bits per second of each direction of each connection (``None``:
            unlimited).
        tcp_handshake: a new connection waits one RTT before its bytes move.
        watch: byte strings to count, by name, each with its direction (``"up"``: client
            to server, ``"down"``); matched case-insensitively, across chunk boundaries
            (e.g. RESP ``$7\r\npublish\r\n`` to count a Redis client's PUBLISH commands).

    Use as an async context manager; :attr:`port` is the port clients connect to.
    """

    def __init__(
        self,
        target_host: str,
        target_port: int,
        one_way_delay: float = 0.0,
        bandwidth_bps: float | None = None,
        tcp_handshake: bool = True,
        watch: dict[str, tuple[str, bytes]] | None = None,
    ) -> None:
        if one_way_delay < 0:
            raise ValueError("one_way_delay must be >= 0")
        if bandwidth_bps is not None and bandwidth_bps <= 0:
            raise ValueError("bandwidth_bps must be > 0 (or None for no cap)")
        self.target_host = target_host
        self.target_port = target_port
        self.one_way_delay = one_way_delay
        self.bandwidth_bps = bandwidth_bps
        self.tcp_handshake = tcp_handshake
        self.watch = {name: (way, text.lower()) for name, (way, text) in (watch or {}).items()}
        if any(way not in ("up", "down") or not text for way, text in self.watch.values()):
            raise ValueError('watch entries are ("up" or "down", non-empty bytes)')
        self._up_depth = 0  # deepest chunk delivered to the server
        self.stats = LinkStats()
        #: the same counters per connection, keyed by the client's (peer) port
        self.peers: dict[int, LinkStats] = {}
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def rtt(self) -> float:
        """The round-trip time the proxy adds, in seconds."""
        return 2 * self.one_way_delay

    async def __aenter__(self) -> DelayProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Listens on a free port of 127.0.0.1."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, backlog=4096)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stops listening and drops every open connection."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        self._spawn(self._connection(reader, writer))

    async def _connection(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        self._writers.add(client_writer)
        peer = client_writer.get_extra_info("peername")
        own = self.peers.setdefault(int(peer[1]) if peer else -1, LinkStats())
        own.connections += 1
        if self.tcp_handshake:
            depth = self.stats.round_trips + 1
            await asyncio.sleep(self.rtt)
            self.stats.round_trips = max(self.stats.round_trips, depth)
        try:
            server_reader, server_writer = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError:
            client_writer.close()
            self._writers.discard(client_writer)
            return
        self._writers.add(server_writer)
        try:
            await asyncio.gather(
                self._pipe(client_reader, server_writer, own, up=True),
                self._pipe(server_reader, client_writer, own, up=False),
            )
        finally:
            for writer in (client_writer, server_writer):
                writer.close()
                self._writers.discard(writer)

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        own: LinkStats,
        *,
        up: bool,
    ) -> None:
        """Reads one direction and writes it out ``one_way_delay`` later, in order."""
        queue: asyncio.Queue[tuple[float, int, bytes]] = asyncio.Queue()
        sender = asyncio.ensure_future(self._send_later(queue, writer, up=up))
        watched = [(n, t) for n, (w, t) in self.watch.items() if (w == "up") == up]
        keep = max((len(t) for _, t in watched), default=1) - 1
        tail = b""
        try:
            while True:
                try:
                    data = await reader.read(_CHUNK)
                except (OSError, ConnectionError):
                    data = b""
                depth = self.stats.round_trips + 1 if up else self._up_depth
                queue.put_nowait((time.monotonic() + self.one_way_delay, depth, data))
                if not data:
                    break
                if watched:
                    window = tail + data.lower()
                    for name, text in watched:
                        found = window.count(text)
                        for stats in (self.stats, own):
                            stats.matches[name] = stats.matches.get(name, 0) + found
                    tail = window[-keep:] if keep else b""
                for stats in (self.stats, own):
                    if up:
                        stats.chunks_up += 1
                        stats.bytes_up += len(data)
                    else:
                        stats.chunks_down += 1
                        stats.bytes_down += len(data)
            await sender
        finally:
            if not sender.done():
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sender

    async def _send_later(
        self,
        queue: asyncio.Queue[tuple[float, int, bytes]],
        writer: asyncio.StreamWriter,
        *,
        up: bool,
    ) -> None:
        link_free = 0.0
        while True:
            due, depth, data = await queue.get()
            if self.bandwidth_bps is not None and data:
                start = max(due, link_free)
                link_free = start + len(data) * 8 / self.bandwidth_bps
                due = link_free
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                if up:
                    self._up_depth = max(self._up_depth, depth)
                else:
                    self.stats.round_trips = max(self.stats.round_trips, depth)
                await writer.drain()
            except (OSError, ConnectionError, RuntimeError):
                return


def main(argv: list[str] | None = None) -> int:
    """``python -m topology.delayproxy --target HOST:PORT --rtt-ms MS [--kbps K]``."""
    parser = argparse.ArgumentParser(prog="python -m topology.delayproxy")
    parser.add_argument("--target", required=True, help="HOST:PORT of the server")
    parser.add_argument("--rtt-ms", type=float, default=50.0, help="added round-trip time")
    parser.add_argument("--kbps", type=float, default=None, help="bandwidth cap each way")
    parser.add_argument("--seconds", type=float, default=600.0, help="run this long, then stop")
    args = parser.parse_args(argv)
    host, _, port = args.target.rpartition(":")

    async def run() -> None:
        bandwidth = args.kbps * 1000 if args.kbps else None
        async with DelayProxy(host, int(port), args.rtt_ms / 2000, bandwidth) as proxy:
            print(f"proxy 127.0.0.1:{proxy.port} -> {args.target}", file=sys.stderr, flush=True)
            await asyncio.sleep(args.seconds)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
