"""plexio's ASGIApp mounted as a sub-app, as users do it, under three ASGI servers.

FastAPI's and Starlette's ``mount("/rt", ...)`` and a plain ASGI router, each served by
uvicorn, hypercorn and granian, with the web app on the same port; plus uvicorn's
``root_path`` (behind a proxy that strips the prefix).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

import plexio
from tests.asgi import mounted
from tests.helpers.servers import RunningServer, running_hypercorn, running_uvicorn

REPO = Path(__file__).resolve().parents[2]

APPS = {
    "fastapi": ("fastapi_app", mounted.make_fastapi, "hello from FastAPI"),
    "starlette": ("starlette_app", mounted.make_starlette, "hello from Starlette"),
    "plain": ("plain_router", mounted.make_plain_router, "hello from a plain router"),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def running_granian(target: str) -> AsyncIterator[RunningServer]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--log-level",
        "warning",
        target,
        cwd=REPO,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        async with asyncio.timeout(20):
            while True:  # until granian accepts connections
                assert proc.returncode is None, "granian exited"
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    await asyncio.sleep(0.05)
                    continue
                writer.close()
                break
        yield RunningServer(port=port)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            async with asyncio.timeout(10):
                await proc.wait()
        except TimeoutError:
            os.killpg(proc.pid, 9)
            await proc.wait()


def server_for(
    kind: str, app_name: str, make: Callable[[], Any]
) -> AbstractAsyncContextManager[RunningServer]:
    if kind == "uvicorn":
        return running_uvicorn(make())  # a fresh app: a server lives in one event loop
    if kind == "hypercorn":
        return running_hypercorn(make())
    return running_granian(f"tests.asgi.mounted:{app_name}")


async def echo(url: str, path: str, transports: list[str]) -> Any:
    sock = await plexio.connect(
        url,
        force_new=True,
        timeout=10,
        path=path,
        transports=transports,
        reconnection=False,
    )
    try:
        return await sock.timeout(10).emit_with_ack("echo", {"n": 1})
    finally:
        await sock.disconnect()


@pytest.mark.parametrize("server", ["uvicorn", "hypercorn", "granian"])
@pytest.mark.parametrize("app", sorted(APPS))
async def test_mounted_under_rt_beside_the_web_app(server: str, app: str) -> None:
    app_name, make, greeting = APPS[app]
    async with server_for(server, app_name, make) as running:
        for transports in (["polling"], ["websocket"], ["polling", "websocket"]):
            assert await echo(running.http_url, "/rt/socket.io/", transports) == {"n": 1}
        async with httpx.AsyncClient(base_url=running.http_url) as http:
            assert greeting in (await http.get("/hello")).text
            # the bare Socket.IO path is the web app's, not plexio's
            assert (await http.get("/socket.io/?EIO=4&transport=polling")).status_code == 404


async def test_uvicorn_root_path_behind_a_stripping_proxy() -> None:
    # The proxy maps https://site/rt/... to this server's /...; uvicorn --root-path /rt
    # tells the app so, and the app serves its own path below that root.
    app = plexio.ASGIApp(mounted.echo_server())
    async with running_uvicorn(app, root_path="/rt") as running:
        for transports in (["polling"], ["websocket"]):
            assert await echo(running.http_url, "/socket.io/", transports) == {"n": 1}


async def test_two_servers_on_one_port_engineio_and_socketio() -> None:
    # Bare Engine.IO at /engine.io/ and Socket.IO at /socket.io/, one ASGIApp in the other.
    class Echo:
        async def on_connect(self, socket: plexio.EngineSocket) -> None:
            pass

        def on_message(self, socket: plexio.EngineSocket, data: str | bytes) -> None:
            socket.send(data)

        def on_disconnect(self, socket: plexio.EngineSocket, reason: str) -> None:
            pass

    engine_app = plexio.ASGIApp(plexio.EngineServer(Echo()))
    app = plexio.ASGIApp(mounted.echo_server(), other_app=engine_app)
    async with running_uvicorn(app) as running:
        assert await echo(running.http_url, "/socket.io/", ["websocket"]) == {"n": 1}
        async with httpx.AsyncClient(base_url=running.http_url) as http:
            opened = await http.get("/engine.io/?EIO=4&transport=polling")
            assert opened.status_code == 200 and opened.text.startswith('0{"sid"')
