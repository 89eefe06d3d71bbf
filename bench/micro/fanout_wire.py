"""Micro-benchmark for instruction counts: broadcasts to a room over real WebSockets.

The native listener serves a Socket.IO server on 127.0.0.1 in this process; ``members``
raw WebSocket clients (plain sockets of this process, never read after they joined)
join a room, and one more client emits ``fanout`` ``count`` times, one broadcast in
flight (as ``fanout-10k``). Unlike :mod:`bench.micro.hot_path` (a sink that drops the
frames), every delivery goes through ``NativeWebSocket.write`` and uvloop's
``transport.write`` (one ``send`` per member), as in the benchmark.

The set-up costs the same whatever the count, so one delivery costs the difference
between two runs divided by the difference in deliveries; ``--report`` runs twice
under ``valgrind --tool=callgrind`` and prints instructions and pymalloc allocations
(calls of ``_PyObject_Malloc``) per delivery. Without ``--report`` it prints the
CPU time (user + system, the kernel's ``send`` included) per delivery::

    python -m bench.micro.fanout_wire 2000 --members 1000
    python -m bench.micro.fanout_wire 200 --members 1000 --report --low 50

``--floor`` measures what the same loop costs when the handler writes the frame's bytes
straight to every member's transport (``transport.write`` in a Python loop, as the
bare-WebSocket ceiling does): the least any server written in Python pays per delivery
on this listener; the difference to a normal run is plexio's own per-delivery work.

The members' kernel buffers hold what they are sent: keep ``count`` × frame size
under ~100 KB (count ≤ 2,000 here).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import time
from typing import Any

import orjson

import plexio
from bench.micro import callgrind
from plexio.native import serve
from plexio.native.listener import encode_data_frame

_UPGRADE = (
    b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def _masked(text: str) -> bytes:
    """A client text frame (a zero mask key: the payload goes as is)."""
    payload = text.encode()
    assert len(payload) < 126
    return bytes((0x81, 0x80 | len(payload), 0, 0, 0, 0)) + payload


async def _read_until(loop: asyncio.AbstractEventLoop, sock: socket.socket, marker: bytes) -> None:
    data = b""
    while marker not in data:
        chunk = await loop.sock_recv(sock, 65536)
        if not chunk:
            raise ConnectionError("closed during set-up")
        data += chunk


async def _join(loop: asyncio.AbstractEventLoop, port: int) -> socket.socket:
    sock = socket.socket()
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    await loop.sock_sendall(sock, _UPGRADE)
    await _read_until(loop, sock, b'"pingTimeout"')  # the 101 and the Engine.IO OPEN
    await loop.sock_sendall(sock, _masked("40"))
    await _read_until(loop, sock, b'40{"sid"')
    return sock


async def run(count: int, members: int, floor: bool = False) -> None:
    loop = asyncio.get_running_loop()
    sio = plexio.Server(ping_interval=3600, ping_timeout=3600)
    joined = 0

    @sio.on("connect")
    def connect(socket: Any) -> None:
        nonlocal joined
        socket.join("room")
        joined += 1

    transports: list[Any] = []

    @sio.on("fanout")
    def fanout(socket: Any, data: Any) -> None:
        if floor:
            payload = encode_data_frame('42["msg",' + orjson.dumps(data).decode() + "]")
            for transport in transports:
                transport.write(payload)
        else:
            sio.to("room").emit("msg", data)

    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(2048)
    port = listening.getsockname()[1]
    server = loop.create_task(serve(sio, sock=listening))
    clients = []
    for start in range(0, members + 1, 100):
        batch = range(start, min(start + 100, members + 1))
        clients += await asyncio.gather(*(_join(loop, port) for _ in batch))
    while joined < members + 1:
        await asyncio.sleep(0.01)
    if floor:  # the members' transports, reached through the listener's objects
        transports += [s._sink._conn.transport for s in sio.engine.sockets.values()]
    sender = clients[-1]
    frame = _masked('42["fanout",{"text":"hello"}]')
    marker = b'42["msg"'

    async def one() -> None:
        await loop.sock_sendall(sender, frame)
        await _read_until(loop, sender, marker)

    for _ in range(20):  # warm-up
        await one()
    start = time.process_time()
    for _ in range(count):
        await one()
    elapsed = time.process_time() - start
    print(f"fan-out: {elapsed / (count * (members + 1)) * 1e6:.2f} µs CPU per delivery")
    for sock in clients:
        sock.close()
    server.cancel()


def _callgrind(count: int, members: int, keep: str, floor: bool) -> tuple[int, int]:
    """Instructions and _PyObject_Malloc calls of one run under callgrind."""
    args = [str(count), "--members", str(members), *(["--floor"] if floor else [])]
    label = f"{'floor' if floor else 'wire'}.{count}"
    return callgrind.measure("bench.micro.fanout_wire", args, label, keep)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("count", type=int, nargs="?", default=1000)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument(
        "--report", action="store_true", help="run twice under callgrind, print per-delivery counts"
    )
    parser.add_argument(
        "--floor", action="store_true", help="write the bytes to every transport directly"
    )
    parser.add_argument("--low", type=int, default=0, help="--report: the smaller count")
    parser.add_argument("--keep", default="", help="--report: keep the profiles in this folder")
    args = parser.parse_args()
    if args.report:
        low = args.low or args.count // 5
        a = _callgrind(low, args.members, args.keep, args.floor)
        b = _callgrind(args.count, args.members, args.keep, args.floor)
        ops = (args.count - low) * (args.members + 1)
        print(
            f"fan-out over the wire: {(b[0] - a[0]) / ops:,.0f} instructions, "
            f"{(b[1] - a[1]) / ops:.2f} pymalloc allocations per delivery"
        )
        return
    if args.loop == "uvloop":
        import uvloop

        uvloop.install()
    asyncio.run(run(args.count, args.members, args.floor))


if __name__ == "__main__":
    main()
