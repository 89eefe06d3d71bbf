"""What one idle WebSocket connection holds in the server, traced by allocation site.

The server (plexio's native listener on uvloop, the benchmark's handlers) runs in this
process under ``tracemalloc``; a child process opens the connections (picows clients of
the load generator, one namespace each) and keeps them idle. After a warm-up, a snapshot
is taken, ``--connections`` more are opened, and the difference divided by their number
is reported per allocation site (file and line), plus the RSS difference for comparison.

Run: ``python -m bench.micro.idle_memory [--connections 2000] [--frames 1] [--top 25]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import multiprocessing.connection
import os
import tracemalloc
from typing import Any

from measure.procstat import raise_nofile_limit, rss_bytes

__all__ = ["main", "measure"]


def _clients(conn: multiprocessing.connection.Connection, url: str) -> None:
    """Child: on ``("open", n)`` opens n idle connections; on ``("close", 0)`` exits."""
    import uvloop
    from picows import ws_connect

    from bench.client import SioClient, Stats

    raise_nofile_limit()

    async def run() -> None:
        stats = Stats()
        held: list[SioClient] = []
        loop = asyncio.get_running_loop()
        while True:
            command, count = await loop.run_in_executor(None, conn.recv)
            if command == "close":
                for client in held:
                    client.disconnect()
                conn.send(len(held))
                return

            async def one(sem: asyncio.Semaphore) -> None:
                async with sem:
                    _, client = await ws_connect(
                        lambda: SioClient(stats, ("/",)), url, read_buffer_init_size=1024
                    )
                    assert isinstance(client, SioClient)
                    await asyncio.wait_for(client.ready, 30)
                    held.append(client)

            lanes = asyncio.Semaphore(64)
            await asyncio.gather(*(one(lanes) for _ in range(count)))
            conn.send(len(held))

    uvloop.run(run())


async def measure(connections: int, frames: int, warmup: int = 100) -> dict[str, Any]:
    """Open ``warmup`` then ``connections`` idle connections; per-connection figures."""
    import plexio
    from bench.servers.plexio_server import _attach
    from plexio.native import serve

    sio = plexio.Server(cors_allowed_origins="*", per_message_deflate=True)
    _attach(sio, sio)
    port_ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    server = asyncio.ensure_future(serve(sio, "127.0.0.1", 0, ready=port_ready.set_result))
    port = await port_ready
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(
        target=_clients, args=(child, f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket")
    )
    proc.start()
    loop = asyncio.get_running_loop()

    async def ask(command: str, count: int) -> int:
        parent.send((command, count))
        return int(await loop.run_in_executor(None, parent.recv))

    try:
        await ask("open", warmup)
        await asyncio.sleep(0.5)
        gc.collect()
        tracemalloc.start(frames)
        rss0 = rss_bytes(os.getpid())
        before = tracemalloc.take_snapshot()
        await ask("open", connections)
        await asyncio.sleep(1.0)
        gc.collect()
        after = tracemalloc.take_snapshot()
        rss1 = rss_bytes(os.getpid())
        traced_total = sum(s.size_diff for s in after.compare_to(before, "filename"))
        sites = after.compare_to(before, "traceback" if frames > 1 else "lineno")
        tracemalloc.stop()
        await ask("close", 0)
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
        server.cancel()
        try:
            await server
        except asyncio.CancelledError:
            pass
    return {
        "connections": connections,
        "rss_kb_per_connection": (rss1 - rss0) / 1024 / connections,
        "traced_bytes_per_connection": traced_total / connections,
        "sites": [
            {
                "where": [f"{f.filename}:{f.lineno}" for f in stat.traceback],
                "bytes_per_connection": stat.size_diff / connections,
                "blocks_per_connection": stat.count_diff / connections,
            }
            for stat in sites
            if stat.size_diff > 0
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.micro.idle_memory", description=__doc__)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--frames", type=int, default=1)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    raise_nofile_limit()
    import uvloop

    figures = uvloop.run(measure(args.connections, args.frames))
    print(
        f"{figures['connections']} idle connections: RSS {figures['rss_kb_per_connection']:.2f} "
        f"KB each, traced by tracemalloc {figures['traced_bytes_per_connection']:.0f} bytes each"
    )
    for site in figures["sites"][: args.top]:
        where = " <- ".join(site["where"])
        print(
            f"{site['bytes_per_connection']:8.1f} B {site['blocks_per_connection']:5.2f} blocks"
            f"  {where}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
