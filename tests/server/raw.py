"""A Socket.IO v5 client written by hand, frame by frame, for bad-input tests.

:class:`RawSocketIO` opens one Engine.IO WebSocket session with the ``websockets``
library and sends whatever text or binary frames a test wants (valid or not), so the
tests see exactly what plexio's server answers. Pings are answered on the way.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

__all__ = ["RawSocketIO", "assert_clean", "eventually", "raw_socketio"]


class RawSocketIO:
    """One Engine.IO WebSocket session speaking Socket.IO by hand.

    Attributes:
        ws: the WebSocket.
        open_info: the parsed Engine.IO OPEN packet.
        frames: every frame received so far except pings.
    """

    def __init__(self, ws: ClientConnection, open_info: dict[str, Any]) -> None:
        self.ws = ws
        self.open_info = open_info
        self.frames: list[str | bytes] = []

    @property
    def sid(self) -> str:
        """The Engine.IO session id."""
        return str(self.open_info["sid"])

    async def send(self, *frames: str | bytes) -> None:
        """Sends raw Engine.IO frames (``"42[...]"``, ``b"..."``)."""
        for frame in frames:
            await self.ws.send(frame)

    async def recv(self, timeout: float = 5.0) -> str | bytes:
        """The next frame that is not a ping (pings are answered)."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.ws.recv()
                if frame == "2":
                    await self.ws.send("3")
                    continue
                self.frames.append(frame)
                return frame

    async def recv_json(self, prefix: str, timeout: float = 5.0) -> Any:
        """The next frame, which must start with ``prefix``; returns the JSON after it."""
        frame = await self.recv(timeout)
        assert isinstance(frame, str) and frame.startswith(prefix), (prefix, frame)
        return json.loads(frame[len(prefix) :])

    async def connect(self, nsp: str = "/", auth: dict[str, Any] | None = None) -> str:
        """Joins ``nsp``; returns the Socket.IO socket id."""
        head = "40" if nsp == "/" else f"40{nsp},"
        await self.send(head + (json.dumps(auth) if auth is not None else ""))
        reply = await self.recv_json(head)
        return str(reply["sid"])

    async def silent(self, seconds: float) -> list[str | bytes]:
        """Frames (not pings) received within ``seconds``; the session must stay open."""
        got: list[str | bytes] = []
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (left := end - loop.time()) > 0:
            try:
                got.append(await self.recv(left))
            except TimeoutError:
                break
        return got

    async def closed(self, timeout: float = 5.0) -> list[str | bytes]:
        """Reads until the server closes the WebSocket.

        Returns:
            The frames seen before the end, without a final Engine.IO close packet ``1``.
        """
        got: list[str | bytes] = []
        try:
            async with asyncio.timeout(timeout):
                while True:
                    got.append(await self.recv(timeout))
        except ConnectionClosed:
            if got and got[-1] == "1":
                got.pop()
            return got


@asynccontextmanager
async def raw_socketio(ws_root: str, path: str = "/socket.io/") -> AsyncIterator[RawSocketIO]:
    """``async with raw_socketio("ws://127.0.0.1:PORT") as raw``: a fresh WebSocket session."""
    url = f"{ws_root}{path}?EIO=4&transport=websocket"
    async with connect(url, open_timeout=5, close_timeout=2, max_size=None) as ws:
        async with asyncio.timeout(5):
            first = await ws.recv()
        assert isinstance(first, str) and first.startswith("0{"), first
        yield RawSocketIO(ws, json.loads(first[1:]))


async def eventually(condition: Callable[[], object], timeout: float = 5.0) -> None:
    """Polls ``condition`` every 10 ms until it is true (fails after ``timeout``)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def assert_clean(server: Any) -> None:
    """Nothing is left of sessions that ended: sessions, sockets, rooms, acks, tasks."""
    assert server.engine.sockets == {}
    for nsp in server.namespaces.values():
        assert nsp.sockets == {}, nsp
        assert nsp.adapter.rooms == {}, nsp
        assert nsp.adapter.sids == {}, nsp
