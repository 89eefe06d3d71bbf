"""Engine.IO v4 sans-I/O core (layer L1): packets, polling payloads, handshake, sessions.

May import plexio's L0 modules only; never asyncio, plexio.socketio or higher layers.
"""

from __future__ import annotations

from plexio.engineio.events import (
    Disconnected,
    DisconnectReason,
    Event,
    MessageReceived,
    Upgraded,
)
from plexio.engineio.handshake import ErrorCode, RequestParams, parse_params
from plexio.engineio.packets import Frame, OpenInfo, Packet, PacketType, decode_frame, encode_frame
from plexio.engineio.payload import decode_payload, encode_payload
from plexio.engineio.session import ServerSession, SessionState
from plexio.engineio.sid import generate_sid
from plexio.engineio.upgrade import TRANSITIONS, Upgrade, UpgradeEvent, UpgradeState

__all__ = [
    "DisconnectReason",
    "Disconnected",
    "ErrorCode",
    "Event",
    "Frame",
    "MessageReceived",
    "OpenInfo",
    "Packet",
    "PacketType",
    "RequestParams",
    "ServerSession",
    "SessionState",
    "TRANSITIONS",
    "Upgrade",
    "UpgradeEvent",
    "UpgradeState",
    "Upgraded",
    "decode_frame",
    "decode_payload",
    "encode_frame",
    "encode_payload",
    "generate_sid",
    "parse_params",
]
