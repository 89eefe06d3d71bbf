"""Compression with the official socket.io-client 4.8 (Node): permessage-deflate over the
``ws`` package against plexio's native listener, and gzip long-polling over fetch."""

from __future__ import annotations

from typing import Any

import pytest
from tests.helpers.node import run_node_script
from tests.helpers.servers import running_native, running_uvicorn

import plexio

pytestmark = pytest.mark.interop


def server(**options: Any) -> plexio.Server:
    sio = plexio.Server(**options)  # type: ignore[arg-type]

    @sio.on("data")
    def data(socket: plexio.ServerSocket, size: int) -> None:
        socket.emit("data", "x" * size)

    @sio.on("plain")
    def plain(socket: plexio.ServerSocket, size: int) -> None:
        socket.compress(False).emit("data", "x" * size)

    return sio


def by_name(lines: list[Any]) -> dict[str, dict[str, Any]]:
    return {line["name"]: line for line in lines if line.get("event") == "got"}


async def test_permessage_deflate_with_the_official_client() -> None:
    async with running_native(server(per_message_deflate=True)) as running:
        env = {"SERVER_URL": running.http_url, "TRANSPORT": "websocket"}
        lines = await run_node_script("compression_client.js", env=env, timeout=60)
    assert "permessage-deflate" in lines[0]["extensions"]
    got = by_name(lines)
    assert got["data"]["intact"] and got["plain"]["intact"]
    assert got["data"]["bytes_read"] < 500  # 5000 characters arrived compressed
    assert got["plain"]["bytes_read"] > 5000  # compress(False): as they are


async def test_permessage_deflate_off_by_default_with_the_official_client() -> None:
    async with running_native(server()) as running:
        env = {"SERVER_URL": running.http_url, "TRANSPORT": "websocket"}
        lines = await run_node_script("compression_client.js", env=env, timeout=60)
    assert not lines[0]["extensions"]
    assert by_name(lines)["data"]["bytes_read"] > 5000


@pytest.mark.parametrize("shell", ["native", "uvicorn"])
async def test_compressed_polling_with_the_official_client(shell: str) -> None:
    accepted: list[str] = []

    def note(request: Any) -> bool:
        accepted.append(request.headers.get("accept-encoding", ""))
        return True

    sio = server(allow_request=note)
    runner = running_native(sio) if shell == "native" else running_uvicorn(plexio.ASGIApp(sio))
    async with runner as running:
        env = {"SERVER_URL": running.http_url, "TRANSPORT": "fetch"}
        lines = await run_node_script("compression_client.js", env=env, timeout=60)
    assert "gzip" in accepted[0]  # fetch asks for it, so large responses were compressed
    got = by_name(lines)
    assert got["data"]["intact"] and got["plain"]["intact"]
