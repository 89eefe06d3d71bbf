"""Every exception plexio raises (layer L0: imports only the type aliases of plexio.typing).

The tree::

    PlexioError
    ├── ProtocolError                  a peer or caller broke Engine.IO / Socket.IO rules
    │   ├── LocalProtocolError         we (the caller) misused the API
    │   │   └── InvalidPacketError     an emit breaks the packet rules (reserved event
    │   │                              name, bad namespace, data that cannot be
    │   │                              serialised); also a ValueError; the same on
    │   │                              server and client
    │   └── RemoteProtocolError        the peer misbehaved
    │       └── DecodeError            bytes/str that do not decode as a packet or payload
    │           └── PayloadTooLargeError   a payload/frame exceeds a configured limit
    ├── HandshakeError                 an HTTP request that cannot open or join a session;
    │                                  carries the Engine.IO error code and HTTP status
    ├── ConnectRefusedError            a namespace CONNECT was refused (raised by middleware
    │   │                              on the server; seen as ``connect_error`` by clients)
    │   └── ConnectionRefusedError     the same with python-socketio's arguments
    ├── ClientConnectionError          base of client-side connection failures; ``reason``
    │   │                              (a ConnectionFailure), ``status`` and ``__cause__``
    │   │                              say what went wrong
    │   └── DisconnectedError          the connection is gone
    ├── AckTimeoutError                no acknowledgement arrived in time
    ├── ClusterError                   a cluster-wide operation failed (bus unreachable)
    │   └── ClusterTimeoutError        some servers did not answer a cluster request in time
    └── NamespaceError                 unknown namespace / bad namespace name

Codecs raise only :class:`DecodeError` (or a subclass) for bad input; anything else
escaping a decoder is a bug.
"""

from __future__ import annotations

from enum import StrEnum

from plexio.typing import JSONValue

__all__ = [
    "AckTimeoutError",
    "ClientConnectionError",
    "ClusterError",
    "ClusterTimeoutError",
    "ConnectionFailure",
    "ConnectRefusedError",
    "ConnectionRefusedError",
    "DecodeError",
    "DisconnectedError",
    "HandshakeError",
    "InvalidPacketError",
    "LocalProtocolError",
    "NamespaceError",
    "PayloadTooLargeError",
    "PlexioError",
    "ProtocolError",
    "RemoteProtocolError",
]


class PlexioError(Exception):
    """Root of every exception raised by plexio."""


class ProtocolError(PlexioError):
    """Engine.IO or Socket.IO protocol rules were broken."""


class LocalProtocolError(ProtocolError):
    """The caller misused the API (e.g. sent on a closed session)."""


class InvalidPacketError(LocalProtocolError, ValueError):
    """An emit (or a packet built by hand) breaks the Socket.IO packet rules.

    A reserved event name (``connect``, ``disconnect``...), a namespace or ack id that
    is not valid, data that cannot be serialised. Raised at once, before anything is
    sent, with the same type on the server and the client; it is also a
    :class:`ValueError`.
    """


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol forbids."""


class DecodeError(RemoteProtocolError):
    """Input that does not decode as a packet or payload."""


class PayloadTooLargeError(DecodeError):
    """A payload, frame or packet count is over a configured limit."""


class HandshakeError(PlexioError):
    """An HTTP request that cannot open or reach a session.

    Attributes:
        code: Engine.IO error code as the reference server sends it
            (0 transport unknown, 1 session id unknown, 2 bad handshake method,
            3 bad request, 4 forbidden, 5 unsupported protocol version).
        status: HTTP status to answer with.
    """

    def __init__(self, code: int, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class ConnectRefusedError(PlexioError):
    """A namespace CONNECT is refused.

    Raise it from a namespace middleware to refuse a client; the client receives
    CONNECT_ERROR ``{"message": message, "data": data}`` (its ``connect_error``).
    Clients raise it when the server refused them.

    Attributes:
        message: the reason sent to the client.
        data: optional JSON details sent along.
    """

    def __init__(self, message: str, data: JSONValue = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class ConnectionRefusedError(ConnectRefusedError):  # noqa: A001 (python-socketio's name)
    """python-socketio's spelling of :class:`ConnectRefusedError`, with its arguments.

    ``ConnectionRefusedError()`` refuses with "Connection rejected by server",
    ``ConnectionRefusedError(message)`` with that message, ``(message, data)`` sends
    ``data`` along, and ``(message, a, b, ...)`` sends ``[a, b, ...]`` as the data.
    It is not Python's built-in ``ConnectionRefusedError`` (an ``OSError``, which a
    failing network call may raise): import it from plexio.

    Attributes:
        error_args: ``{"message": ..., "data": ...}`` as python-socketio exposes it.
    """

    def __init__(self, *args: JSONValue) -> None:
        message = str(args[0]) if args else "Connection rejected by server"
        data: JSONValue = None
        if len(args) == 2:
            data = args[1]
        elif len(args) > 2:
            data = list(args[1:])
        super().__init__(message, data)
        self.error_args: dict[str, JSONValue] = {"message": message}
        if len(args) > 1:
            self.error_args["data"] = data


class ConnectionFailure(StrEnum):
    """Why a client could not connect (:attr:`ClientConnectionError.reason`)."""

    REFUSED = "connection refused"
    """Nothing listens at that address (or a firewall said no)."""
    UNREACHABLE = "unreachable"
    """The host name does not resolve, or the network cannot reach it."""
    TIMEOUT = "timeout"
    """The server did not answer in time."""
    TLS = "tls error"
    """The TLS handshake failed (certificate, protocol)."""
    HTTP_STATUS = "http status"
    """The server answered with an HTTP error (``status`` says which): a wrong path,
    a proxy in the way, or the server refused the Engine.IO handshake."""
    PROTOCOL = "protocol error"
    """The server answered something that is not an Engine.IO handshake."""
    CLOSED = "closed"
    """The connection was closed (by the client, or lost without reconnection)."""


class ClientConnectionError(PlexioError):
    """A client connection could not be made or was lost.

    Attributes:
        reason: what went wrong (``None`` when unknown); the underlying exception, if
            any, is the ``__cause__``.
        status: the HTTP status when the server answered with an error.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: ConnectionFailure | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


class DisconnectedError(ClientConnectionError):
    """The operation needs a connection that is gone."""


class AckTimeoutError(PlexioError):
    """No acknowledgement arrived before the deadline.

    Attributes:
        responses: for a broadcast with acks, the replies that did arrive.
        silent: for a broadcast with acks across a cluster, the ids of the servers known
            to be up that did not report how many sockets they reached.
    """

    def __init__(
        self,
        message: str = "operation has timed out",
        responses: list[JSONValue] | None = None,
        silent: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.responses = responses
        self.silent = silent if silent is not None else []


class ClusterError(PlexioError):
    """A cluster-wide operation failed: the message bus (e.g. Redis) is unreachable."""


class ClusterTimeoutError(ClusterError):
    """Some servers of the cluster did not answer a request in time.

    Attributes:
        expected: how many servers were asked.
        answered: how many answered.
        silent: the ids of the servers known to be up that did not answer (a server that
            never sent anything cannot be named; ``expected - answered`` counts it).
        responses: what the servers that answered sent.
    """

    def __init__(
        self,
        message: str,
        *,
        expected: int,
        answered: int,
        silent: list[str],
        responses: list[JSONValue] | None = None,
    ) -> None:
        super().__init__(message)
        self.expected = expected
        self.answered = answered
        self.silent = silent
        self.responses = responses


class NamespaceError(PlexioError):
    """A namespace name that is invalid or not served."""
