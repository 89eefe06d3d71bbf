"""Compression as Node does it: polling responses (gzip/deflate over 1 KB, on by default)
and WebSocket permessage-deflate (native listener, off by default); ``compress(False)``
is honoured by both."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import struct
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest

import plexio
from tests.helpers.servers import RunningServer, running_native, running_uvicorn


def chatty_server(**options: Any) -> plexio.Server:
    sio = plexio.Server(**options)

    @sio.on("data")
    def data(socket: plexio.ServerSocket, size: int) -> None:
        socket.emit("data", "x" * size)

    @sio.on("plain")
    def plain(socket: plexio.ServerSocket, size: int) -> None:
        socket.compress(False).emit("data", "x" * size)

    @sio.on("room")
    def room(socket: plexio.ServerSocket, size: int) -> None:
        socket.join("r")
        sio.to("r").compress(False).emit("data", "y" * size)

    return sio


SHELLS: dict[str, Callable[[plexio.Server], AbstractAsyncContextManager[RunningServer]]] = {
    "uvicorn": lambda sio: running_uvicorn(plexio.ASGIApp(sio)),
    "native": lambda sio: running_native(sio),
}


class Polling:
    def __init__(self, http: httpx.AsyncClient, accept: str | None) -> None:
        self.http = http
        self.headers = {"Accept-Encoding": accept} if accept is not None else {}
        self.sid = ""

    async def open(self) -> None:
        hello = await self.http.get("/socket.io/?EIO=4&transport=polling", headers=self.headers)
        self.sid = json.loads(hello.text[1:])["sid"]
        await self.post("40")
        assert (await self.get()).text.startswith("40")

    async def post(self, text: str) -> None:
        url = f"/socket.io/?EIO=4&transport=polling&sid={self.sid}"
        assert (await self.http.post(url, content=text)).status_code == 200

    async def get(self) -> httpx.Response:
        url = f"/socket.io/?EIO=4&transport=polling&sid={self.sid}"
        return await self.http.get(url, headers=self.headers)

    async def ask(self, event: str, size: int) -> httpx.Response:
        await self.post(f'42["{event}",{size}]')
        return await self.get()


@pytest.mark.parametrize("shell", sorted(SHELLS))
async def test_polling_responses_are_compressed_as_node_does(shell: str) -> None:
    async with SHELLS[shell](chatty_server()) as running:
        async with httpx.AsyncClient(base_url=running.http_url) as http:
            for accept, coding in [("gzip, deflate", "gzip"), ("deflate", "deflate")]:
                client = Polling(http, accept)
                await client.open()
                big = await client.ask("data", 5000)
                assert big.headers["content-encoding"] == coding
                assert int(big.headers["content-length"]) < 1000  # really smaller
                assert big.text == '42["data","' + "x" * 5000 + '"]'  # httpx decoded it
                small = await client.ask("data", 100)  # under the 1 KB threshold
                assert "content-encoding" not in small.headers
                plain = await client.ask("plain", 5000)  # socket.compress(False)
                assert "content-encoding" not in plain.headers
                assert plain.text == '42["data","' + "x" * 5000 + '"]'
                room = await client.ask("room", 5000)  # a broadcast with compress(False)
                assert "content-encoding" not in room.headers
            for accept in ("identity", "br", "gzip;q=0"):  # (httpx adds gzip if unset)
                client = Polling(http, accept)
                await client.open()
                assert "content-encoding" not in (await client.ask("data", 5000)).headers


async def test_http_compression_can_be_turned_off() -> None:
    sio = chatty_server(http_compression=False)
    async with running_uvicorn(plexio.ASGIApp(sio)) as running:
        async with httpx.AsyncClient(base_url=running.http_url) as http:
            client = Polling(http, "gzip")
            await client.open()
            assert "content-encoding" not in (await client.ask("data", 5000)).headers


# ---------------------------------------------------------------- permessage-deflate


class RawWebSocket:
    """A client WebSocket written by hand, to see each frame's RSV1 (compressed) bit."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.inflater = zlib.decompressobj(-15)  # the client keeps its context

    def send(self, text: str) -> None:
        payload = text.encode()
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        assert len(payload) < 126
        self.writer.write(bytes((0x81, 0x80 | len(payload))) + mask + masked)

    async def recv(self) -> tuple[bool, str]:
        """(compressed, text) of the next text frame."""
        head = await self.reader.readexactly(2)
        size = head[1] & 0x7F
        if size == 126:
            size = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif size == 127:
            size = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        payload = await self.reader.readexactly(size)
        compressed = bool(head[0] & 0x40)
        if compressed:
            payload = self.inflater.decompress(payload + b"\x00\x00\xff\xff")
        return compressed, payload.decode()


@contextlib.asynccontextmanager
async def raw_websocket(
    running: RunningServer, offer: str | None
) -> AsyncIterator[tuple[RawWebSocket, str | None]]:
    reader, writer = await asyncio.open_connection(running.host, running.port)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1",
        f"Host: {running.host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if offer:
        lines.append(f"Sec-WebSocket-Extensions: {offer}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).decode().lower()
    assert head.startswith("http/1.1 101")
    extensions = None
    for line in head.split("\r\n"):
        if line.startswith("sec-websocket-extensions:"):
            extensions = line.split(":", 1)[1].strip()
    try:
        yield RawWebSocket(reader, writer), extensions
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def test_native_permessage_deflate_when_turned_on() -> None:
    sio = chatty_server(per_message_deflate=True)
    async with running_native(sio) as running:
        async with raw_websocket(running, "permessage-deflate; client_max_window_bits") as (
            ws,
            extensions,
        ):
            assert extensions is not None and extensions.startswith("permessage-deflate")
            assert "server_no_context_takeover" in extensions
            assert (await asyncio.wait_for(ws.recv(), 5))[1].startswith("0{")
            ws.send("40")
            assert (await asyncio.wait_for(ws.recv(), 5))[1].startswith("40")
            for _ in range(2):  # each message compressed on its own
                ws.send('42["data",5000]')
                assert await asyncio.wait_for(ws.recv(), 5) == (
                    True,
                    '42["data","' + "x" * 5000 + '"]',
                )
            ws.send('42["data",100]')  # under the threshold
            assert (await asyncio.wait_for(ws.recv(), 5))[0] is False
            ws.send('42["plain",5000]')  # compress(False)
            assert await asyncio.wait_for(ws.recv(), 5) == (
                False,
                '42["data","' + "x" * 5000 + '"]',
            )
            ws.send('42["room",5000]')  # broadcast with compress(False)
            assert (await asyncio.wait_for(ws.recv(), 5))[0] is False


async def test_native_permessage_deflate_is_off_by_default() -> None:
    async with running_native(chatty_server()) as running:
        async with raw_websocket(running, "permessage-deflate") as (ws, extensions):
            assert extensions is None
            assert (await asyncio.wait_for(ws.recv(), 5))[1].startswith("0{")
            ws.send("40")
            await asyncio.wait_for(ws.recv(), 5)
            ws.send('42["data",5000]')
            assert (await asyncio.wait_for(ws.recv(), 5))[0] is False


async def test_compressed_frames_from_the_client_are_inflated() -> None:
    # the python websockets client compresses what it sends once deflate is negotiated
    from websockets.asyncio.client import connect

    got: list[Any] = []
    sio = plexio.Server(per_message_deflate=True)

    @sio.on("big")
    def big(socket: plexio.ServerSocket, text: str) -> int:
        got.append(text)
        return len(text)

    async with running_native(sio) as running:
        url = f"{running.ws_url}/socket.io/?EIO=4&transport=websocket"
        async with connect(url, compression="deflate") as ws:
            assert "permessage-deflate" in str(ws.response.headers["Sec-WebSocket-Extensions"])
            await ws.recv()
            await ws.send("40")
            await ws.recv()
            await ws.send('421["big","' + "z" * 20000 + '"]')
            assert await asyncio.wait_for(ws.recv(), 5) == "431[20000]"
    assert got == ["z" * 20000]
