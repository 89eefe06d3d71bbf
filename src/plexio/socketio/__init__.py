"""Socket.IO v5 sans-I/O core (layer L1).

May import only :mod:`plexio.exceptions`, :mod:`plexio.typing` and :mod:`plexio.config`;
never asyncio, :mod:`plexio.engineio` or a higher layer. The MessagePack parser lives in
:mod:`plexio.socketio.msgpack` (optional ``msgpack`` dependency) and is not imported here.
"""

from __future__ import annotations

from plexio.socketio.attachments import extract, has_binary, reinsert
from plexio.socketio.connection import ServerConnection
from plexio.socketio.events import (
    AckReceived,
    ConnectionClosed,
    ConnectRequested,
    EventReceived,
    NamespaceDisconnected,
    SocketEvent,
)
from plexio.socketio.packets import RESERVED_EVENTS, Packet, PacketType
from plexio.socketio.parser import Decoder, JsonDecoder, JsonParser, Parser

__all__ = [
    "RESERVED_EVENTS",
    "AckReceived",
    "ConnectRequested",
    "ConnectionClosed",
    "Decoder",
    "EventReceived",
    "JsonDecoder",
    "JsonParser",
    "NamespaceDisconnected",
    "Packet",
    "PacketType",
    "Parser",
    "ServerConnection",
    "SocketEvent",
    "extract",
    "has_binary",
    "reinsert",
]
