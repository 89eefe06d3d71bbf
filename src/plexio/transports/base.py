"""The narrow I/O interfaces between the Engine.IO server and whatever serves it (layer L2).

May import: plexio L0 modules and plexio.engineio. An ASGI server, or the native
listener, provides these; nothing above this layer knows which one it runs under.
HTTP requests are typed records; a WebSocket is a push-based :class:`FrameSink` for
writing, while the serving shell feeds received frames to the session's socket.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "FrameSink",
    "HttpRequest",
    "HttpResponse",
    "UncompressedBytes",
    "UncompressedText",
    "uncompressed",
]


class UncompressedText(str):
    """A text frame the sink must not compress (sent with ``compress(False)``)."""

    __slots__ = ()


class UncompressedBytes(bytes):
    """A binary frame the sink must not compress (sent with ``compress(False)``)."""

    __slots__ = ()


def uncompressed(frame: str | bytes) -> str | bytes:
    """``frame`` marked so that a compressing sink writes it as it is.

    Frames of the exact types ``str`` and ``bytes`` may be compressed (when the
    connection negotiated it and they are large enough); marked ones never are.
    """
    if isinstance(frame, str):
        return UncompressedText(frame)
    return UncompressedBytes(frame)


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


class FrameSink(Protocol):
    """The write side of an accepted WebSocket, driven synchronously by the server.

    The server calls :meth:`write` with a batch of Engine.IO frames (``str`` → text
    frame, ``bytes`` → binary frame) only while :attr:`paused` is false; while paused,
    frames stay queued in the session. The session's backlog, bounded by
    ``max_buffered_bytes``, counts those and :attr:`buffered_size`. When the sink can
    take more it calls :attr:`on_drain`.
    """

    on_drain: Callable[[], None] | None

    @property
    def paused(self) -> bool:
        """Whether the sink wants no more frames for now."""
        ...

    @property
    def buffered_size(self) -> int:
        """Bytes written to the sink and not sent yet (as far as it can tell)."""
        ...

    def pause_reading(self) -> None:
        """Stops taking frames from the peer (backpressure) until :meth:`resume_reading`."""
        ...

    def resume_reading(self) -> None:
        """Takes frames from the peer again."""
        ...

    def write(self, frames: list[str | bytes]) -> int | None:
        """Sends frames, in order, without blocking.

        ``frames`` is read, never changed nor kept past the call: it may be a
        broadcast's one list, shared by every recipient's session.

        Returns:
            :attr:`buffered_size` right after the write, when the sink has it at hand
            (the server then does not ask for it: one call less per delivery of a
            broadcast), or ``None``.
        """
        ...

    def close(self, code: int = 1000) -> None:
        """Closes the WebSocket after the frames already written (idempotent)."""
        ...
