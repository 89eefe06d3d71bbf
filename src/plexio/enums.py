"""Closed sets of wire strings that cross the layers (layer L0: imports nothing from plexio).

Both cores and every layer above compare these members, never bare strings. Each is a
``StrEnum`` whose values are the strings the JavaScript reference uses, so a member
equals its string (``DisconnectReason.PING_TIMEOUT == "ping timeout"``), prints as it,
and serialises as it.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

__all__ = ["DisconnectReason", "Transport", "transports_of"]


class Transport(StrEnum):
    """An Engine.IO transport; values are the ``transport`` query parameter."""

    POLLING = "polling"
    WEBSOCKET = "websocket"


def transports_of(transports: Iterable[Transport | str]) -> tuple[Transport, ...]:
    """The transports to use, in order, as :class:`Transport` members (names accepted).

    Raises:
        ValueError: empty, a plain string (not a sequence of names), or an unknown name.
    """
    if isinstance(transports, str):
        raise ValueError("transports must be a sequence such as ('websocket',)")
    try:
        result = tuple(Transport(t) for t in transports)
    except ValueError:
        raise ValueError("transports must be a non-empty subset of polling, websocket") from None
    if not result:
        raise ValueError("transports must be a non-empty subset of polling, websocket")
    return result


class DisconnectReason(StrEnum):
    """Why a session or a socket ended; values are the reference's reason strings.

    The Engine.IO core reports the transport-level ones (``TRANSPORT_CLOSE`` ...
    ``PROTOCOL_ERROR``); a Socket.IO socket may also end for one of the namespace-level
    ones (``SERVER_NAMESPACE_DISCONNECT`` ... ``IO_CLIENT_DISCONNECT``).
    """

    TRANSPORT_CLOSE = "transport close"
    TRANSPORT_ERROR = "transport error"
    PING_TIMEOUT = "ping timeout"
    PARSE_ERROR = "parse error"
    FORCED_CLOSE = "forced close"
    SERVER_SHUTTING_DOWN = "server shutting down"
    PAYLOAD_TOO_LARGE = "payload too large"
    SLOW_CLIENT = "slow client"
    #: the client sent more than ``rate_limit`` allows (plexio)
    RATE_LIMITED = "rate limited"
    PROTOCOL_ERROR = "protocol error"
    #: the server ended the socket's namespace (``socket.disconnect()``), server side
    SERVER_NAMESPACE_DISCONNECT = "server namespace disconnect"
    #: the client left the namespace (it sent DISCONNECT), server side
    CLIENT_NAMESPACE_DISCONNECT = "client namespace disconnect"
    #: the server ended the socket's namespace, as the client sees it
    IO_SERVER_DISCONNECT = "io server disconnect"
    #: the client ended it itself (``socket.disconnect()``), client side
    IO_CLIENT_DISCONNECT = "io client disconnect"
