"""Socket.IO mounted at ``/rt`` beside a web route, three ways (importable for granian).

Each app serves ``GET /hello`` (the web app) and Socket.IO at ``/rt/socket.io/`` with an
``echo`` event whose handler returns what it got.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

import plexio

__all__ = [
    "echo_server",
    "fastapi_app",
    "make_fastapi",
    "make_plain_router",
    "make_starlette",
    "plain_router",
    "starlette_app",
]


def echo_server() -> plexio.Server:
    sio = plexio.Server()

    @sio.on("echo")
    def echo(socket: plexio.ServerSocket, value: Any) -> Any:
        return value

    return sio


def make_fastapi() -> FastAPI:
    app = FastAPI()

    @app.get("/hello")
    def hello() -> str:
        return "hello from FastAPI"

    app.mount("/rt", plexio.ASGIApp(echo_server()))
    return app


def _hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello from Starlette")


def make_starlette() -> Starlette:
    return Starlette(
        routes=[Route("/hello", _hello), Mount("/rt", app=plexio.ASGIApp(echo_server()))]
    )


def make_plain_router() -> Any:
    rt = plexio.ASGIApp(echo_server())

    async def router(scope: Any, receive: Any, send: Any) -> None:
        """``/rt/...`` to Socket.IO (as a sub-app: root_path grows by the prefix, path
        stays whole), ``/hello`` answered here."""
        await _route(rt, scope, receive, send)

    return router


async def _route(rt: Any, scope: Any, receive: Any, send: Any) -> None:
    kind = scope["type"]
    if kind == "lifespan":
        await rt(scope, receive, send)
        return
    root = scope.get("root_path", "")
    path = scope["path"]
    if path == root + "/rt" or path.startswith(root + "/rt/"):
        await rt({**scope, "root_path": root + "/rt"}, receive, send)
    elif kind == "http" and path == root + "/hello":
        body = b"hello from a plain router"
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"25")],
            }
        )
        await send({"type": "http.response.body", "body": body})
    elif kind == "http":
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
    else:
        await receive()
        await send({"type": "websocket.close", "code": 1000})


# module-level instances for servers that import the app (granian)
fastapi_app = make_fastapi()
starlette_app = make_starlette()
plain_router = make_plain_router()
