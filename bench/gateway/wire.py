"""A small Engine.IO v4 / Socket.IO v5 WebSocket client for the gateway load (one per user).

It joins the ``/socket`` namespace with a token, answers pings, sends events with ack ids and
keeps what came back: ack payloads (with the time they arrived) and the ids of the
``message:new`` / ``message:edited`` broadcasts it received, so the load generator can check
that every message was delivered once.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect

__all__ = ["GatewayClient", "ProtocolError"]

NAMESPACE = "/socket"
_PREFIX_EVENT = f"42{NAMESPACE},"
_PREFIX_ACK = f"43{NAMESPACE},"


class ProtocolError(Exception):
    """The server answered something this client does not expect."""


class GatewayClient:
    """One user's socket.

    Args:
        url: ``ws://host:port`` of the server.
        token: The user's access token.
    """

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token
        self.new_ids: Counter[int] = Counter()
        self.edited_ids: Counter[int] = Counter()
        self.events: Counter[str] = Counter()
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[tuple[Any, float]]] = {}
        self._connected: asyncio.Future[None] | None = None

    async def connect(self, timeout: float = 30.0) -> None:
        """Open the WebSocket, the Engine.IO session and the ``/socket`` namespace."""
        ws = await connect(
            f"{self.url}/socket.io/?EIO=4&transport=websocket",
            compression=None,
            open_timeout=timeout,
            max_size=16 * 1024 * 1024,
        )
        self._ws = ws
        opening = await asyncio.wait_for(ws.recv(), timeout)
        if not isinstance(opening, str) or not opening.startswith("0"):
            raise ProtocolError(f"expected an Engine.IO open packet, got {opening!r}")
        self._connected = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read())
        await ws.send(f"40{NAMESPACE}," + orjson.dumps({"token": self.token}).decode())
        await asyncio.wait_for(asyncio.shield(self._connected), timeout)

    async def close(self) -> None:
        """Close the connection and stop reading."""
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):
                pass

    async def request(
        self, event: str, payload: dict[str, Any], timeout: float = 30.0
    ) -> tuple[Any, float]:
        """Send an event with an ack id and wait for the ack.

        Returns:
            The ack's first argument and the round trip in seconds.
        """
        assert self._ws is not None
        self._next_id += 1
        ack_id = self._next_id
        future: asyncio.Future[tuple[Any, float]] = asyncio.get_running_loop().create_future()
        self._pending[ack_id] = future
        frame = _PREFIX_EVENT + str(ack_id) + orjson.dumps([event, payload]).decode()
        started = time.perf_counter()
        await self._ws.send(frame)
        try:
            data, arrived = await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(ack_id, None)
        return data, arrived - started

    async def _read(self) -> None:
        assert self._ws is not None and self._connected is not None
        ws = self._ws
        try:
            async for frame in ws:
                now = time.perf_counter()
                if not isinstance(frame, str):
                    raise ProtocolError("unexpected binary frame")
                if frame == "2":
                    await ws.send("3")
                elif frame.startswith(_PREFIX_ACK):
                    rest = frame[len(_PREFIX_ACK) :]
                    split = rest.index("[")
                    future = self._pending.get(int(rest[:split]))
                    if future is not None and not future.done():
                        args = orjson.loads(rest[split:])
                        future.set_result((args[0] if args else None, now))
                elif frame.startswith(_PREFIX_EVENT):
                    name, *args = orjson.loads(frame[len(_PREFIX_EVENT) :])
                    self.events[name] += 1
                    if name == "message:new":
                        self.new_ids[args[0]["id"]] += 1
                    elif name == "message:edited":
                        self.edited_ids[args[0]["id"]] += 1
                elif frame.startswith(f"40{NAMESPACE},"):
                    if not self._connected.done():
                        self._connected.set_result(None)
                elif frame.startswith(f"44{NAMESPACE},"):
                    if not self._connected.done():
                        self._connected.set_exception(ProtocolError(f"refused: {frame}"))
        except Exception as exc:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ProtocolError(f"connection lost: {exc!r}"))
            if not self._connected.done():
                self._connected.set_exception(ProtocolError(f"connection lost: {exc!r}"))
