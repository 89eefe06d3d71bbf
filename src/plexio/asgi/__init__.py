"""ASGI integration (layer L4)."""

from __future__ import annotations

from plexio.asgi.app import ASGIApp

__all__ = ["ASGIApp"]
