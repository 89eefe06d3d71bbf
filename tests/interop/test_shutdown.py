"""Graceful shutdown seen by the official socket.io-client 4.8 (with reconnection on).

Server A is shut down (its listener task cancelled, as SIGTERM does in ``plexio.run``)
while handlers are running: their acks reach the client, the client is told the
connection ended and reconnects, to server B started on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator

import pytest
from tests.helpers.node import node_process

import plexio
from plexio.native import serve


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server(name: str, reasons: list[str], delay: float) -> plexio.Server:
    sio = plexio.Server(shutdown_timeout=5.0)

    @sio.on("work")
    async def work(sock: plexio.ServerSocket, n: int) -> str:
        await asyncio.sleep(delay)  # in flight when the shutdown starts
        return f"{name}:{n}"

    @sio.on("disconnect")
    def gone(sock: plexio.ServerSocket, reason: str) -> None:
        reasons.append(reason)

    return sio


@contextlib.asynccontextmanager
async def serving(sio: plexio.Server, port: int) -> AsyncIterator[asyncio.Task[None]]:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[int] = loop.create_future()
    task = loop.create_task(serve(sio, "127.0.0.1", port, ready=ready.set_result))
    await asyncio.wait_for(ready, 5)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.parametrize("transports", ["websocket", "polling"])
async def test_official_client_gets_its_acks_and_reconnects_to_the_next_server(
    transports: str,
) -> None:
    port = _free_port()
    reasons_a: list[str] = []
    reasons_b: list[str] = []
    env = {"SERVER_URL": f"http://127.0.0.1:{port}", "TRANSPORTS": transports}
    async with node_process("shutdown_client.js", env=env, timeout=60) as client:
        async with serving(_server("A", reasons_a, delay=0.5), port) as a:
            await client.read_event("connect")
            for n in range(5):
                await client.send_json({"cmd": "emit", "event": "work", "arg": n})
            await asyncio.sleep(0.2)  # the five handlers are running
            started = time.monotonic()
            a.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await a
            took = time.monotonic() - started
        acks = [await client.read_event("ack", timeout=3) for _ in range(5)]
        assert sorted(a["reply"] for a in acks) == [f"A:{n}" for n in range(5)]
        gone = await client.read_event("disconnect")
        assert gone["reason"] == "transport close"  # so the official client reconnects
        assert reasons_a == ["server shutting down"]
        assert took < 5.0  # well within shutdown_timeout
        async with serving(_server("B", reasons_b, delay=0), port):
            await client.read_event("connect", timeout=15)
            await client.send_json({"cmd": "emit", "event": "work", "arg": 9})
            assert (await client.read_event("ack"))["reply"] == "B:9"
