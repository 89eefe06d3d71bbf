"""A small Engine.IO echo server: ``python -m plexio.demo`` (used by ``make run`` until the
community gateway exists)."""

from __future__ import annotations

import logging
import os

from plexio.asgi import ASGIApp
from plexio.server.engine import EngineServer, EngineSocket

__all__ = ["Echo", "create_app", "main"]


class Echo:
    """Sends every message back to its sender."""

    async def on_connect(self, socket: EngineSocket) -> None:
        """Nothing to do on connect."""

    def on_message(self, socket: EngineSocket, data: str | bytes) -> None:
        """Echoes the message."""
        socket.send(data)

    def on_disconnect(self, socket: EngineSocket, reason: str) -> None:
        """Logs the reason."""
        logging.getLogger(__name__).info("%s left: %s", socket.sid, reason)


def create_app() -> ASGIApp:
    """The echo server as an ASGI app at ``/engine.io/``."""
    return ASGIApp(EngineServer(Echo(), cors_allowed_origins="*"))


def main() -> None:
    """Serves the echo app with uvicorn on ``HOST``:``PORT`` (127.0.0.1:8000)."""
    import uvicorn

    logging.basicConfig(level=logging.INFO)
    uvicorn.run(
        create_app(),
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8000")),
    )


if __name__ == "__main__":
    main()
