"""What a Socket.IO connection reports upward (layer L1: imports only plexio L0 modules).

These are facts about received packets, produced by
:meth:`plexio.socketio.connection.ServerConnection.receive_message`. They are frozen,
slotted dataclasses; handle them with ``match`` on :data:`SocketEvent`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from plexio.typing import JSONValue, NamespacePath, Sid

__all__ = [
    "AckReceived",
    "ConnectRequested",
    "EventReceived",
    "NamespaceDisconnected",
    "SocketEvent",
]


@dataclass(frozen=True, slots=True)
class ConnectRequested:
    """The client sent CONNECT for a namespace it has not joined.

    Answer with ``accept(namespace, sid)`` or ``refuse(namespace, message)``.

    Attributes:
        namespace: the namespace asked for.
        auth: the client's auth object (``{}`` when the CONNECT had no payload, as
            Node's ``socket.handshake.auth``).
    """

    namespace: NamespacePath
    auth: dict[str, JSONValue]


@dataclass(frozen=True, slots=True)
class EventReceived:
    """The client emitted an event in a joined namespace.

    Attributes:
        namespace: the namespace of the event.
        sid: the Socket.IO sid of the client in that namespace.
        name: the event name (a ``str``, or a number as JS clients may send).
        args: the event arguments, binary values restored as ``bytes``.
        ack_id: set when the client waits for an acknowledgement; answer with
            ``send_ack(namespace, ack_id, args)``.
    """

    namespace: NamespacePath
    sid: Sid
    name: str | int | float
    args: list[JSONValue]
    ack_id: int | None = None


@dataclass(frozen=True, slots=True)
class AckReceived:
    """The client acknowledged an event the server sent with ``ack_id``.

    Attributes:
        namespace: the namespace of the acknowledged event.
        sid: the Socket.IO sid of the client in that namespace.
        ack_id: the id the server's event carried (unknown ids are the caller's to
            ignore, as the reference server does).
        args: the acknowledgement arguments.
    """

    namespace: NamespacePath
    sid: Sid
    ack_id: int
    args: list[JSONValue]


@dataclass(frozen=True, slots=True)
class NamespaceDisconnected:
    """The client left a namespace with DISCONNECT; the Engine.IO session stays open.

    Attributes:
        namespace: the namespace left.
        sid: the Socket.IO sid the client had in it.
    """

    namespace: NamespacePath
    sid: Sid


#: Every event a :class:`~plexio.socketio.connection.ServerConnection` reports.
SocketEvent: TypeAlias = ConnectRequested | EventReceived | AckReceived | NamespaceDisconnected
