"""ASGI scope ↔ framework-independent request/response records (layer L4)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from plexio.asgi.types import Receive, Scope, Send
from plexio.transports.base import HttpRequest, HttpResponse

__all__ = ["read_body", "request_from_scope", "send_response"]


def request_from_scope(scope: Scope) -> HttpRequest:
    """Builds the typed request of an ASGI ``http`` or ``websocket`` scope."""
    raw_qs: bytes = scope.get("query_string", b"")
    query_string = raw_qs.decode("latin-1")
    query: dict[str, str] = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        query.setdefault(key, value)
    headers: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]},{text}" if key in headers else text
    client = scope.get("client")
    return HttpRequest(
        method=scope.get("method", "GET"),
        path=scope.get("path", "/"),
        query=query,
        headers=headers,
        client=(str(client[0]), int(client[1])) if client else None,
        scheme=scope.get("scheme", "http"),
        query_string=query_string,
    )


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """Reads a whole request body; ``None`` if it is longer than ``limit`` bytes.

    Stops reading as soon as the limit is passed, so an oversized body costs at most
    ``limit`` bytes of memory.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def send_response(send: Send, response: HttpResponse) -> None:
    """Writes a response through ASGI."""
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    headers.append((b"content-length", str(len(response.body)).encode("ascii")))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
