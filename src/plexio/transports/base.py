"""The narrow I/O interfaces between the Engine.IO server and whatever serves it (layer L2).

May import: plexio L0 modules and plexio.engineio. An ASGI server, or a native listener,
provides these; nothing above this layer knows which one it runs under.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["HttpRequest", "HttpResponse", "WebSocketLike"]


@dataclass(slots=True)
class HttpRequest:
    """One HTTP request as the Engine.IO server needs it (framework independent).

    Attributes:
        method: upper-case HTTP method.
        path: the request path.
        query: query parameters, first value of each.
        headers: lower-case header names to values (repeated headers joined by ``,``).
        client: (host, port) of the peer, when known.
        scheme: ``http``, ``https``, ``ws`` or ``wss``.
        query_string: the raw query string.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    client: tuple[str, int] | None = None
    scheme: str = "http"
    query_string: str = ""

    @property
    def secure(self) -> bool:
        """Whether the request came over TLS."""
        return self.scheme in ("https", "wss")


@dataclass(slots=True)
class HttpResponse:
    """An HTTP response to write back."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


class WebSocketLike(Protocol):
    """An accepted WebSocket, as the Engine.IO server drives it."""

    async def receive(self) -> str | bytes | None:
        """Returns the next message (``str`` text, ``bytes`` binary) or ``None`` once closed."""
        ...

    async def send(self, frame: str | bytes) -> None:
        """Sends one message: ``str`` as a text frame, ``bytes`` as a binary frame."""
        ...

    async def close(self, code: int = 1000) -> None:
        """Closes the WebSocket (idempotent)."""
        ...
