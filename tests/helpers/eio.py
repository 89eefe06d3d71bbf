"""A raw Engine.IO v4 client for HTTP-level tests: httpx for polling, websockets for WS.

It speaks the wire format by hand (``0{...}`` open, ``\\x1e``-joined payloads,
``b<base64>`` binary) so tests see exactly what the server sends. Nothing here
tries to be clever: every request is explicit.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

__all__ = ["SEP", "Handshake", "RawEngineIO", "b64", "split_payload"]

SEP: Final = "\x1e"


def b64(data: bytes) -> str:
    """Base64 of ``data`` as text."""
    return base64.b64encode(data).decode("ascii")


def split_payload(body: str) -> list[str]:
    """Split a polling payload into its packets."""
    return body.split(SEP)


@dataclass(frozen=True, slots=True)
class Handshake:
    """A successful polling handshake."""

    sid: str
    info: dict[str, Any]
    response: httpx.Response


class RawEngineIO:
    """Engine.IO requests against one server.

    Args:
        http: the httpx client (its base_url is the server root).
        ws_root: ``ws://127.0.0.1:<port>``.
        path: the Engine.IO mount path.
    """

    def __init__(self, http: httpx.AsyncClient, ws_root: str, path: str = "/engine.io/") -> None:
        self.http = http
        self.ws_root = ws_root
        self.path = path

    # ------------------------------------------------------------ polling

    async def request(
        self,
        method: str,
        params: dict[str, str] | None = None,
        *,
        content: str | bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send any request to the Engine.IO path with exactly ``params``."""
        return await self.http.request(
            method, self.path, params=params, content=content, headers=headers
        )

    async def handshake(self, **extra: str) -> Handshake:
        """Open a polling session; asserts it succeeded.

        Args:
            **extra: more query parameters.

        Returns:
            The sid, the parsed open JSON and the raw response.
        """
        response = await self.request("GET", {"EIO": "4", "transport": "polling", **extra})
        assert response.status_code == 200, (response.status_code, response.text)
        assert response.text.startswith("0{"), response.text
        # The open packet may be followed by other packets in the same payload.
        info = json.loads(split_payload(response.text)[0][1:])
        return Handshake(sid=info["sid"], info=info, response=response)

    async def get(self, sid: str, **extra: str) -> httpx.Response:
        """Long-polling GET for ``sid``."""
        return await self.request("GET", {"EIO": "4", "transport": "polling", "sid": sid, **extra})

    async def post(
        self, sid: str, body: str | bytes, headers: dict[str, str] | None = None, **extra: str
    ) -> httpx.Response:
        """Polling POST for ``sid`` with a raw body (``str`` is sent as UTF-8)."""
        return await self.request(
            "POST",
            {"EIO": "4", "transport": "polling", "sid": sid, **extra},
            content=body.encode() if isinstance(body, str) else body,
            headers={"Content-Type": "text/plain;charset=UTF-8", **(headers or {})},
        )

    async def receive_until(
        self,
        sid: str,
        predicate: Callable[[list[str]], bool],
        *,
        answer_pings: bool = True,
        max_polls: int = 50,
    ) -> list[str]:
        """GET repeatedly until ``predicate(all packets so far)`` is true.

        Pings (``2``) are answered with a ``3`` POST when ``answer_pings``.

        Returns:
            Every packet received, in order.
        """
        packets: list[str] = []
        for _ in range(max_polls):
            response = await self.get(sid)
            assert response.status_code == 200, (response.status_code, response.text)
            new = split_payload(response.text)
            packets.extend(new)
            if answer_pings and "2" in new:
                pong = await self.post(sid, "3")
                assert pong.status_code == 200, (pong.status_code, pong.text)
            if predicate(packets):
                return packets
        raise AssertionError(f"predicate not met after {max_polls} polls: {packets!r}")

    async def assert_echoes(self, sid: str | None = None) -> str:
        """Check that a (new, by default) polling session echoes text and binary.

        Returns:
            The sid used.
        """
        if sid is None:
            sid = (await self.handshake()).sid
        text = "4healthy " + uuid.uuid4().hex
        binary = "b" + b64(uuid.uuid4().bytes)
        response = await self.post(sid, text + SEP + binary)
        assert (response.status_code, response.text) == (200, "ok")
        packets = await self.receive_until(sid, lambda p: binary in p)
        messages = [p for p in packets if p[:1] in ("4", "b")]
        assert messages[-2:] == [text, binary], packets
        return sid

    # ------------------------------------------------------------ websocket

    def ws_url(self, params: dict[str, str] | None = None) -> str:
        """``ws://…/engine.io/?<params>`` (defaults to a new websocket session)."""
        if params is None:
            params = {"EIO": "4", "transport": "websocket"}
        return f"{self.ws_root}{self.path}?{urlencode(params)}"

    def ws_connect(self, sid: str | None = None, **extra: str) -> Any:
        """``async with`` a WebSocket; with ``sid`` it is an upgrade attempt."""
        params = {"EIO": "4", "transport": "websocket", **extra}
        if sid is not None:
            params["sid"] = sid
        return self.ws_connect_params(params)

    def ws_connect_params(self, params: dict[str, str]) -> Any:
        """``async with`` a WebSocket with exactly these query parameters."""
        return connect(self.ws_url(params), open_timeout=5, close_timeout=2, max_size=None)

    @staticmethod
    async def ws_recv(ws: ClientConnection, timeout: float = 5.0) -> str | bytes:
        """Receive one frame or fail after ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            return await ws.recv()

    async def ws_handshake(self, ws: ClientConnection) -> dict[str, Any]:
        """Read the ``0{...}`` open frame of a websocket-only session."""
        frame = await self.ws_recv(ws)
        assert isinstance(frame, str) and frame.startswith("0{"), frame
        info: dict[str, Any] = json.loads(frame[1:])
        return info

    async def ws_echo(self, ws: ClientConnection, frame: str | bytes) -> None:
        """Send ``frame`` and expect it back (pings in between are answered)."""
        await ws.send(frame)
        while True:
            got = await self.ws_recv(ws)
            if got == "2":
                await ws.send("3")
                continue
            assert got == frame
            return

    @staticmethod
    async def ws_wait_closed(ws: ClientConnection, timeout: float = 5.0) -> list[str | bytes]:
        """Read until the server closes the WebSocket; returns the frames seen."""
        frames: list[str | bytes] = []
        async with asyncio.timeout(timeout):
            try:
                while True:
                    frames.append(await ws.recv())
            except ConnectionClosed:
                pass
        return frames
