"""Serve ``module:factory`` on 127.0.0.1 and print ``{"port": N}`` once listening.

Used by :func:`tests.helpers.servers.server_process` so a test can kill a server
and start it again::

    python tests/helpers/serve_app.py tests.helpers.apps:echo_engine_app \\
        --server uvicorn --port 0 --kwargs '{"ping_interval": 0.3}'

``--server`` is ``uvicorn``, ``hypercorn`` or ``native`` (plexio's own listener, which
serves only the Engine.IO path of the app).

The factory is called with the ``--kwargs`` JSON object as keyword arguments and
must return an ASGI app; if the attribute is not callable with those arguments
(e.g. it is an ASGI app itself), it is used as is when ``--kwargs`` is empty.
The process runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import inspect
import json
import signal
import socket
import sys
from typing import Any

__all__ = ["load_app", "main"]


def load_app(target: str, kwargs: dict[str, Any]) -> Any:
    """Import ``module:attr`` and build the app.

    Args:
        target: ``"package.module:attribute"``.
        kwargs: keyword arguments for a factory.

    Returns:
        The ASGI application.
    """
    module_name, _, attr = target.partition(":")
    if not attr:
        raise SystemExit(f"target must be module:factory, got {target!r}")
    obj = getattr(importlib.import_module(module_name), attr)
    if kwargs or _is_factory(obj):
        return obj(**kwargs)
    return obj


def _is_factory(obj: Any) -> bool:
    # An ASGI app takes (scope, receive, send); a factory takes no required arguments.
    if not callable(obj):
        return False
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return False
    required = [
        p
        for p in sig.parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return not required


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _announce(port: int) -> None:
    sys.stdout.write(json.dumps({"port": port}) + "\n")
    sys.stdout.flush()


async def _serve_uvicorn(app: Any, sock: socket.socket, stop: asyncio.Event) -> None:
    import uvicorn

    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="auto", timeout_graceful_shutdown=3
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            await task
            raise SystemExit("uvicorn did not start")
        await asyncio.sleep(0.005)
    _announce(sock.getsockname()[1])
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopper.cancel()
    await task


async def _serve_hypercorn(app: Any, sock: socket.socket, stop: asyncio.Event) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    cfg = Config()
    cfg.bind = [f"fd://{sock.detach()}"]
    cfg.accesslog = None
    cfg.graceful_timeout = 3
    task = asyncio.create_task(serve(app, cfg, shutdown_trigger=stop.wait))
    await asyncio.sleep(0)  # hypercorn listens on the already-listening socket at once
    return await task


async def _serve_native(app: Any, port: int, stop: asyncio.Event) -> None:
    from plexio.native import serve

    task = asyncio.create_task(serve(app, "127.0.0.1", port, ready=_announce))
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if task.done():
        await task  # it failed: let the error show
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _main(args: argparse.Namespace) -> None:
    app = load_app(args.target, json.loads(args.kwargs))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.server == "native":
        await _serve_native(app, args.port, stop)
        return
    sock = _bind(args.port)
    if args.server == "uvicorn":
        await _serve_uvicorn(app, sock, stop)
    else:
        # The socket is already listening, so clients can connect before serve() runs.
        _announce(sock.getsockname()[1])
        await _serve_hypercorn(app, sock, stop)


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and serve until SIGTERM.

    Args:
        argv: command line (defaults to ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("target", help="module:factory returning an ASGI app")
    parser.add_argument("--server", choices=("uvicorn", "hypercorn", "native"), default="uvicorn")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--kwargs", default="{}", help="JSON object of factory arguments")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(args))


if __name__ == "__main__":
    main()
