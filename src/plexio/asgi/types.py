"""ASGI type aliases used by every ASGI-facing signature (layer L4)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["ASGICallable", "Message", "Receive", "Scope", "Send"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
#: Any ASGI application (the class :class:`plexio.asgi.ASGIApp` is one).
ASGICallable = Callable[[Scope, Receive, Send], Awaitable[None]]
