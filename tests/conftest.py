"""Suite-wide fixtures (the logic lives in tests/helpers)."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.node import NodeServer, node_server
from tests.helpers.servers import (
    ASGIApp,
    RunningServer,
    ServerProcess,
    running_hypercorn,
    running_native,
    running_uvicorn,
    server_process,
)

StartServer = Callable[..., Awaitable[RunningServer]]


@pytest.fixture
async def serve_uvicorn() -> AsyncIterator[StartServer]:
    """Start ASGI apps under uvicorn on 127.0.0.1:0; all stop after the test.

    Call as ``server = await serve_uvicorn(app, **uvicorn_config)``.
    """
    async with contextlib.AsyncExitStack() as stack:

        async def start(app: ASGIApp, **config: Any) -> RunningServer:
            return await stack.enter_async_context(running_uvicorn(app, **config))

        yield start


@pytest.fixture
async def serve_hypercorn() -> AsyncIterator[StartServer]:
    """Like ``serve_uvicorn`` but under hypercorn."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(app: ASGIApp, **config: Any) -> RunningServer:
            return await stack.enter_async_context(running_hypercorn(app, **config))

        yield start


@pytest.fixture
async def serve_native() -> AsyncIterator[StartServer]:
    """Like ``serve_uvicorn`` but with plexio's native listener (no ``other_app``)."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(target: Any, **kwargs: Any) -> RunningServer:
            return await stack.enter_async_context(running_native(target, **kwargs))

        yield start


@pytest.fixture
async def serve_subprocess() -> AsyncIterator[Callable[..., Awaitable[ServerProcess]]]:
    """Serve ``module:factory`` in a subprocess that the test may kill and restart.

    Call as ``proc = await serve_subprocess("tests.helpers.apps:echo_engine_app",
    kwargs={...})``; ``await proc.kill()`` then ``await proc.start()`` reuses the port.
    """
    async with contextlib.AsyncExitStack() as stack:

        async def start(target: str, **kw: Any) -> ServerProcess:
            return await stack.enter_async_context(server_process(target, **kw))

        yield start


@pytest.fixture
async def start_node_sio_server() -> AsyncIterator[Callable[..., Awaitable[NodeServer]]]:
    """Start the official Node socket.io server (``tests/interop/js/sio_server.js``).

    Call as ``server = await start_node_sio_server(PING_INTERVAL="300")``; keyword
    arguments become environment variables (see the script's header). Its
    ``server.process`` reports server-side events as JSON lines.
    """
    async with contextlib.AsyncExitStack() as stack:

        async def start(**env: str) -> NodeServer:
            return await stack.enter_async_context(node_server("sio_server.js", env=env))

        yield start


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with openssl: ``(cert, key)`` files."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key
