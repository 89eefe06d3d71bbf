"""Socket.IO state of one Engine.IO session, server side (layer L1).

May import only plexio L0 modules and :mod:`plexio.socketio`; no asyncio, no Engine.IO.

Theory of operation. One Engine.IO session carries any number of Socket.IO
namespaces (Socket.IO v5, PROTOCOL.md item 62). :class:`ServerConnection` tracks
them and enforces the rules the reference server enforces by closing the whole
connection (items 56, 61, 63):

* a namespace must be joined with CONNECT before anything else is sent in it, so the
  first packet of a session must be a CONNECT (v5 has no implicit main namespace);
* a CONNECT for a namespace that is already joined (or whose CONNECT is still being
  decided) is an error;
* EVENT, ACK and DISCONNECT for a namespace that is not joined are errors;
* a client never sends CONNECT_ERROR.

One deliberate leniency over the reference server: after the server made the client
leave a namespace (:meth:`ServerConnection.send_disconnect`), packets the client sent
for it before seeing the DISCONNECT are dropped (``receive_message`` returns ``None``)
instead of closing the whole connection, since the client could not know; a new CONNECT
for that namespace ends the grace.

A namespace moves ``(absent) → pending → joined → (absent)``::

    receive CONNECT        absent  → pending   (ConnectRequested reported)
    accept(ns, sid)        pending → joined    (CONNECT reply to send)
    refuse(ns, message)    pending → absent    (CONNECT_ERROR to send; item 60)
    receive DISCONNECT     joined  → absent    (NamespaceDisconnected reported)
    send_disconnect(ns)    joined  → left      (DISCONNECT to send; item 68)
    receive CONNECT        left    → pending   (other packets for a left namespace
                                                are dropped)

Driving it: pass every Engine.IO message of the session, in order, to
:meth:`ServerConnection.receive_message` and handle the event it returns; write the
messages that the ``accept``/``refuse``/``send_*`` methods return. A peer that breaks
the protocol never raises into the caller (as the Engine.IO core): the failure is
recorded, the connection closes and ``receive_message`` returns
:class:`~plexio.socketio.events.ConnectionClosed` with the reason to close the
Engine.IO session with. When the
session ends for any reason call :meth:`ServerConnection.close`, which returns the
joined namespaces so the caller can clean them up. Timers (the connect timeout of
item 61) belong to the caller; :attr:`ServerConnection.joined_any` tells whether a
CONNECT was ever accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, cast

import orjson

from plexio.config import Limits
from plexio.enums import DisconnectReason
from plexio.exceptions import DecodeError, LocalProtocolError, RemoteProtocolError
from plexio.socketio.acks import AckIds
from plexio.socketio.events import (
    AckReceived,
    ConnectionClosed,
    ConnectRequested,
    EventReceived,
    NamespaceDisconnected,
    SocketEvent,
)
from plexio.socketio.packets import Packet, PacketType
from plexio.socketio.parser import JsonParser, Parser
from plexio.typing import BytesLike, JSONValue, NamespacePath, Sid

__all__ = ["DEFAULT_MAX_NAMESPACES", "ServerConnection"]

#: Default for ``max_namespaces``: joined plus pending namespaces of one session.
DEFAULT_MAX_NAMESPACES: Final = 100

_CONNECT: Final = PacketType.CONNECT
_DISCONNECT: Final = PacketType.DISCONNECT
_EVENT: Final = PacketType.EVENT
_ACK: Final = PacketType.ACK


class ServerConnection:
    """Server-side Socket.IO state of one Engine.IO session (sans-I/O).

    Args:
        parser: the codec for this session (its decoder is created here).
        limits: decoding limits; ``limits.max_ack_id_digits`` also bounds the ack ids
            this side allocates.
        max_namespaces: most namespaces a client may have joined or be joining at
            once; one more CONNECT is a protocol error (a client cannot make the
            server hold unbounded state).
    """

    __slots__ = (
        "_ack_ids",
        "_closed",
        "_decoder",
        "_joined",
        "_joined_any",
        "_left",
        "_max_namespaces",
        "_parser",
        "_pending",
    )

    def __init__(
        self,
        parser: Parser,
        limits: Limits | None = None,
        *,
        max_namespaces: int = DEFAULT_MAX_NAMESPACES,
    ) -> None:
        if max_namespaces < 1:
            raise ValueError("max_namespaces must be >= 1")
        limits = limits if limits is not None else Limits()
        self._parser = parser
        self._decoder = parser.decoder(limits)
        self._max_namespaces = max_namespaces
        self._ack_ids = AckIds(limits.max_ack_id_digits)
        self._joined: dict[NamespacePath, Sid] = {}
        # A dict, not a set: an empty one costs 64 bytes instead of 216 (idle sessions).
        self._pending: dict[NamespacePath, None] = {}
        # Namespaces the server made the client leave (insertion-ordered, bounded).
        self._left: dict[NamespacePath, None] = {}
        self._closed = False
        self._joined_any = False

    # -- state ----------------------------------------------------------------

    @property
    def parser(self) -> Parser:
        """The codec of this session (use it to encode broadcasts once)."""
        return self._parser

    @property
    def namespaces(self) -> Mapping[NamespacePath, Sid]:
        """Joined namespaces and the client's sid in each (a read-only live view)."""
        return MappingProxyType(self._joined)

    @property
    def pending(self) -> frozenset[NamespacePath]:
        """Namespaces whose CONNECT awaits :meth:`accept` or :meth:`refuse`."""
        return frozenset(self._pending)

    @property
    def joined_any(self) -> bool:
        """Whether a CONNECT was ever accepted (for the connect timeout, item 61)."""
        return self._joined_any

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called or the peer broke the protocol."""
        return self._closed

    def sid_of(self, namespace: NamespacePath) -> Sid | None:
        """The client's sid in ``namespace``, or ``None`` when it is not joined."""
        return self._joined.get(namespace)

    # -- input ----------------------------------------------------------------

    def receive_message(self, message: str | BytesLike) -> SocketEvent | None:
        """Process one Engine.IO message of this session.

        Args:
            message: a text (``str``) or binary Engine.IO message, in arrival order.

        Returns:
            The event to handle, or ``None`` when there is nothing to do (a binary
            packet waits for its attachments, or a late packet for a namespace the
            server just left was dropped). A peer that broke the protocol gets a
            :class:`~plexio.socketio.events.ConnectionClosed`: the connection is now
            closed; close the Engine.IO session and clean up the namespaces that
            :meth:`close` returns.

        Raises:
            LocalProtocolError: the connection is already closed (a caller bug; check
                :attr:`closed`).
        """
        if self._closed:
            raise LocalProtocolError("the Socket.IO connection is closed")
        try:
            packet = self._decoder.feed(message)
            if packet is None:
                return None
            return self._handle(packet)
        except RemoteProtocolError as exc:
            # Blame the peer here, once (the only entry point for its bytes): record
            # the failure and report it as an event, never as an exception.
            self._closed = True
            self._decoder.reset()
            reason = (
                DisconnectReason.PARSE_ERROR
                if isinstance(exc, DecodeError)
                else DisconnectReason.PROTOCOL_ERROR
            )
            return ConnectionClosed(reason, str(exc))

    def _handle(self, packet: Packet) -> SocketEvent | None:
        kind = packet.type
        namespace = packet.namespace
        sid = self._joined.get(namespace)
        if sid is None and kind != _CONNECT and namespace in self._left:
            if kind == PacketType.CONNECT_ERROR:
                raise RemoteProtocolError("a client may not send CONNECT_ERROR")
            return None  # sent before the client saw the server's DISCONNECT
        if kind == _EVENT:
            if sid is None:
                raise self._not_joined(packet)
            data = packet.data
            return EventReceived(namespace, sid, data[0], data[1:], packet.ack_id)
        if kind == _ACK:
            if sid is None:
                raise self._not_joined(packet)
            # An ACK packet always carries an id (Packet validates it).
            return AckReceived(namespace, sid, cast(int, packet.ack_id), packet.data)
        if kind == _CONNECT:
            if sid is not None or namespace in self._pending:
                raise RemoteProtocolError(f"second CONNECT for namespace {namespace[:40]!r}")
            if len(self._joined) + len(self._pending) >= self._max_namespaces:
                raise RemoteProtocolError(
                    f"more than {self._max_namespaces} namespaces on one connection"
                )
            self._left.pop(namespace, None)
            self._pending[namespace] = None
            auth = packet.data
            return ConnectRequested(namespace, auth if auth is not None else {})
        if kind == _DISCONNECT:
            if sid is None:
                raise self._not_joined(packet)
            del self._joined[namespace]
            return NamespaceDisconnected(namespace, sid)
        raise RemoteProtocolError("a client may not send CONNECT_ERROR")

    def _not_joined(self, packet: Packet) -> RemoteProtocolError:
        if not self._joined_any:
            return RemoteProtocolError(
                f"first packet must be CONNECT, got {PacketType(packet.type).name}"
            )
        return RemoteProtocolError(
            f"{PacketType(packet.type).name} for namespace {packet.namespace[:40]!r}, "
            "which the client has not joined"
        )

    # -- output ---------------------------------------------------------------

    def accept(
        self, namespace: NamespacePath, sid: Sid, *, pid: str | None = None
    ) -> list[str | bytes]:
        """Accept a pending CONNECT: the client joins ``namespace`` as ``sid``.

        Args:
            namespace: the namespace of the pending CONNECT.
            sid: the client's socket id in it.
            pid: the private session id of connection state recovery, sent with the
                sid when recovery is on (``None``: off).

        Returns:
            The CONNECT reply ``{"sid": sid}`` (plus ``"pid"``) to write now, before
            any event of that namespace (item 58).

        Raises:
            LocalProtocolError: ``namespace`` has no pending CONNECT, or the
                connection is closed.
        """
        self._take_pending(namespace)
        self._joined[namespace] = sid
        self._joined_any = True
        reply: dict[str, JSONValue] = {"sid": sid} if pid is None else {"sid": sid, "pid": pid}
        if self._parser.__class__ is JsonParser:
            # What JsonParser.encode(Packet.connect(...)) gives, without building and
            # validating a packet (the namespace was validated when its CONNECT came).
            head = "0" if namespace == "/" else "0" + namespace + ","
            return [head + orjson.dumps(reply).decode()]
        return self._parser.encode(Packet.connect(namespace, reply))

    def refuse(
        self, namespace: NamespacePath, message: str, data: JSONValue = None
    ) -> list[str | bytes]:
        """Refuse a pending CONNECT (the Engine.IO session stays open, item 60).

        Args:
            namespace: the namespace of the pending CONNECT.
            message: the reason shown to the client (never an exception text).
            data: optional details for the client.

        Returns:
            The CONNECT_ERROR packet to write.

        Raises:
            LocalProtocolError: ``namespace`` has no pending CONNECT, or the
                connection is closed.
        """
        self._take_pending(namespace)
        return self._parser.encode(Packet.connect_error(namespace, message, data))

    def _take_pending(self, namespace: NamespacePath) -> None:
        self._check_open()
        pending = self._pending
        try:
            del pending[namespace]
        except KeyError:
            raise LocalProtocolError(f"no pending CONNECT for {namespace[:40]!r}") from None
        if not pending:
            self._pending = {}  # an emptied dict keeps its table; a new one has none

    @property
    def next_ack_id(self) -> int:
        """The id :meth:`allocate_ack_id` would return now (no id at or above it is
        in use, until the counter wraps)."""
        return self._ack_ids.next

    def allocate_ack_id(self, at_least: int = 0) -> int:
        """A fresh id for an event that expects an acknowledgement.

        Ids count up from 0 for the whole session (so they are unique across its
        namespaces) and wrap before exceeding ``limits.max_ack_id_digits`` digits.

        Args:
            at_least: skip ahead to this id. A broadcast that expects acks carries
                one id for all its recipients (it is encoded once): it takes the
                largest :attr:`next_ack_id` among them and allocates it on each.
        """
        return self._ack_ids.allocate(at_least)

    def send_event(
        self, namespace: NamespacePath, data: list[JSONValue], ack_id: int | None = None
    ) -> list[str | bytes]:
        """Encode an EVENT for the client in ``namespace``.

        Args:
            namespace: a joined namespace.
            data: the event name followed by its arguments.
            ack_id: from :meth:`allocate_ack_id` when an acknowledgement is expected.

        Returns:
            The Engine.IO messages to write.

        Raises:
            LocalProtocolError: the namespace is not joined, the connection is closed,
                or the data is invalid.
        """
        if self._closed or namespace not in self._joined:
            self._check_joined(namespace)  # raises
        return self._parser.encode(Packet(_EVENT, namespace, data, ack_id))

    def send_ack(
        self, namespace: NamespacePath, ack_id: int, data: list[JSONValue]
    ) -> list[str | bytes]:
        """Encode the ACK answering the client's event ``ack_id`` (item 65).

        Raises:
            LocalProtocolError: the namespace is not joined, the connection is closed,
                or the data is invalid.
        """
        if self._closed or namespace not in self._joined:
            self._check_joined(namespace)  # raises
        return self._parser.encode(Packet(_ACK, namespace, data, ack_id))

    def send_disconnect(self, namespace: NamespacePath) -> list[str | bytes]:
        """Make the client leave ``namespace`` (server-side ``socket.disconnect()``).

        The namespace is left at once; the Engine.IO session stays open.

        Returns:
            The DISCONNECT packet to write.

        Raises:
            LocalProtocolError: the namespace is not joined or the connection is closed.
        """
        self._check_joined(namespace)
        del self._joined[namespace]
        left = self._left
        left[namespace] = None
        if len(left) > self._max_namespaces:
            del left[next(iter(left))]
        return self._parser.encode(Packet.disconnect(namespace))

    def _check_open(self) -> None:
        if self._closed:
            raise LocalProtocolError("the Socket.IO connection is closed")

    def _check_joined(self, namespace: NamespacePath) -> None:
        self._check_open()
        if namespace not in self._joined:
            raise LocalProtocolError(f"namespace {namespace[:40]!r} is not joined")

    def close(self) -> dict[NamespacePath, Sid]:
        """End the connection (the Engine.IO session ended or is being closed).

        Drops pending CONNECTs and any partial binary packet. Calling it again
        returns an empty dict.

        Returns:
            The namespaces that were joined and the client's sid in each, for the
            caller to clean up (rooms, pending acks, disconnect handlers).
        """
        self._closed = True
        self._decoder.reset()
        self._pending.clear()
        self._left.clear()
        joined = dict(self._joined)
        self._joined.clear()
        return joined

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"ServerConnection({state}, namespaces={sorted(self._joined)!r})"
