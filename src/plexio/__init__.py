"""plexio: Socket.IO v5 / Engine.IO v4 for asyncio (public re-exports only)."""

from __future__ import annotations

from plexio.asgi import ASGIApp
from plexio.client import ClientSocket, Manager, connect
from plexio.config import EngineOptions, Limits
from plexio.exceptions import (
    AckTimeoutError,
    ConnectRefusedError,
    DisconnectedError,
    PlexioError,
)
from plexio.runner import run
from plexio.server.broadcast import BroadcastOperator
from plexio.server.engine import EngineServer
from plexio.server.namespace import Namespace, ParentNamespace
from plexio.server.recovery import RecoveryOptions
from plexio.server.server import Server
from plexio.server.socket import ServerSocket
from plexio.socketio.parser import JsonParser

__all__ = [
    "ASGIApp",
    "AckTimeoutError",
    "BroadcastOperator",
    "ClientSocket",
    "ConnectRefusedError",
    "DisconnectedError",
    "EngineOptions",
    "EngineServer",
    "JsonParser",
    "Limits",
    "Manager",
    "Namespace",
    "ParentNamespace",
    "PlexioError",
    "RecoveryOptions",
    "Server",
    "ServerSocket",
    "connect",
    "run",
]
__version__ = "0.1.0"
