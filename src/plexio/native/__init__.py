"""The native listener: HTTP and WebSocket on asyncio without ASGI (layer L4)."""

from __future__ import annotations

from plexio.native.listener import serve

__all__ = ["serve"]
