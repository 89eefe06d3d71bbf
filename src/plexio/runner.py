"""``plexio.run``: serve a server with the native listener or uvicorn (layer L4).

A plain ``pip install plexio`` runs ``plexio.run(sio)``: the native listener parses
HTTP with h11 and runs on asyncio's loop. The ``fast`` extra (httptools, uvloop) is
picked up when installed; asking for one of them explicitly when it is missing raises
one :class:`RuntimeError` naming the extra to install.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import logging
import signal
import ssl as ssl_module
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from plexio.asgi import ASGIApp
from plexio.asgi.app import EngineHolder
from plexio.server.engine import EngineServer, StateT
from plexio.typing import JSONValue

if TYPE_CHECKING:
    from plexio.native.http import HttpParserName
    from plexio.workers import WorkerInfo

#: Keyword arguments of ``uvicorn.Config``: uvicorn's own open set, passed through.
UvicornConfig: TypeAlias = dict[str, Any]

__all__ = ["LoopName", "ServerName", "run", "uvicorn_limits"]

logger = logging.getLogger(__name__)

#: ``"auto"`` picks uvloop when it is installed, else asyncio's own loop.
LoopName = Literal["auto", "asyncio", "uvloop"]
ServerName = Literal["native", "uvicorn"]


def _missing(what: str, extra: str, fallback: str) -> RuntimeError:
    return RuntimeError(
        f"{what} is not installed: pip install 'plexio[{extra}]' (or use {fallback})"
    )


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _resolve_loop(loop: LoopName) -> Literal["asyncio", "uvloop"]:
    if loop == "asyncio":
        return "asyncio"
    if loop not in ("auto", "uvloop"):
        raise ValueError(f"unknown loop {loop!r}: use 'auto', 'asyncio' or 'uvloop'")
    if _installed("uvloop"):
        return "uvloop"
    if loop == "uvloop":
        raise _missing("loop='uvloop' needs uvloop, which", "fast", "loop='auto'")
    return "asyncio"


def _ssl_context(
    certfile: str | None, keyfile: str | None, password: str | None
) -> ssl_module.SSLContext | None:
    if certfile is None:
        if keyfile is not None:
            raise ValueError("ssl_keyfile needs ssl_certfile")
        return None
    context = ssl_module.create_default_context(ssl_module.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile, password)
    return context


def run(
    target: ASGIApp | EngineServer[StateT] | EngineHolder,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    server: ServerName = "native",
    loop: LoopName = "auto",
    http: HttpParserName = "auto",
    backlog: int = 2048,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    ssl_keyfile_password: str | None = None,
    log_level: str = "warning",
    uvicorn_options: Mapping[str, object] | None = None,
    ready: Callable[[int], None] | None = None,
    workers: int = 1,
) -> None:
    """Serves ``target`` until interrupted (Ctrl-C).

    Args:
        target: a ``Server``, an ``EngineServer`` or an ``ASGIApp``. The native
            listener serves only Engine.IO/Socket.IO: an ``ASGIApp`` with
            ``other_app`` needs ``server="uvicorn"`` (refused otherwise).
        host: address to bind.
        port: port to bind (0 for a free one, reported to ``ready``).
        server: ``"native"`` (plexio's own listener, the fastest; no ASGI) or
            ``"uvicorn"`` (ASGI; also serves an ``ASGIApp``'s ``other_app``; needs the
            ``uvicorn`` extra).
        loop: ``"auto"`` (uvloop when installed), ``"asyncio"`` or ``"uvloop"``.
        http: HTTP parser, ``"auto"`` (httptools when installed), ``"httptools"`` or
            ``"h11"``.
        backlog: the listen backlog.
        ssl_certfile: PEM certificate (chain) to serve HTTPS/WSS.
        ssl_keyfile: its private key (when not in ``ssl_certfile``).
        ssl_keyfile_password: the key's password.
        log_level: uvicorn's log level.
        uvicorn_options: further ``uvicorn.Config`` keyword arguments (``ws_max_size``,
            ``proxy_headers``, ``root_path``, ``timeout_keep_alive``...); they override
            the ones ``run`` derives from its own arguments.
        ready: called with the bound port once listening (with ``workers``, once every
            worker listens).
        workers: how many processes serve the port (Linux): the process that calls
            ``run`` forks them and restarts any that dies; each binds the port with
            ``SO_REUSEPORT``, and a long-polling request reaching a worker that does not
            hold its session is answered by the one that does (see
            :mod:`plexio.workers`). Rooms and broadcasts span the workers only through a
            cluster adapter (``plexio.server.adapters.redis.create_adapter``). Build the
            app before ``run`` but start nothing in it: each worker gets a copy.

    Raises:
        RuntimeError: an optional package asked for explicitly is not installed (the
            message names the extra to install).
        TypeError: the native listener was given an ``ASGIApp`` with ``other_app``.
    """
    loop_name = _resolve_loop(loop)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if server not in ("native", "uvicorn"):
        raise ValueError(f"unknown server {server!r}: use 'native' or 'uvicorn'")
    tls = (ssl_certfile, ssl_keyfile, ssl_keyfile_password)
    context = None
    if server == "native":
        if uvicorn_options:
            raise TypeError("uvicorn_options are for server='uvicorn'")
        from plexio.native.listener import servable

        servable(target)  # refuse before forking or starting a loop
    elif not _installed("uvicorn"):
        raise _missing("server='uvicorn' needs uvicorn, which", "uvicorn", "server='native'")
    if server == "native" or workers > 1:
        # (uvicorn loads the files itself; with workers, a bad one is refused before forking)
        context = _ssl_context(*tls)

    def uvicorn_settings(bound_port: int) -> tuple[ASGIApp, UvicornConfig]:
        return _uvicorn_settings(
            target,
            host,
            bound_port,
            loop_name,
            http,
            backlog,
            tls,
            log_level,
            uvicorn_options or {},
        )

    if workers > 1:
        from plexio.workers import supervise

        def worker(info: WorkerInfo) -> None:
            if server == "native":
                main = _native_worker(target, info, backlog, context, http)
            else:
                main = _uvicorn_worker(target, info, backlog, uvicorn_settings(info.port))
            _run_loop(main, loop_name)

        supervise(workers, worker, host, port, ready=ready)
        return
    if server == "uvicorn":
        _run_loop(_uvicorn_single(uvicorn_settings(port), ready), loop_name)
        return
    from plexio.native import serve

    def listening(bound: int) -> None:
        freeze_startup_objects()
        if ready is not None:
            ready(bound)

    main = serve(target, host, port, ready=listening, backlog=backlog, ssl=context, http=http)
    _run_loop(_until_terminated(main), loop_name)


def freeze_startup_objects() -> None:
    """Once listening: what start-up left alive (modules, the app, the listener) is
    moved out of the cyclic collector's reach (``gc.freeze``), so that a full
    collection walks only what the connections made since. Without it one full
    collection took 17-29 ms of CPU (a stall for every client) in ``make hostile``'s
    runaway-handlers scenario under uvicorn, once 2,000 handlers were pending."""
    gc.collect()
    gc.freeze()


def _frozen_then(ready: Callable[[], None]) -> None:
    freeze_startup_objects()
    ready()


async def _uvicorn_single(
    settings: tuple[ASGIApp, UvicornConfig], ready: Callable[[int], None] | None
) -> None:
    import uvicorn

    app, config = settings
    server = uvicorn.Server(uvicorn.Config(app, **config))

    async def announce() -> None:
        while not server.started:
            await asyncio.sleep(0.05)
        freeze_startup_objects()
        if ready is not None:
            bound = server.config.port
            with contextlib.suppress(AttributeError, IndexError, OSError):
                bound = server.servers[0].sockets[0].getsockname()[1]
            ready(bound)

    watcher = asyncio.get_running_loop().create_task(announce())
    try:
        await server.serve()
    finally:
        watcher.cancel()
    if not server.started:  # as uvicorn.run: it could not start (port in use...)
        raise SystemExit(3)


async def _until_terminated(main: Coroutine[object, object, None]) -> None:
    # SIGTERM (and Ctrl-C) cancel the listener, which then shuts down gracefully
    # (see plexio.native.serve): the process exits within shutdown_timeout.
    loop = asyncio.get_running_loop()
    task = loop.create_task(main)
    stopping = False

    def stop() -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            logger.info("shutting down")
            task.cancel()

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop)
    try:
        await task
    except asyncio.CancelledError:
        if not stopping:
            raise


def _run_loop(
    main: Coroutine[object, object, None], loop_name: Literal["asyncio", "uvloop"]
) -> None:
    runner: Callable[[Coroutine[object, object, None]], None] = asyncio.run
    if loop_name == "uvloop":
        import uvloop

        runner = uvloop.run
    try:
        runner(main)
    except KeyboardInterrupt:
        pass


async def _native_worker(
    target: ASGIApp | EngineServer[StateT] | EngineHolder,
    info: WorkerInfo,
    backlog: int,
    context: ssl_module.SSLContext | None,
    http: HttpParserName,
) -> None:
    from plexio.native import serve
    from plexio.native.listener import servable
    from plexio.workers import WorkerForwarder, listening_socket

    engine, _path = servable(target)
    main = asyncio.current_task()
    assert main is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
    sock = listening_socket(info.host, info.port, backlog)
    forwarder = WorkerForwarder(info.index, info.count, info.rundir)
    with contextlib.suppress(asyncio.CancelledError):
        async with forwarder.serving(engine):
            await serve(
                target,
                sock=sock,
                backlog=backlog,
                ssl=context,
                http=http,
                ready=lambda _port: _frozen_then(info.ready),
            )


async def _uvicorn_worker(
    target: ASGIApp | EngineServer[StateT] | EngineHolder,
    info: WorkerInfo,
    backlog: int,
    settings: tuple[ASGIApp, UvicornConfig],
) -> None:
    import uvicorn

    from plexio.workers import WorkerForwarder, listening_socket

    app, config = settings
    server = uvicorn.Server(uvicorn.Config(app, **config))
    sock = listening_socket(info.host, info.port, backlog)
    forwarder = WorkerForwarder(info.index, info.count, info.rundir)

    async def announce() -> None:
        while not server.started:
            await asyncio.sleep(0.05)
        freeze_startup_objects()
        info.ready()

    async with forwarder.serving(app.engine):
        watcher = asyncio.get_running_loop().create_task(announce())
        try:
            await server.serve(sockets=[sock])
        finally:
            watcher.cancel()


def _uvicorn_settings(
    target: ASGIApp | EngineServer[StateT] | EngineHolder,
    host: str,
    port: int,
    loop_name: Literal["asyncio", "uvloop"],
    http: HttpParserName,
    backlog: int,
    tls: tuple[str | None, str | None, str | None],
    log_level: str,
    options: Mapping[str, object],
) -> tuple[ASGIApp, UvicornConfig]:
    if http == "httptools" and not _installed("httptools"):
        raise _missing("http='httptools' needs httptools, which", "fast", "http='auto'")
    from plexio.native.uvicorn import WebSocketProtocol

    app = target if isinstance(target, ASGIApp) else ASGIApp(target)
    certfile, keyfile, password = tls
    settings: UvicornConfig = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "loop": loop_name,
        "http": "auto" if http == "auto" else http,
        # plexio's own WebSocket protocol for uvicorn (ASGI to the app, plexio's frame
        # reader on the wire): about a third fewer instructions per echo than uvicorn's
        # cheapest, websockets-sansio (bench/README.md); uvicorn_options may set another
        "ws": WebSocketProtocol,
        # Engine.IO's heartbeat (ping_interval, ping_timeout) already finds dead peers:
        # no WebSocket-level ping of uvicorn's own (a timer per connection, a ping
        # frame every 20 s)
        "ws_ping_interval": None,
        # WebSocket compression as the server's options say (off by default, as
        # Node's perMessageDeflate; uvicorn's own default is on)
        "ws_per_message_deflate": app.engine.options.per_message_deflate,
        "backlog": backlog,
        "ssl_certfile": certfile,
        "ssl_keyfile": keyfile,
        "ssl_keyfile_password": password,
        **uvicorn_limits(app),
    }
    settings.update(options)
    return app, settings


def uvicorn_limits(app: ASGIApp) -> dict[str, JSONValue]:
    """The ``uvicorn.Config`` settings that carry plexio's limits to uvicorn.

    ``ws_max_size``: uvicorn reads a whole WebSocket message (up to 16 MiB by default)
    before the app sees it; with ``max_http_buffer_size`` a larger frame is refused while it
    arrives. ``timeout_keep_alive``: an idle keep-alive connection is closed after
    ``handshake_timeout``, as on the native listener.
    """
    options = app.engine.options
    return {
        "ws_max_size": options.limits.max_http_buffer_size,
        "timeout_keep_alive": options.handshake_timeout,
    }
