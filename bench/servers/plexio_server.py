"""plexio benchmark server: the same handlers as the peers, on plexio's Socket.IO server.

Modes: `uvicorn` (plexio's ASGI app on uvicorn with uvloop + httptools, as the python-socketio
server, and plexio's WebSocket protocol for uvicorn, as `plexio.run(server="uvicorn")` sets it
up) and `native` (plexio's own listener, through `plexio.run`).

Run: `python -m bench.servers.plexio_server --port P [--mode uvicorn|native]`;
`python -m bench.servers.plexio_server --check [--mode M]` prints `ok` or why it cannot run.
"""

from __future__ import annotations

import inspect
import os
import sys
from typing import Any

from bench.servers.common import NAMESPACE_PATTERN, parse_args

__all__ = ["build", "check", "main"]


async def _settle(result: Any) -> Any:
    """Await `result` when the API handed back an awaitable (join/emit may be either)."""
    if inspect.isawaitable(result):
        return await result
    return result


def _room_target(sio: Any, socket: Any, room: str) -> Any:
    """The broadcast operator for `room` in the socket's own namespace."""
    for name in ("nsp", "namespace"):
        namespace = getattr(socket, name, None)
        if namespace is not None and hasattr(namespace, "to"):
            return namespace.to(room)
    path = getattr(socket, "namespace", "/")
    if isinstance(path, str) and path != "/":
        return sio.of(path).to(room)
    return sio.to(room)


def _attach(sio: Any, target: Any) -> None:
    @target.on("echo")
    async def echo(socket: Any, data: Any) -> Any:
        return data

    @target.on("join")
    async def join(socket: Any, room: str) -> bool:
        await _settle(socket.join(room))
        return True

    @target.on("fanout")
    async def fanout(socket: Any, room: str, payload: Any) -> None:
        await _settle(_room_target(sio, socket, room).emit("msg", payload))


def build(ping_interval: float | None = None) -> tuple[Any, Any]:
    """Create the plexio server with the benchmark's handlers and its ASGI app.

    Args:
        ping_interval: Engine.IO ping interval in seconds (None: plexio's default).

    Returns:
        (server, asgi_app).

    Raises:
        ImportError, AttributeError: plexio does not offer the expected API (yet).
    """
    import plexio

    # permessage-deflate is negotiated only when a client offers it (the deflate scenarios
    # do; the others do not), as uvicorn and Node are set up here too.
    extra: dict[str, Any] = {} if ping_interval is None else {"ping_interval": ping_interval}
    sio = plexio.Server(cors_allowed_origins="*", per_message_deflate=True, **extra)
    _attach(sio, sio)
    _attach(sio, sio.of(NAMESPACE_PATTERN))
    app = plexio.ASGIApp(sio)
    return sio, app


def check(mode: str) -> str:
    """Say whether this server can run in `mode`: `ok`, or the reason it cannot."""
    try:
        build()
        import plexio

        if mode == "native":
            run = getattr(plexio, "run", None)
            if run is None:
                return "plexio.run() does not exist yet"
            if "server" not in inspect.signature(run).parameters:
                return "plexio.run() has no server= option"
    except Exception as exc:  # any failure means "not available", with the reason
        return f"{type(exc).__name__}: {exc}"
    return "ok"


def _serve(
    mode: str, host: str, port: int, ping_interval: float | None = None, workers: int = 1
) -> None:
    import plexio

    _, app = build(ping_interval)
    if mode == "native":
        plexio.run(app, host=host, port=port, server="native", workers=workers)
        return
    # The uvicorn set-up of bench.servers.psio_server (uvloop, httptools), with the
    # WebSocket protocol plexio.run(server="uvicorn") uses: plexio's own
    # (plexio.native.uvicorn); BENCH_UVICORN_WS=websockets-sansio gives psio's.
    import uvicorn

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        ws=os.environ.get("BENCH_UVICORN_WS", "plexio.native.uvicorn:WebSocketProtocol"),
        ws_per_message_deflate=True,  # uvicorn's default, said here: only when offered
        lifespan="off",
        access_log=False,
        log_level="warning",
    )
    uvicorn.Server(config).run()


def main() -> None:
    """Parse the command line, then check or serve until killed."""
    if "--check" in sys.argv:
        sys.argv.remove("--check")
        sys.argv += ["--port", "0"]
        args = parse_args("plexio benchmark server", ["uvicorn", "native"])
        print(check(args.mode))
        return
    args = parse_args("plexio benchmark server", ["uvicorn", "native"])
    _serve(args.mode, args.host, args.port, args.ping_interval, args.workers)


if __name__ == "__main__":
    main()
