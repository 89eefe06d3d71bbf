"""plexio: Socket.IO v5 / Engine.IO v4 for asyncio (public re-exports only)."""

from __future__ import annotations

from plexio.exceptions import PlexioError

__all__ = ["PlexioError"]
__version__ = "0.1.0"
