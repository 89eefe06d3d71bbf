"""Soak: hold many connections with heartbeats and light traffic; watch for leaks.

    python -m bench.soak                          # make soak: 10,000 connections
    python -m bench.soak --connections 1000 --plateau 20 --hold 30   # a quick run

The server (:mod:`bench.hostile_app`, default settings but ``--ping-interval``) runs
on the native listener in its own process. Connections come from 127.0.0.1-127.0.0.16
(several source addresses, so ephemeral ports never run out) as minimal raw WebSocket
clients that answer every ping and, every ``--traffic-every`` seconds, make a tenth of
them send an echo with an ack.

Phases: connect all, settle, **plateau 1** (RSS and server CPU sampled over
``--plateau`` s), hold ``--hold`` s (heartbeats and traffic go on), **plateau 2**.
Prints one JSON line per sample and a summary: RSS per connection and server CPU per
idle connection (µs of CPU per connection-second) on each plateau. Fails (exit 1) when
RSS grew between the plateaus by more than ``--leak-kb`` per connection, or when a
connection was lost or missed a heartbeat.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from measure.procstat import cpu_sample, raise_nofile_limit, rss_bytes

__all__ = ["main"]


def _frame(text: bytes) -> bytes:
    # a client frame must be masked; an all-zero key leaves the payload as it is
    return bytes((0x81, 0x80 | len(text))) + b"\0\0\0\0" + text


class SoakClient(asyncio.Protocol):
    """One raw WebSocket Socket.IO client: connects ``/``, answers pings, echoes."""

    def __init__(self, host: str, stats: dict[str, int]) -> None:
        self.host = host
        self.stats = stats
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.upgraded = False
        self.connected = asyncio.get_running_loop().create_future()
        self.lost = False
        self.next_ack = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(
            b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: "
            + self.host.encode()
            + b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )

    def data_received(self, data: bytes) -> None:
        buf = self.buffer + data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buf
                return
            self.upgraded = True
            buf = buf[end + 4 :]
        while len(buf) >= 2:
            size = buf[1] & 0x7F
            head = 2
            if size == 126:
                if len(buf) < 4:
                    break
                size, head = int.from_bytes(buf[2:4], "big"), 4
            elif size == 127:
                if len(buf) < 10:
                    break
                size, head = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < head + size:
                break
            opcode, payload = buf[0] & 0x0F, buf[head : head + size]
            buf = buf[head + size :]
            if opcode == 1:
                self._text(payload)
        self.buffer = buf

    def _text(self, payload: bytes) -> None:
        if payload == b"2":
            self.send(b"3")
            self.stats["pings"] += 1
        elif payload[:1] == b"0":
            self.send(b"40")
        elif payload[:2] == b"40" and not self.connected.done():
            self.connected.set_result(None)
        elif payload[:2] == b"43":
            self.stats["acks"] += 1

    def send(self, text: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_frame(text))

    def echo(self) -> None:
        self.send(b"42" + str(self.next_ack).encode() + b'["echo",1]')
        self.next_ack += 1
        self.stats["sent"] += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.stats["lost"] += 1
        if not self.connected.done():
            self.connected.set_exception(ConnectionError("lost before connecting"))


async def _plateau(
    pid: int, seconds: float, label: str, count: int, stats: dict[str, int]
) -> dict[str, Any]:
    cpu0 = cpu_sample(pid).precise_s
    started = time.monotonic()
    samples = []
    while time.monotonic() - started < seconds:
        await asyncio.sleep(min(5.0, seconds / 4))
        samples.append(rss_bytes(pid))
        print(json.dumps({"phase": label, "t": round(time.monotonic() - started, 1),
                          "rss_MB": round(samples[-1] / 1e6, 2), **stats}), flush=True)  # fmt: skip
    cpu = cpu_sample(pid).precise_s - cpu0
    took = time.monotonic() - started
    return {
        "rss": max(samples),
        "cpu_us_per_conn_s": cpu / (count * took) * 1e6,
    }


async def soak(args: argparse.Namespace) -> int:
    raise_nofile_limit(args.connections + 1024)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.hostile_app", "0", str(args.ping_interval),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    port = int((await asyncio.wait_for(proc.stdout.readline(), 20)).split()[1])
    pid = proc.pid
    loop = asyncio.get_running_loop()
    stats = {"pings": 0, "acks": 0, "sent": 0, "lost": 0}
    try:
        await asyncio.sleep(0.5)
        base = rss_bytes(pid)
        clients: list[SoakClient] = []
        for n in range(args.connections):
            host = f"127.0.0.{1 + n % 16}"
            _, client = await loop.create_connection(
                lambda host=host: SoakClient(host, stats),  # type: ignore[misc]
                "127.0.0.1",
                port,
                local_addr=(host, 0),
            )
            clients.append(client)
            if n % 200 == 199:
                await asyncio.gather(*(c.connected for c in clients[-200:]))
        await asyncio.gather(*(c.connected for c in clients))
        print(json.dumps({"phase": "connected", "connections": len(clients)}), flush=True)

        async def traffic() -> None:
            tick = 0
            while True:
                await asyncio.sleep(args.traffic_every)
                for c in clients[tick % 10 :: 10]:
                    c.echo()
                tick += 1

        traffic_task = loop.create_task(traffic())
        await asyncio.sleep(args.settle)
        first = await _plateau(pid, args.plateau, "plateau 1", len(clients), stats)
        await asyncio.sleep(args.hold)
        second = await _plateau(pid, args.plateau, "plateau 2", len(clients), stats)
        traffic_task.cancel()
        pings_expected = len(clients) * int(
            (args.settle + 2 * args.plateau + args.hold) / args.ping_interval - 1
        )
        grew_kb = (second["rss"] - first["rss"]) / len(clients) / 1000
        summary = {
            "connections": len(clients),
            "base_rss_MB": round(base / 1e6, 1),
            "rss_per_conn_KB": [
                round((p["rss"] - base) / len(clients) / 1000, 2) for p in (first, second)
            ],  # fmt: skip
            "cpu_us_per_idle_conn_s": [round(p["cpu_us_per_conn_s"], 2) for p in (first, second)],
            "rss_growth_between_plateaus_KB_per_conn": round(grew_kb, 3),
            "pings_answered": stats["pings"],
            "pings_expected_at_least": pings_expected,
            "echo_acks": f"{stats['acks']}/{stats['sent']}",
            "connections_lost": stats["lost"],
        }
        print(json.dumps({"summary": summary}), flush=True)
        ok = (
            grew_kb <= args.leak_kb
            and stats["lost"] == 0
            and stats["pings"] >= pings_expected
            and stats["acks"] >= stats["sent"] - len(clients) // 10
        )
        for c in clients:
            if c.transport is not None:
                c.transport.close()
        return 0 if ok else 1
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)


def main(argv: list[str] | None = None) -> None:
    cli = argparse.ArgumentParser(description=__doc__)
    cli.add_argument("--connections", type=int, default=10_000)
    cli.add_argument("--ping-interval", type=float, default=5.0)
    cli.add_argument("--traffic-every", type=float, default=2.0)
    cli.add_argument("--settle", type=float, default=10.0)
    cli.add_argument("--plateau", type=float, default=60.0)
    cli.add_argument("--hold", type=float, default=120.0)
    cli.add_argument("--leak-kb", type=float, default=0.5, help="allowed growth per connection")
    sys.exit(asyncio.run(soak(cli.parse_args(argv))))


if __name__ == "__main__":
    main()
