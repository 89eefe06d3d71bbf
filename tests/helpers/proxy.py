"""A TCP proxy on 127.0.0.1 that delays what a server sends on its WebSocket connections.

Used to reproduce timing a real network produces: the WebSocket ``3probe`` reaching a
client later than polling responses sent after it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

__all__ = ["delaying_websocket_proxy"]

_CHUNK = 65536


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copies ``reader`` to ``writer``, each chunk ``delay`` seconds after it arrived
    (in order)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def forward() -> None:
        while True:
            due, chunk = await queue.get()
            if not chunk:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(chunk)
            await writer.drain()
        writer.close()

    sender = asyncio.create_task(forward())
    try:
        while True:
            chunk = await reader.read(_CHUNK)
            queue.put_nowait((loop.time() + delay, chunk))
            if not chunk:
                break
        await sender
    except (ConnectionError, asyncio.CancelledError):
        sender.cancel()
        raise
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def delaying_websocket_proxy(target_port: int, delay: float) -> AsyncIterator[int]:
    """Serves a proxy to ``127.0.0.1:target_port``; yields its port.

    Args:
        target_port: the server's port.
        delay: seconds by which server-to-client data is held on connections whose
            first request asks for a WebSocket upgrade (others pass at once).
    """
    tasks: set[asyncio.Task[None]] = set()

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            head = await client_r.read(_CHUNK)
            server_r, server_w = await asyncio.open_connection("127.0.0.1", target_port)
        except (ConnectionError, OSError):
            client_w.close()
            return
        is_ws = b"upgrade: websocket" in head.lower()
        server_w.write(head)
        up = asyncio.create_task(_pump(client_r, server_w, 0.0))
        down = asyncio.create_task(_pump(server_r, client_w, delay if is_ws else 0.0))
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            await asyncio.gather(up, down)

    def start(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(handle(client_r, client_w))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(start, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
