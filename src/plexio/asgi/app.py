"""The ASGI application serving Engine.IO (and Socket.IO) (layer L4).

May import: plexio L0, plexio.transports, plexio.server. Requests under ``path`` go to
the Engine.IO server; everything else goes to ``other_app`` (404 without one). Lifespan
events are passed to ``other_app`` when it exists, and shut the server down cleanly.

Like any ASGI sub-application, the app honours the scope's ``root_path``: mounted at
``/rt`` in Starlette or FastAPI (or served with uvicorn's ``--root-path /rt``), it
serves ``/rt/socket.io/``, matching ``path`` against the request path below the root.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from plexio.asgi.http import read_body, request_from_scope, send_response
from plexio.asgi.types import ASGICallable, Receive, Scope, Send
from plexio.asgi.websocket import serve_websocket
from plexio.server.engine import EngineEndpoint, EngineServer, StateT
from plexio.transports.base import HttpRequest, HttpResponse

__all__ = ["ASGIApp", "EngineHolder"]

logger = logging.getLogger(__name__)


class EngineHolder(Protocol):
    """A server that serves through an Engine.IO server of its own (the Socket.IO
    :class:`~plexio.Server`)."""

    @property
    def engine(self) -> EngineEndpoint: ...

    @property
    def default_path(self) -> str: ...

    async def shutdown(self) -> None: ...


class ASGIApp:
    """Serves an Engine.IO or Socket.IO server over ASGI.

    Args:
        server: an :class:`EngineServer`, or a Socket.IO server (anything with an
            ``engine`` attribute).
        path: the mount path; ``/engine.io/`` for a bare Engine.IO server and
            ``/socket.io/`` for a Socket.IO server by default.
        other_app: an ASGI app for every other path (and for lifespan events).
    """

    def __init__(
        self,
        server: EngineServer[StateT] | EngineHolder,
        path: str | None = None,
        other_app: ASGICallable | None = None,
    ) -> None:
        self.engine: EngineEndpoint
        if isinstance(server, EngineServer):
            self.engine = server
            default = "/engine.io/"
        else:
            self.engine = server.engine
            default = server.default_path
        # The Socket.IO server's shutdown also closes its adapters (a cluster adapter's
        # subscriptions), not only the Engine.IO sessions.
        self._shutdown: Callable[[], Awaitable[None]] = server.shutdown
        path = path or default
        self.path = "/" + path.strip("/") + "/"
        self._bare = self.path.rstrip("/")
        self.other_app = other_app

    def _matches(self, scope: Scope) -> bool:
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            # The ASGI spec: ``path`` includes ``root_path``; the app routes on the rest.
            rest = path[len(root) :]
            if not rest or rest[0] == "/":
                path = rest
        return path == self._bare or path.startswith(self.path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http" and self._matches(scope):
            request = request_from_scope(scope)
            if request.method == "GET":
                get_response = await self._held_get(request, receive)
                if get_response is not None:
                    await send_response(send, get_response)
                return

            async def body(limit: int) -> bytes | None:
                return await read_body(receive, limit)

            response = await self.engine.handle_request(request, body)
            await send_response(send, response)
        elif kind == "websocket" and self._matches(scope):
            await self._websocket(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(scope, receive, send)
        elif self.other_app is not None:
            await self.other_app(scope, receive, send)
        elif kind == "http":
            await send_response(
                send, HttpResponse(404, b"Not Found", [("Content-Type", "text/plain")])
            )
        elif kind == "websocket":
            await receive()
            await send({"type": "websocket.close", "code": 1000})

    async def _held_get(self, request: HttpRequest, receive: Receive) -> HttpResponse | None:
        """Serves a GET, which may be held open; ``None`` when the client went away.

        ASGI servers report a vanished client as ``http.disconnect`` instead of
        cancelling the app, so a watcher cancels the held GET, and the Engine.IO server
        ends that session instead of writing into a dead connection.
        """
        current = asyncio.current_task()
        assert current is not None
        gone = False

        async def watch() -> None:
            nonlocal gone
            while (await receive())["type"] != "http.disconnect":
                pass
            gone = True
            current.cancel()

        async def no_body(limit: int) -> bytes | None:
            return b""

        watcher = asyncio.get_running_loop().create_task(watch())
        try:
            return await self.engine.handle_request(request, no_body)
        except asyncio.CancelledError:
            if not gone:
                raise
            current.uncancel()
            return None
        finally:
            watcher.cancel()

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        await serve_websocket(self.engine, request_from_scope(scope), receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.other_app is not None:

            async def wrapped_receive() -> dict[str, object]:
                message = await receive()
                if message["type"] == "lifespan.shutdown":
                    await self._shutdown()
                return dict(message)

            await self.other_app(scope, wrapped_receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return
