"""python-socketio 5.x benchmark server: ASGI on uvicorn (uvloop + httptools), or aiohttp.

Run: `python -m bench.servers.psio_server --port P [--mode asgi|aiohttp]`.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import uvloop

import socketio
from bench.servers.common import NAMESPACE_PATTERN, parse_args

__all__ = ["build", "main"]


def build(async_mode: str) -> Any:
    """Create the python-socketio server with the benchmark's handlers.

    Args:
        async_mode: `"asgi"` or `"aiohttp"`.

    Returns:
        The `socketio.AsyncServer`.
    """
    # namespaces="*" lets any namespace through to the connect handler below, which accepts
    # only "/" and the regex namespaces (python-socketio has no regex namespaces of its own).
    sio = socketio.AsyncServer(
        async_mode=async_mode,
        cors_allowed_origins="*",
        namespaces="*",
        logger=False,
        engineio_logger=False,
    )

    @sio.on("connect", namespace="*")
    async def connect(namespace: str, sid: str, environ: dict[str, Any]) -> bool:
        return namespace == "/" or NAMESPACE_PATTERN.match(namespace) is not None

    # Handlers on "/" take (sid, ...); catch-all namespace handlers take (namespace, sid, ...).
    @sio.on("echo")
    async def echo(sid: str, data: Any) -> Any:
        return data

    @sio.on("join")
    async def join(sid: str, room: str) -> bool:
        await sio.enter_room(sid, room)
        return True

    @sio.on("fanout")
    async def fanout(sid: str, room: str, payload: Any) -> None:
        await sio.emit("msg", payload, room=room)

    @sio.on("echo", namespace="*")
    async def ns_echo(namespace: str, sid: str, data: Any) -> Any:
        return data

    @sio.on("join", namespace="*")
    async def ns_join(namespace: str, sid: str, room: str) -> bool:
        await sio.enter_room(sid, room, namespace=namespace)
        return True

    @sio.on("fanout", namespace="*")
    async def ns_fanout(namespace: str, sid: str, room: str, payload: Any) -> None:
        await sio.emit("msg", payload, room=room, namespace=namespace)

    return sio


def _run_asgi(host: str, port: int) -> None:
    import uvicorn

    sio = build("asgi")
    app = socketio.ASGIApp(sio)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        ws=os.environ.get("BENCH_UVICORN_WS", "websockets-sansio"),
        ws_per_message_deflate=True,  # uvicorn's default, said here: only when offered
        lifespan="off",
        access_log=False,
        log_level="warning",
    )
    uvicorn.Server(config).run()


def _run_aiohttp(host: str, port: int) -> None:
    from aiohttp import web

    sio = build("aiohttp")
    app = web.Application()
    sio.attach(app)

    async def serve() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    uvloop.run(serve())


def main() -> None:
    """Parse the command line and serve until killed."""
    args = parse_args("python-socketio benchmark server", ["asgi", "aiohttp"])
    if args.mode == "asgi":
        _run_asgi(args.host, args.port)
    else:
        _run_aiohttp(args.host, args.port)


if __name__ == "__main__":
    main()
