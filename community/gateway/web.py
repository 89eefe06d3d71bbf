"""Serves the web page (``community/web``) in front of the REST app.

``/`` is the page, ``/static/app.js`` and ``/static/style.css`` its code and style, and
``/static/vendor/socket.io.min.js`` the official ``socket.io-client`` build installed by
``npm ci`` in ``community/web`` (served from this process: nothing comes from a CDN). Only these
paths are served; every other request, and the ASGI lifespan, goes to the wrapped app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any, Final

from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["WEB_ROOT", "WebPage"]

WEB_ROOT: Final = Path(__file__).resolve().parents[1] / "web"
"""The npm folder holding the page (``static/``) and ``node_modules/``."""

_CLIENT_DIST = "node_modules/socket.io-client/dist/"

# The page loads only its own files and talks only to its own origin.
_SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class WebPage:
    """ASGI wrapper serving the page and its assets, and passing everything else on.

    Args:
        app: The app for every other path (the REST API) and for lifespan events.
        root: The web folder (default: ``community/web`` of this package).
        on_shutdown: Awaited when the server shuts down, before ``app`` hears of it.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        root: Path = WEB_ROOT,
        on_shutdown: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.app = app
        self.root = root
        self._on_shutdown = on_shutdown
        self.files: dict[str, tuple[Path, str]] = {
            "/": (root / "static" / "index.html", "text/html; charset=utf-8"),
            "/index.html": (root / "static" / "index.html", "text/html; charset=utf-8"),
            "/static/app.js": (root / "static" / "app.js", "text/javascript; charset=utf-8"),
            "/static/style.css": (root / "static" / "style.css", "text/css; charset=utf-8"),
            "/static/vendor/socket.io.min.js": (
                root / _CLIENT_DIST / "socket.io.min.js",
                "text/javascript; charset=utf-8",
            ),
            "/static/vendor/socket.io.min.js.map": (
                root / _CLIENT_DIST / "socket.io.min.js.map",
                "application/json",
            ),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection."""
        if scope["type"] == "http" and scope["path"] in self.files:
            await self._serve(scope["path"], scope, receive, send)
        elif scope["type"] == "lifespan" and self._on_shutdown is not None:
            await self.app(scope, self._watch_shutdown(receive), send)
        else:
            await self.app(scope, receive, send)

    def _watch_shutdown(self, receive: Receive) -> Receive:
        async def watched() -> MutableMapping[str, Any]:
            message = await receive()
            if message["type"] == "lifespan.shutdown" and self._on_shutdown is not None:
                await self._on_shutdown()
            return message

        return watched

    async def _serve(self, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        response: Response
        if scope["method"] not in ("GET", "HEAD"):
            response = PlainTextResponse(
                "Method Not Allowed", status_code=405, headers={"Allow": "GET, HEAD"}
            )
        else:
            file, media_type = self.files[path]
            if file.is_file():
                response = FileResponse(file, media_type=media_type, headers=_SECURITY_HEADERS)
            elif _CLIENT_DIST in file.as_posix():
                response = PlainTextResponse(
                    "socket.io-client is not installed: run `make node-deps` "
                    "(npm ci in community/web)",
                    status_code=503,
                )
            else:
                response = PlainTextResponse("Not Found", status_code=404)
        await response(scope, receive, send)
