"""Adapters: the room index and the cluster hook (layer L3)."""

from __future__ import annotations

from plexio.server.adapters.base import (
    Adapter,
    AdapterFactory,
    BroadcastFlags,
    BroadcastOptions,
    SocketEmitter,
)
from plexio.server.adapters.memory import InMemoryAdapter

__all__ = [
    "Adapter",
    "AdapterFactory",
    "BroadcastFlags",
    "BroadcastOptions",
    "InMemoryAdapter",
    "SocketEmitter",
]
