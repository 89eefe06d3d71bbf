"""The default single-process adapter (layer L3)."""

from __future__ import annotations

from plexio.server.adapters.base import Adapter

__all__ = ["InMemoryAdapter"]


class InMemoryAdapter(Adapter):
    """Rooms and broadcasts inside one process: :class:`Adapter` as it is."""
