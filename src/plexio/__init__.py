"""plexio: Socket.IO v5 / Engine.IO v4 for asyncio (public re-exports only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

# First: chooses between the compiled and the pure-Python sans-I/O cores.
from plexio import _cores  # noqa: F401  # isort: skip

from plexio.asgi import ASGIApp
from plexio.config import EngineOptions, Limits, RateLimit
from plexio.exceptions import (
    AckTimeoutError,
    ClientConnectionError,
    ClusterError,
    ClusterTimeoutError,
    ConnectionFailure,
    ConnectionRefusedError,
    ConnectRefusedError,
    DisconnectedError,
    InvalidPacketError,
    NamespaceError,
    PlexioError,
)
from plexio.runner import run
from plexio.server.broadcast import BroadcastOperator
from plexio.server.engine import EngineHandler, EngineServer, EngineSocket
from plexio.server.namespace import Namespace, ParentNamespace
from plexio.server.recovery import RecoveryOptions
from plexio.server.server import Server
from plexio.server.signatures import Ack, PayloadValidationError
from plexio.server.socket import ServerSocket
from plexio.socketio.parser import JsonParser

__all__ = [
    "ASGIApp",
    "Ack",
    "AckTimeoutError",
    "BroadcastOperator",
    "ClientConnectionError",
    "ClientSocket",
    "ClusterError",
    "ClusterTimeoutError",
    "ConnectRefusedError",
    "ConnectionFailure",
    "ConnectionRefusedError",
    "DisconnectedError",
    "EngineHandler",
    "EngineOptions",
    "EngineServer",
    "EngineSocket",
    "InvalidPacketError",
    "JsonParser",
    "Limits",
    "Manager",
    "Namespace",
    "NamespaceError",
    "ParentNamespace",
    "PayloadValidationError",
    "PlexioError",
    "RateLimit",
    "RecoveryOptions",
    "Server",
    "ServerSocket",
    "connect",
    "run",
]
__version__ = "0.1.0"

if TYPE_CHECKING:
    from plexio.client import ClientSocket, Manager, connect

# The client (and its HTTP stack, httpx) loads when first used, so a server-only
# process never imports it.
_CLIENT_NAMES = frozenset({"ClientSocket", "Manager", "connect"})


def __getattr__(name: str) -> object:
    if name in _CLIENT_NAMES:
        import plexio.client

        value = getattr(plexio.client, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'plexio' has no attribute {name!r}")
