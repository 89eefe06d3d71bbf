"""``plexio.run`` as a user runs it: a script in a subprocess, a real client.

"A plain install" is simulated by hiding the ``fast`` extra (httptools, uvloop) and
uvicorn from the script (``sys.modules[name] = None`` makes them uninstallable).
"""

from __future__ import annotations

import asyncio
import os
import re
import ssl
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx
import pytest

import plexio

REPO = Path(__file__).resolve().parents[1]

_HIDE = "import sys\nfor _name in {hidden!r}:\n    sys.modules[_name] = None\n"

SERVER = """
import plexio

sio = plexio.Server()

@sio.on("echo")
def echo(socket, text):
    return text

plexio.run(sio, port=0, ready=lambda port: print("PORT", port, flush=True), {options})
"""


def script(tmp_path: Path, body: str, hidden: Sequence[str] = ()) -> Path:
    path = tmp_path / "app.py"
    path.write_text(_HIDE.format(hidden=tuple(hidden)) + textwrap.dedent(body))
    return path


class Started:
    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc = proc
        self.port = port


async def start(
    path: Path, pattern: str = r"PORT (\d+)", *, stops_itself: bool = False
) -> AsyncIterator[Started]:
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-W",
        "error",
        str(path),
        cwd=path.parent,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(20):
            while True:
                line = (await proc.stdout.readline()).decode()
                if not line:
                    raise AssertionError("server exited:\n" + "".join(seen))
                seen.append(line)
                found = re.search(pattern, line)
                if found:
                    break
        yield Started(proc, int(found.group(1)))
        assert stops_itself or proc.returncode is None, "".join(seen)
    finally:
        if proc.returncode is None:
            proc.terminate()
        rest = await proc.stdout.read()
        await proc.wait()
        text = "".join(seen) + rest.decode()
        assert "Warning" not in text, text


async def echo_through(port: int) -> object:
    sock = await plexio.connect(f"http://127.0.0.1:{port}", force_new=True, timeout=10)
    try:
        return await sock.timeout(10).emit_with_ack("echo", "hi")
    finally:
        await sock.disconnect()


async def test_plain_install_runs_the_native_listener(tmp_path: Path) -> None:
    path = script(tmp_path, SERVER.format(options=""), hidden=("httptools", "uvloop", "uvicorn"))
    async for server in start(path):
        assert await echo_through(server.port) == "hi"


async def test_fast_extra_is_used_when_asked(tmp_path: Path) -> None:
    body = SERVER.format(options='loop="uvloop", http="httptools", backlog=16')
    async for server in start(script(tmp_path, body)):
        assert await echo_through(server.port) == "hi"


@pytest.mark.parametrize(
    ("options", "hidden", "message"),
    [
        ('loop="uvloop"', ("uvloop",), "pip install 'plexio[fast]'"),
        ('http="httptools"', ("httptools",), "pip install 'plexio[fast]'"),
        ('server="uvicorn"', ("uvicorn",), "pip install 'plexio[uvicorn]'"),
    ],
)
def test_missing_extra_asked_for_names_it(
    tmp_path: Path, options: str, hidden: tuple[str, ...], message: str
) -> None:
    path = script(tmp_path, SERVER.format(options=options), hidden=hidden)
    done = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("RuntimeError:") and message in last, done.stderr


async def test_uvicorn_without_deprecated_backend_and_with_its_options(tmp_path: Path) -> None:
    body = """
    import plexio

    sio = plexio.Server()

    @sio.on("echo")
    def echo(socket, text):
        return text

    plexio.run(sio, port=0, server="uvicorn", backlog=16, log_level="info",
               uvicorn_options={"timeout_keep_alive": 3, "ws_max_size": 100_000})
    """
    # -W error: uvicorn's deprecated "websockets" backend would stop the server at once
    async for server in start(script(tmp_path, body), r"running on http://127.0.0.1:(\d+)"):
        assert await echo_through(server.port) == "hi"


def test_native_refuses_an_asgi_app_with_other_app() -> None:
    async def web(scope: object, receive: object, send: object) -> None:
        raise AssertionError("never called")

    app = plexio.ASGIApp(plexio.Server(), other_app=web)
    with pytest.raises(TypeError, match="server='uvicorn'"):
        plexio.run(app, port=0)


async def test_native_listener_serves_tls(tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    options = f"ssl_certfile={str(cert)!r}, ssl_keyfile={str(key)!r}"
    async for server in start(script(tmp_path, SERVER.format(options=options))):
        trust = ssl.create_default_context(cafile=str(cert))
        async with httpx.AsyncClient(verify=trust) as http:
            url = f"https://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=polling"
            answer = await http.get(url)
        assert answer.status_code == 200
        assert answer.text.startswith('0{"sid":')


def test_uvicorn_gets_plexio_limits() -> None:
    from plexio.runner import uvicorn_limits

    app = plexio.ASGIApp(plexio.Server(max_http_buffer_size=50_000, handshake_timeout=7.0))
    assert uvicorn_limits(app) == {"ws_max_size": 50_000, "timeout_keep_alive": 7.0}


def test_uvicorn_settings_choose_the_cheapest_websocket_and_no_second_heartbeat() -> None:
    from plexio.native.uvicorn import WebSocketProtocol
    from plexio.runner import _uvicorn_settings

    sio = plexio.Server()
    _, settings = _uvicorn_settings(
        sio, "127.0.0.1", 0, "asyncio", "auto", 100, (None, None, None), "warning", {}
    )
    assert settings["ws"] is WebSocketProtocol  # plexio's own protocol for uvicorn
    assert settings["ws_ping_interval"] is None  # Engine.IO's heartbeat is enough
    assert settings["ws_per_message_deflate"] is False  # as the server's option says
    _, overridden = _uvicorn_settings(
        sio,
        "127.0.0.1",
        0,
        "asyncio",
        "auto",
        100,
        (None, None, None),
        "warning",
        {"ws_ping_interval": 5.0, "ws": "websockets-sansio"},
    )
    assert overridden["ws_ping_interval"] == 5.0  # uvicorn_options win
    assert overridden["ws"] == "websockets-sansio"


def test_workers_must_be_a_positive_integer() -> None:
    sio = plexio.Server()
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValueError, match="workers must be a positive integer"):
            plexio.run(sio, workers=bad)  # type: ignore[arg-type]


async def test_sigterm_shuts_the_native_listener_down_gracefully(tmp_path: Path) -> None:
    import signal

    import websockets

    options = "shutdown_timeout=5"
    body = SERVER.replace("plexio.Server()", f"plexio.Server({options})").format(options="")
    async for server in start(script(tmp_path, body), stops_itself=True):
        url = f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket"
        async with websockets.connect(url) as ws:
            assert str(await ws.recv()).startswith("0{")
            await ws.send("40")
            assert str(await ws.recv()).startswith("40{")
            server.proc.send_signal(signal.SIGTERM)
            # closed by the server with the close frame alone, as Node's io.close()
            with pytest.raises(websockets.ConnectionClosedOK):
                await asyncio.wait_for(ws.recv(), 5)
            assert await asyncio.wait_for(server.proc.wait(), 5) == 0


async def test_uvicorn_serves_tls_from_run(tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    body = f"""
    import plexio

    plexio.run(plexio.Server(), port=0, server="uvicorn", log_level="info",
               ssl_certfile={str(cert)!r}, ssl_keyfile={str(key)!r})
    """
    async for server in start(script(tmp_path, body), r"running on https://127.0.0.1:(\d+)"):
        trust = ssl.create_default_context(cafile=str(cert))
        async with httpx.AsyncClient(verify=trust) as http:
            url = f"https://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=polling"
            answer = await http.get(url)
        assert answer.status_code == 200 and answer.text.startswith('0{"sid":')


@pytest.mark.parametrize("server", ["native", "uvicorn"])
async def test_ready_once_listening_with_startup_objects_frozen(
    tmp_path: Path, server: str
) -> None:
    body = f"""
    import gc

    import plexio

    def ready(port):
        print("PORT", port, "FROZEN", gc.get_freeze_count(), flush=True)

    plexio.run(plexio.Server(), port=0, server={server!r}, ready=ready)
    """
    async for started in start(script(tmp_path, body), r"PORT (\d+) FROZEN [1-9]"):
        async with httpx.AsyncClient() as client:
            url = f"http://127.0.0.1:{started.port}/socket.io/?EIO=4&transport=polling"
            assert (await client.get(url)).text.startswith("0{")
