"""``plexio.run``: serve a server with the native listener or uvicorn (layer L4)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

from plexio.asgi import ASGIApp

__all__ = ["run"]

logger = logging.getLogger(__name__)


def run(
    target: Any,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    server: Literal["native", "uvicorn"] = "native",
    use_uvloop: bool = True,
    log_level: str = "warning",
) -> None:
    """Serves ``target`` (a ``Server``, ``EngineServer`` or ``ASGIApp``) until interrupted.

    Args:
        target: what to serve.
        host: address to bind.
        port: port to bind.
        server: ``"native"`` (httptools + websockets frames on asyncio, the fastest) or
            ``"uvicorn"`` (ASGI, also serves an ``ASGIApp``'s ``other_app``).
        use_uvloop: run on uvloop when it is installed.
        log_level: uvicorn's log level.
    """
    if server == "uvicorn":
        import uvicorn

        app = target if isinstance(target, ASGIApp) else ASGIApp(target)
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level=log_level,
            loop="uvloop" if use_uvloop else "asyncio",
            ws="websockets",
        )
        return
    from plexio.native import serve

    runner: Any = asyncio.run
    if use_uvloop:
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            logger.info("uvloop not installed, using asyncio's loop")
    try:
        runner(serve(target, host, port))
    except KeyboardInterrupt:
        pass
