"""Graceful shutdown seen by the official socket.io-client 4.8 (with reconnection on).

Server A is shut down (its listener task cancelled, as SIGTERM does in ``plexio.run``)
while handlers are running: their acks reach the client, the client is told the
connection ended and reconnects, to server B started on the same port.

And the same client watches the reference server's ``io.close()`` (socket.io 4.8):
what it receives and the reason it reports are what it gets from plexio's shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tests.helpers.node import NodeProcess, node_process

import plexio
from plexio.native import serve


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _shutdown_seen_by_client(client: NodeProcess) -> list[dict[str, Any]]:
    """What the client got after its last ack: Engine.IO packets (but pings), then
    the disconnect (its reason, and the WebSocket close code)."""
    seen: list[dict[str, Any]] = []
    while True:
        line, _ = await client.read_until(
            lambda v: isinstance(v, dict) and v.get("event") in ("packet", "disconnect"), 10
        )
        assert isinstance(line, dict)
        seen.append(line)
        if line["event"] == "disconnect":
            return seen


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
        # no Socket.IO DISCONNECT (the client would report "io server disconnect" and
        # not reconnect), and over WebSocket no Engine.IO close packet: as Node
        assert not [p for p in client.lines if p.get("event") == "packet" and p["type"] == "close"]
        assert reasons_a == ["server shutting down"]
        assert took < 5.0  # well within shutdown_timeout
        async with serving(_server("B", reasons_b, delay=0), port):
            await client.read_event("connect", timeout=15)
            await client.send_json({"cmd": "emit", "event": "work", "arg": 9})
            assert (await client.read_event("ack"))["reply"] == "B:9"


@pytest.mark.parametrize("transports", ["websocket", "polling"])
async def test_the_official_client_sees_plexio_shut_down_as_node_closes(transports: str) -> None:
    """Over polling Node answers the GET held at that moment with the close packet;
    with none held (just after an answer) it forgets the session at once and the
    client's next GET fails ("transport error": 400, or refused once the port is
    closed). plexio waits for that GET and answers it with the close packet, so its
    client always reports "transport close". The scenario waits for the GET to be
    held, the case where both behave alike."""
    seen: dict[str, list[dict[str, Any]]] = {}
    for kind in ("node", "plexio"):
        port = _free_port()
        env = {"SERVER_URL": f"http://127.0.0.1:{port}", "TRANSPORTS": transports}
        if kind == "node":
            async with node_process("shutdown_server.js", env={"PORT": str(port)}) as node:
                await node.read_until(lambda v: isinstance(v, dict) and "port" in v, 10)
                async with node_process("shutdown_client.js", env=env, timeout=30) as client:
                    await client.read_event("connect")
                    await client.send_json({"cmd": "emit", "event": "work", "arg": 1})
                    assert (await client.read_event("ack"))["reply"] == "node:1"
                    await asyncio.sleep(0.3)  # see below: polling, the next GET is held
                    await node.send_json({"cmd": "close"})
                    seen[kind] = await _shutdown_seen_by_client(client)
                    assert (await node.read_event("disconnect"))["reason"] == "server shutting down"
        else:
            reasons: list[str] = []
            async with node_process("shutdown_client.js", env=env, timeout=30) as client:
                async with serving(_server("plexio", reasons, delay=0), port) as task:
                    await client.read_event("connect")
                    await client.send_json({"cmd": "emit", "event": "work", "arg": 1})
                    assert (await client.read_event("ack"))["reply"] == "plexio:1"
                    await asyncio.sleep(0.3)
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                seen[kind] = await _shutdown_seen_by_client(client)
            assert reasons == ["server shutting down"]
    # Node's ws closes with an empty close frame (read as 1005); plexio sends 1000, the
    # one code an ASGI server can send too. Everything else is the same.
    node_close, plexio_close = seen["node"][-1], seen["plexio"][-1]
    if transports == "websocket":
        assert (node_close["code"], plexio_close["code"]) == (1005, 1000)
    assert plexio_close | {"code": None} == node_close | {"code": None}
    assert node_close["reason"] == "transport close"
    # no packet before the end: no Socket.IO DISCONNECT, no Engine.IO close over
    # WebSocket (over polling the close packet ends the poll, which the client's
    # transport takes in and never reports as a packet)
    assert seen["plexio"][:-1] == seen["node"][:-1] == []
