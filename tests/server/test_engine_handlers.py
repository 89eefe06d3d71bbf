"""A bare EngineServer's handler, as users write it: sync or async methods, both work."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect

import plexio
from tests.helpers.servers import running_uvicorn
from tests.server.conftest import Serve
from tests.server.raw import raw_socketio


class AsyncEcho:
    """Every method of the other kind than the server calls it with."""

    def __init__(self) -> None:
        self.connected: list[str] = []
        self.gone: list[str] = []

    def on_connect(self, socket: plexio.EngineSocket) -> None:  # plain, not async
        self.connected.append(socket.sid)

    async def on_message(self, socket: plexio.EngineSocket, data: str | bytes) -> None:
        await asyncio.sleep(0)  # really suspends
        socket.send(data)

    async def on_disconnect(self, socket: plexio.EngineSocket, reason: str) -> None:
        self.gone.append(reason)


async def test_async_on_message_and_sync_on_connect_both_work() -> None:
    handler = AsyncEcho()
    app = plexio.ASGIApp(plexio.EngineServer(handler))
    async with running_uvicorn(app) as running:
        url = f"{running.ws_url}/engine.io/?EIO=4&transport=websocket"
        async with connect(url) as ws:
            assert str(await ws.recv()).startswith('0{"sid"')
            for text in ("a", "b", "c"):
                await ws.send("4" + text)
            await ws.send(b"\x01\x02")
            got = [await asyncio.wait_for(ws.recv(), 5) for _ in range(4)]
            assert got == ["4a", "4b", "4c", b"\x01\x02"]
        for _ in range(100):  # bounded wait for the disconnect handler's task
            if handler.gone:
                break
            await asyncio.sleep(0.02)
    assert len(handler.connected) == 1 and handler.gone == ["transport close"]


def test_handler_shapes_are_checked_when_the_server_is_made() -> None:
    class NoMessage:
        async def on_connect(self, socket: plexio.EngineSocket) -> None: ...
        def on_disconnect(self, socket: plexio.EngineSocket, reason: str) -> None: ...

    class WrongMessage(NoMessage):
        def on_message(self, data: str) -> None: ...

    with pytest.raises(TypeError, match=r"on_message\(socket, data\)"):
        plexio.EngineServer(NoMessage())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"cannot be called as on_message\(socket, data\)"):
        plexio.EngineServer(WrongMessage())  # type: ignore[arg-type]


async def test_js_style_middlewares_fail_at_registration_showing_the_right_signature(
    serve: Serve,
) -> None:
    sio = plexio.Server()

    with pytest.raises(TypeError, match=r"cannot be called as middleware\(socket\)"):

        @sio.use  # type: ignore[type-var]
        def auth(socket: plexio.ServerSocket, next: object) -> None: ...

    refused: list[str] = []

    @sio.on("connection")
    def connected(socket: plexio.ServerSocket) -> None:
        try:
            socket.use(lambda packet, next: next())  # type: ignore[misc]
        except TypeError as exc:
            refused.append(str(exc))
        socket.use(lambda packet: None)  # the right one

    sio.use(lambda socket: None)  # the right one
    running = await serve(sio)
    async with raw_socketio(running.ws_url) as raw:
        await raw.connect()
    assert len(refused) == 1
    assert "cannot be called as middleware(packet)" in refused[0]
    assert "There is no next(): return to let the packet through" in refused[0]
