"""Small plexio apps for real-server tests: an Engine.IO echo server that records.

``make_echo_engine()`` builds the app in-process (the test can look at the
:class:`RecordingEcho` handler); ``echo_engine_app(**kwargs)`` is the same as a
``module:factory`` target for :func:`tests.helpers.servers.server_process`.
plexio is imported inside the functions so this module imports even while the
server package is incomplete.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EchoEngine",
    "get_is_held",
    "post_in_flight",
    "RecordingEcho",
    "echo_engine_app",
    "hello_app",
    "make_echo_engine",
]


@dataclass
class RecordingEcho:
    """An EngineHandler that echoes every message and records what happened.

    Attributes:
        connected: sids in connection order.
        messages: ``(sid, data)`` in arrival order.
        disconnected: ``(sid, reason)`` in order.
    """

    connected: list[str] = field(default_factory=list)
    messages: list[tuple[str, str | bytes]] = field(default_factory=list)
    disconnected: list[tuple[str, str]] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_connect(self, socket: Any) -> None:
        """Record the new session."""
        self.connected.append(socket.sid)
        self._changed.set()

    def on_message(self, socket: Any, data: str | bytes) -> None:
        """Record and echo ``data`` with its type (text stays text, bytes stay bytes)."""
        self.messages.append((socket.sid, data))
        self._changed.set()
        socket.send(data)

    def on_disconnect(self, socket: Any, reason: Any) -> None:
        """Record the end of a session."""
        self.disconnected.append((socket.sid, str(reason)))
        self._changed.set()

    def reason_for(self, sid: str) -> str | None:
        """Return the disconnect reason recorded for ``sid``, if any."""
        for s, reason in self.disconnected:
            if s == sid:
                return reason
        return None

    async def wait_for(self, condition: Any, timeout: float = 5.0) -> None:
        """Wait until ``condition()`` is true.

        Args:
            condition: a callable without arguments.
            timeout: seconds before ``TimeoutError``.
        """
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    async def wait_disconnected(self, sid: str, timeout: float = 5.0) -> str:
        """Wait for the disconnect of ``sid`` and return its reason."""
        await self.wait_for(lambda: self.reason_for(sid) is not None, timeout)
        reason = self.reason_for(sid)
        assert reason is not None
        return reason


@dataclass
class EchoEngine:
    """An echo Engine.IO server ready to be served."""

    app: Any
    engine: Any
    handler: RecordingEcho


def get_is_held(engine: Any, sid: str) -> bool:
    """Whether the server is holding a long-polling GET for ``sid`` right now.

    It lets a test wait for "the GET has arrived and is parked" without sleeping.
    """
    socket = engine.sockets.get(sid)
    return socket is not None and bool(socket.get_held)


def post_in_flight(engine: Any, sid: str) -> bool:
    """Whether the server is reading a polling POST body for ``sid`` right now."""
    socket = engine.sockets.get(sid)
    return socket is not None and bool(socket.post_in_flight)


def make_echo_engine(
    *,
    path: str = "/engine.io/",
    cors_allowed_origins: Any = "*",
    cors_credentials: bool = False,
    allow_request: Any = None,
    handler: RecordingEcho | None = None,
    **options: Any,
) -> EchoEngine:
    """Build plexio's EngineServer with a :class:`RecordingEcho` behind an ASGIApp.

    Args:
        path: mount path of Engine.IO.
        cors_allowed_origins: passed to ``EngineServer``.
        cors_credentials: passed to ``EngineServer``.
        allow_request: passed to ``EngineServer``.
        handler: the handler to use (a new one by default).
        **options: ``EngineOptions`` fields; ``max_payload`` goes into ``Limits``.

    Returns:
        The app, the engine and the handler.
    """
    from plexio.asgi import ASGIApp
    from plexio.config import EngineOptions, Limits
    from plexio.server.engine import EngineServer

    if "max_payload" in options:
        options["limits"] = Limits(max_http_buffer_size=options.pop("max_payload"))
    if "transports" in options:
        options["transports"] = tuple(options["transports"])
    handler = handler or RecordingEcho()
    engine = EngineServer(
        handler,
        options=EngineOptions(**options),
        cors_allowed_origins=cors_allowed_origins,
        cors_credentials=cors_credentials,
        allow_request=allow_request,
    )
    return EchoEngine(app=ASGIApp(engine, path=path), engine=engine, handler=handler)


def echo_engine_app(**kwargs: Any) -> Any:
    """``module:factory`` target: the ASGI app of :func:`make_echo_engine`."""
    return make_echo_engine(**kwargs).app


async def hello_app(scope: Any, receive: Any, send: Any) -> None:
    """A plain ASGI app for harness tests: HTTP says hello, WebSocket echoes.

    HTTP answers ``hello <path>`` (status 200, text/plain); a WebSocket is accepted
    and every text or bytes message is sent back until the client closes.
    """
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    elif scope["type"] == "http":
        body = f"hello {scope['path']}".encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/plain"),
                    (b"content-length", b"%d" % len(body)),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
    elif scope["type"] == "websocket":
        message = await receive()
        assert message["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("bytes") is not None:
                await send({"type": "websocket.send", "bytes": message["bytes"]})
            else:
                await send({"type": "websocket.send", "text": message["text"]})
