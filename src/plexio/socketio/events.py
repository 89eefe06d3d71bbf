"""What a Socket.IO connection reports upward (layer L1: imports only plexio L0 modules).

These are facts about received packets, produced by
:meth:`plexio.socketio.connection.ServerConnection.receive_message`. They are immutable
values; handle them with ``match`` on :data:`SocketEvent`.

The two made for every packet, :class:`EventReceived` and :class:`AckReceived`, are typed
named tuples: one is built in a third of the instructions of a frozen dataclass (whose
``__init__`` stores each field with ``object.__setattr__``). They compare equal only to
an event of the same class with the same fields (never to a plain tuple or to another
event class); the rarer events are frozen, slotted dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, TypeAlias

from plexio.enums import DisconnectReason
from plexio.typing import JSONValue, NamespacePath, Sid

__all__ = [
    "AckReceived",
    "ClientEvent",
    "ClientNamespaceEvent",
    "ConnectAccepted",
    "ConnectRefused",
    "ConnectRequested",
    "ConnectionClosed",
    "EventReceived",
    "NamespaceClosed",
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


class EventReceived(NamedTuple):
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

    # Equal only to the same class (a tuple compares by content alone).
    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return tuple.__hash__(self)


class AckReceived(NamedTuple):
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

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return tuple.__hash__(self)


@dataclass(frozen=True, slots=True)
class NamespaceDisconnected:
    """The client left a namespace with DISCONNECT; the Engine.IO session stays open.

    Attributes:
        namespace: the namespace left.
        sid: the Socket.IO sid the client had in it.
    """

    namespace: NamespacePath
    sid: Sid


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The peer broke the protocol: the connection is now closed (as the Engine.IO
    core's ``Disconnected``). Close the Engine.IO session with ``reason`` and clean up
    the namespaces that ``close()`` returns.

    Attributes:
        reason: ``PARSE_ERROR`` for input that does not decode, ``PROTOCOL_ERROR``
            for a packet the rules forbid.
        detail: what was wrong, for logs (never send it to the peer).
    """

    reason: DisconnectReason
    detail: str


#: Every event a :class:`~plexio.socketio.connection.ServerConnection` reports.
SocketEvent: TypeAlias = (
    ConnectRequested | EventReceived | AckReceived | NamespaceDisconnected | ConnectionClosed
)


# -- client side ------------------------------------------------------------------
#
# What :meth:`plexio.socketio.client.ClientConnection.receive_message` reports. An EVENT
# or ACK from the server is reported with the shared :class:`EventReceived` and
# :class:`AckReceived` above (``sid`` is then the client's own sid in the namespace).


@dataclass(frozen=True, slots=True)
class ConnectAccepted:
    """The server accepted the client's CONNECT.

    Attributes:
        namespace: the namespace joined.
        sid: the client's sid in it.
        pid: the private session id the server sends when connection state recovery is
            on (``None`` otherwise); the client sends it back on its next CONNECT.
        recovered: the server restored the previous session of this namespace (same
            ``pid`` as before): its sid, rooms and data are back.
        events: events of this namespace that arrived before the reply (Node's server
            sends the events a recovered session missed first). Handle them right
            after marking the namespace joined and before anything else, as the
            official client does.
    """

    namespace: NamespacePath
    sid: Sid
    pid: str | None = None
    recovered: bool = False
    events: tuple[EventReceived, ...] = ()


@dataclass(frozen=True, slots=True)
class ConnectRefused:
    """The server refused the client's CONNECT (CONNECT_ERROR); the session stays open.

    Attributes:
        namespace: the namespace refused.
        message: the reason the server gave.
        data: the details it sent along (``None`` when there were none).
    """

    namespace: NamespacePath
    message: str
    data: JSONValue = None


@dataclass(frozen=True, slots=True)
class NamespaceClosed:
    """A namespace the client had joined is no longer joined.

    Reported by ``receive_message`` when the server sent DISCONNECT, and returned by
    ``disconnect`` and ``session_ended``.

    Attributes:
        namespace: the namespace left.
        sid: the sid the client had in it.
        reason: why, as the official client names it (``IO_SERVER_DISCONNECT``,
            ``IO_CLIENT_DISCONNECT``, ``TRANSPORT_CLOSE``, ``TRANSPORT_ERROR``,
            ``PING_TIMEOUT``, ``PARSE_ERROR``).
        unanswered: ids of events sent in this namespace whose acknowledgement will
            never come now (fail their callbacks).
    """

    namespace: NamespacePath
    sid: Sid
    reason: DisconnectReason
    unanswered: tuple[int, ...] = ()


#: Every event a :class:`~plexio.socketio.client.ClientConnection` reports.
ClientEvent: TypeAlias = (
    ConnectAccepted
    | ConnectRefused
    | EventReceived
    | AckReceived
    | NamespaceClosed
    | ConnectionClosed
)
#: The client events that concern one namespace (all but ``ConnectionClosed``).
ClientNamespaceEvent: TypeAlias = (
    ConnectAccepted | ConnectRefused | EventReceived | AckReceived | NamespaceClosed
)
