"""The server harness itself: uvicorn/hypercorn in-loop and the restartable subprocess."""

from __future__ import annotations

import httpx
import pytest
import websockets

from tests.helpers.apps import hello_app, make_echo_engine
from tests.helpers.eio import RawEngineIO
from tests.helpers.servers import RunningServer, server_process


async def _check(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        response = await http.get("/some/path")
    assert response.status_code == 200
    assert response.text == "hello /some/path"
    async with websockets.connect(server.ws_url + "/ws") as ws:
        await ws.send("text")
        assert await ws.recv() == "text"
        await ws.send(b"\x00\xff")
        assert await ws.recv() == b"\x00\xff"


async def test_uvicorn_serves_on_a_free_port(serve_uvicorn) -> None:
    first = await serve_uvicorn(hello_app)
    second = await serve_uvicorn(hello_app)
    assert first.port != second.port
    await _check(first)
    await _check(second)


async def test_hypercorn_serves_on_a_free_port(serve_hypercorn) -> None:
    server = await serve_hypercorn(hello_app)
    assert server.port > 0
    await _check(server)


async def test_native_listener_serves_on_a_free_port(serve_native) -> None:
    echo = make_echo_engine()
    server = await serve_native(echo.app)
    eio = RawEngineIO(httpx.AsyncClient(base_url=server.http_url), server.ws_url)
    async with eio.http:
        await eio.assert_echoes()
    assert echo.handler.connected


async def test_subprocess_native_listener_restarts_on_same_port() -> None:
    async with server_process("tests.helpers.apps:echo_engine_app", server="native") as proc:
        port = proc.port
        for _ in range(2):
            running = proc.running
            async with httpx.AsyncClient(base_url=running.http_url) as http:
                await RawEngineIO(http, running.ws_url).assert_echoes()
            await proc.kill()
            await proc.start()
        assert proc.port == port


@pytest.mark.parametrize("kind", ["uvicorn", "hypercorn"])
async def test_subprocess_server_survives_kill_and_restart_on_same_port(kind: str) -> None:
    async with server_process("tests.helpers.apps:hello_app", server=kind) as proc:
        port = proc.port
        await _check(proc.running)
        await proc.kill()
        with pytest.raises(httpx.ConnectError):
            async with httpx.AsyncClient(base_url=proc.running.http_url) as http:
                await http.get("/")
        again = await proc.start()
        assert again.port == port
        await _check(again)
