"""Typed Engine.IO request parameters and handshake errors (layer L1, sans-I/O).

Every HTTP or WebSocket request carries ``EIO=4`` and ``transport``; requests to an
existing session also carry ``sid`` (Engine.IO v4 "Transports"). Extra parameters such as
the ``t`` cache-buster are ignored. Error codes and messages are those the reference
server sends (PROTOCOL.md items 3-7).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from plexio.enums import Transport
from plexio.exceptions import HandshakeError

__all__ = [
    "ErrorCode",
    "RequestParams",
    "bad_handshake_method",
    "bad_request",
    "forbidden",
    "parse_params",
    "shutting_down",
    "unknown_sid",
]

PROTOCOL_VERSION: Final = "4"
#: The ``transport`` query parameter's values and their members.
_TRANSPORTS: Final = {t.value: t for t in Transport}


class ErrorCode(IntEnum):
    """Engine.IO HTTP error codes, as sent in the JSON error body."""

    UNKNOWN_TRANSPORT = 0
    UNKNOWN_SID = 1
    BAD_HANDSHAKE_METHOD = 2
    BAD_REQUEST = 3
    FORBIDDEN = 4
    UNSUPPORTED_PROTOCOL_VERSION = 5


_MESSAGES: Final = {
    ErrorCode.UNKNOWN_TRANSPORT: "Transport unknown",
    ErrorCode.UNKNOWN_SID: "Session ID unknown",
    ErrorCode.BAD_HANDSHAKE_METHOD: "Bad handshake method",
    ErrorCode.BAD_REQUEST: "Bad request",
    ErrorCode.FORBIDDEN: "Forbidden",
    ErrorCode.UNSUPPORTED_PROTOCOL_VERSION: "Unsupported protocol version",
}


def _error(code: ErrorCode, status: int = 400) -> HandshakeError:
    return HandshakeError(int(code), _MESSAGES[code], status)


def unknown_sid() -> HandshakeError:
    """The error for a request naming no live session."""
    return _error(ErrorCode.UNKNOWN_SID)


def bad_request() -> HandshakeError:
    """The error for a request that does not fit the session's state."""
    return _error(ErrorCode.BAD_REQUEST)


def bad_handshake_method() -> HandshakeError:
    """The error for a handshake that is not a GET."""
    return _error(ErrorCode.BAD_HANDSHAKE_METHOD)


def shutting_down() -> HandshakeError:
    """The error for a handshake while the server shuts down (503: try another)."""
    return HandshakeError(int(ErrorCode.FORBIDDEN), "Server shutting down", 503)


def forbidden() -> HandshakeError:
    """The error for a request refused by the ``allow_request`` hook."""
    return _error(ErrorCode.FORBIDDEN, 403)


@dataclass(frozen=True, slots=True)
class RequestParams:
    """The Engine.IO parameters of one request.

    Attributes:
        transport: the transport this request uses.
        sid: the session id, or ``None`` for a handshake.
    """

    transport: Transport
    sid: str | None


def parse_params(
    query: Mapping[str, str], allowed_transports: tuple[Transport, ...]
) -> RequestParams:
    """Validates the query parameters of a request.

    Args:
        query: the query string parameters (first value of each).
        allowed_transports: transports this server accepts.

    Raises:
        HandshakeError: code 5 for a missing or unsupported ``EIO``, code 0 for a
            missing or unknown transport (a missing transport does not default to
            polling, PROTOCOL.md item 4).
    """
    transport = _TRANSPORTS.get(query.get("transport", ""))
    if transport is None or transport not in allowed_transports:
        raise _error(ErrorCode.UNKNOWN_TRANSPORT)
    if query.get("EIO") != PROTOCOL_VERSION:
        raise _error(ErrorCode.UNSUPPORTED_PROTOCOL_VERSION)
    sid = query.get("sid")
    return RequestParams(transport=transport, sid=sid or None)
