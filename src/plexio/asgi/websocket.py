"""ASGI WebSocket messages ↔ :class:`~plexio.transports.base.WebSocketLike` (layer L4).

Keeps strict message ordering: ``websocket.connect`` must come first, and nothing is
sent after ``websocket.close``.
"""

from __future__ import annotations

from plexio.asgi.types import Receive, Send

__all__ = ["ASGIWebSocket"]


class ASGIWebSocket:
    """An accepted ASGI WebSocket.

    Args:
        receive: the ASGI receive callable (after ``websocket.connect`` was read).
        send: the ASGI send callable.
        max_size: largest message accepted; a bigger one closes with 1009.
    """

    __slots__ = ("_receive", "_send", "_closed", "_max_size")

    def __init__(self, receive: Receive, send: Send, max_size: int) -> None:
        self._receive = receive
        self._send = send
        self._closed = False
        self._max_size = max_size

    async def receive(self) -> str | bytes | None:
        """Returns the next message, or ``None`` once the peer closed."""
        if self._closed:
            return None
        message = await self._receive()
        kind = message["type"]
        if kind == "websocket.receive":
            text = message.get("text")
            data: str | bytes = text if text is not None else message.get("bytes") or b""
            if len(data) > self._max_size:
                await self.close(1009)
                return None
            return data
        self._closed = True
        return None

    async def send(self, frame: str | bytes) -> None:
        """Sends one text (``str``) or binary (``bytes``) message."""
        if self._closed:
            return
        if isinstance(frame, str):
            await self._send({"type": "websocket.send", "text": frame})
        else:
            await self._send({"type": "websocket.send", "bytes": frame})

    async def close(self, code: int = 1000) -> None:
        """Closes the WebSocket once."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._send({"type": "websocket.close", "code": code})
        except Exception:  # the peer is already gone; nothing left to tell it
            pass
