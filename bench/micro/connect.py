"""Micro-benchmark: the server's user-space cost of one connect, without the network.

What the ``connect-1ns`` / ``connect-5ns`` scenarios make the server do per client, through
the native listener's own objects with a transport that keeps what it is given: the HTTP
upgrade request is parsed, the 101 written, the Engine.IO session opened (OPEN packet),
then the client's CONNECT frames (masked, as a client sends them) are fed and every
CONNECT reply is flushed. Connections are opened ``--batch`` at a time (the load
generator keeps 64 in flight per worker) and stay open, as in the scenario; closing them
(the TCP connection lost) is timed on its own at the end.

Run: ``python -m bench.micro.connect [--count N] [--namespaces K] [--repeat R]``. For
instruction counts (repeatable on a shared machine)::

    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out \\
        .venv/bin/python -m bench.micro.connect --count 2000 --repeat 1 --no-close
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import time
from typing import Any

from bench.scenarios import COMMU
from bench.servers.plexio_server import build
from plexio.native.http import resolve_parser
from plexio.native.listener import HttpConnection, _Listener


class KeepTransport(asyncio.Transport):
    """An open TCP transport that drops what is written (counting the bytes)."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.written = 0
        self.closing = False
        self._peer = ("127.0.0.1", port)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername":
            return self._peer
        return default

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += len(data)

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        pass


def _request() -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
        "Host: 127.0.0.1:8000\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "\r\n"
    ).encode()


def _client_frame(text: str) -> bytes:
    payload = text.encode()
    assert len(payload) < 126
    return bytes((0x81, 0x80 | len(payload))) + b"\x00\x00\x00\x00" + payload  # zero mask


async def _settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def run(count: int, namespaces: int, batch: int, repeat: int, close: bool) -> None:
    sio, _ = build()
    listener = _Listener(sio.engine, "/socket.io/", resolve_parser("auto"), "http")
    names = ("/", *COMMU)[:namespaces]
    frames = [_client_frame("40" if name == "/" else f"40{name},") for name in names]
    requests = [_request() for _ in range(count)]
    for round_ in range(repeat):
        conns: list[tuple[HttpConnection, KeepTransport]] = []
        open_cpu = connect_cpu = 0.0
        for start in range(0, count, batch):
            wave = []
            begin = time.process_time()
            for i in range(start, min(count, start + batch)):
                conn = HttpConnection(listener)
                transport = KeepTransport(10000 + i)
                conn.connection_made(transport)
                conn.data_received(requests[i])
                wave.append((conn, transport))
            await _settle()  # the upgrade task, the OPEN packet's flush
            middle = time.process_time()
            for conn, _ in wave:
                for frame in frames:  # one read per frame, as they arrive apart
                    conn.data_received(frame)
            await _settle()  # CONNECT handlers, the replies' flush
            end = time.process_time()
            open_cpu += middle - begin
            connect_cpu += end - middle
            conns.extend(wave)
        joined = sum(len(s.sockets) for s in sio.namespaces.values())
        assert joined == count * namespaces, (joined, count * namespaces)
        us = 1e6 / count
        line = (
            f"round {round_ + 1}: open {open_cpu * us:.1f} µs + {namespaces} CONNECT "
            f"{connect_cpu * us:.1f} µs = {(open_cpu + connect_cpu) * us:.1f} µs per connection"
        )
        if close:
            begin = time.process_time()
            for conn, transport in conns:
                transport.closing = True
                conn.connection_lost(None)
            await _settle()
            line += f"; close {(time.process_time() - begin) * us:.1f} µs"
            assert not sio.engine.sockets
        print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="connections per round")
    parser.add_argument("--namespaces", type=int, default=5, choices=range(1, 6))
    parser.add_argument("--batch", type=int, default=64, help="connections opened at once")
    parser.add_argument("--repeat", type=int, default=3, help="rounds")
    parser.add_argument("--no-close", action="store_true", help="keep them open at the end")
    parser.add_argument("--asyncio", action="store_true", help="asyncio's loop, not uvloop")
    args = parser.parse_args()
    coro = run(args.count, args.namespaces, args.batch, args.repeat, not args.no_close)
    if args.asyncio:
        asyncio.run(coro)
    else:
        import uvloop

        uvloop.run(coro)


if __name__ == "__main__":
    main()
