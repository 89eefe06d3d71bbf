"""Fixtures for the server tests: a plexio Server under in-loop uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

import plexio
from tests.helpers.servers import RunningServer

Serve = Callable[[plexio.Server], Awaitable[RunningServer]]


@pytest.fixture
async def serve(serve_uvicorn: Any) -> AsyncIterator[Serve]:
    """``running = await serve(server)``: serves a Socket.IO server on 127.0.0.1:0."""

    async def start(server: plexio.Server) -> RunningServer:
        running: RunningServer = await serve_uvicorn(plexio.ASGIApp(server))
        return running

    yield start
