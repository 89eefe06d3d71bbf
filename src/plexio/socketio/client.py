"""Socket.IO state of one client connection (layer L1).

May import only plexio L0 modules and :mod:`plexio.socketio`; no asyncio, no Engine.IO.

Theory of operation. :class:`ClientConnection` is the client's half of what
:class:`~plexio.socketio.connection.ServerConnection` is for the server: it owns the
namespaces multiplexed over one Engine.IO connection, the acknowledgements the client
waits for, and the connection state recovery bookkeeping, and it turns every packet
the client sends into Engine.IO messages through the session's parser. It lives as
long as the client's manager: when an Engine.IO session ends (:meth:`session_ended`)
every namespace is left, but what recovery needs (each namespace's ``pid`` and last
offset) is kept for the next session.

A namespace moves ``(absent) → connecting → joined → (absent)``::

    connect(ns, auth)          absent     → connecting  (CONNECT to send)
    receive CONNECT reply      connecting → joined      (ConnectAccepted reported)
    receive CONNECT_ERROR      connecting → absent      (ConnectRefused reported)
    receive DISCONNECT         joined     → absent      (NamespaceClosed reported,
                                                          "io server disconnect")
    disconnect(ns)             joined     → absent      (DISCONNECT to send,
                                                          "io client disconnect")
    disconnect(ns)             connecting → absent      (nothing to send)
    session_ended(reason)      any        → absent      (NamespaceClosed per joined one)

Leniency, as the official ``socket.io-client``: a packet for a namespace the client is
not in (or an ACK nobody waits for) is dropped (``receive_message`` returns ``None``);
only input that does not decode is a protocol error, reported as the server's core
reports one (:class:`~plexio.socketio.events.ConnectionClosed`, never an exception).
Events for a namespace whose CONNECT reply has not come yet are kept and handed over
with it (:attr:`ConnectAccepted.events`): Node's server sends a recovered session's
missed events before its reply.

Connection state recovery (Socket.IO v5 with a server that has it on). The server's
CONNECT reply then carries a ``pid``; every event it sends ends with a string offset.
The client keeps the ``pid`` and the last offset of each namespace and sends both in
its next CONNECT (``{"pid": ..., "offset": ..., **auth}``); a reply with the same
``pid`` means the session was restored (:attr:`ConnectAccepted.recovered`) and the
missed events follow.

Acknowledgements. Ids come from :meth:`ClientConnection.allocate_ack_id` (unique over
the connection's whole life, so an id allocated while offline is still good later);
:meth:`ClientConnection.send_event` with an id makes the connection wait for it in that
namespace. An ACK is reported once; :meth:`ClientConnection.forget_ack` drops one whose
deadline passed; when the namespace is left the ids still waited for are listed in
:attr:`NamespaceClosed.unanswered`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, cast

from plexio.config import Limits
from plexio.enums import DisconnectReason
from plexio.exceptions import LocalProtocolError, RemoteProtocolError
from plexio.socketio.acks import AckIds
from plexio.socketio.events import (
    AckReceived,
    ClientEvent,
    ConnectAccepted,
    ConnectionClosed,
    ConnectRefused,
    EventReceived,
    NamespaceClosed,
)
from plexio.socketio.packets import Packet, PacketType
from plexio.socketio.parser import Parser
from plexio.typing import BytesLike, JSONValue, NamespacePath, Sid

__all__ = ["ClientConnection"]

_CONNECT: Final = PacketType.CONNECT
_DISCONNECT: Final = PacketType.DISCONNECT
_EVENT: Final = PacketType.EVENT
_ACK: Final = PacketType.ACK
_CONNECT_ERROR: Final = PacketType.CONNECT_ERROR

#: What a CONNECT reply without a sid means (a Socket.IO v2 server answering a v5 client).
NO_SID_MESSAGE: Final = "the server's CONNECT reply has no sid (not a Socket.IO v5 server?)"


@dataclass(slots=True)
class _Recovery:
    """What a namespace needs to ask for its session back."""

    pid: str | None = None
    offset: str | None = None


@dataclass(slots=True)
class _Joined:
    sid: Sid
    awaited: dict[int, None] = field(default_factory=dict)  # in sending order


class ClientConnection:
    """Client-side Socket.IO state of a manager's connection (sans-I/O).

    Args:
        parser: the codec (a decoder is made here; one per Engine.IO session).
        limits: decoding limits for what the server sends;
            ``limits.max_ack_id_digits`` also bounds the ack ids this side allocates.
    """

    __slots__ = (
        "_ack_ids",
        "_connecting",
        "_decoder",
        "_early",
        "_joined",
        "_limits",
        "_parser",
        "_recovery",
    )

    def __init__(self, parser: Parser, limits: Limits | None = None) -> None:
        self._parser = parser
        self._limits = limits if limits is not None else Limits()
        self._decoder = parser.decoder(self._limits)
        self._ack_ids = AckIds(self._limits.max_ack_id_digits)
        self._joined: dict[NamespacePath, _Joined] = {}
        self._connecting: set[NamespacePath] = set()
        # Events received while a namespace's CONNECT awaits its reply, in order.
        self._early: dict[NamespacePath, list[Packet]] = {}
        self._recovery: dict[NamespacePath, _Recovery] = {}

    # -- state ----------------------------------------------------------------

    @property
    def parser(self) -> Parser:
        """The codec of this connection."""
        return self._parser

    @property
    def namespaces(self) -> Mapping[NamespacePath, Sid]:
        """Joined namespaces and the client's sid in each (a read-only snapshot)."""
        return MappingProxyType({ns: j.sid for ns, j in self._joined.items()})

    @property
    def connecting(self) -> frozenset[NamespacePath]:
        """Namespaces whose CONNECT awaits the server's answer."""
        return frozenset(self._connecting)

    def sid_of(self, namespace: NamespacePath) -> Sid | None:
        """The client's sid in ``namespace``, or ``None`` when it is not joined."""
        joined = self._joined.get(namespace)
        return None if joined is None else joined.sid

    def pid_of(self, namespace: NamespacePath) -> str | None:
        """The recovery ``pid`` the server gave for ``namespace`` last (``None``: none)."""
        recovery = self._recovery.get(namespace)
        return None if recovery is None else recovery.pid

    def awaits_ack(self, namespace: NamespacePath, ack_id: int) -> bool:
        """Whether an acknowledgement ``ack_id`` is waited for in ``namespace``."""
        joined = self._joined.get(namespace)
        return joined is not None and ack_id in joined.awaited

    # -- output ---------------------------------------------------------------

    def connect(
        self, namespace: NamespacePath, auth: Mapping[str, JSONValue] | None = None
    ) -> list[str | bytes]:
        """Join ``namespace``: the CONNECT packet to write.

        With a ``pid`` from an earlier session of this namespace, the payload also
        carries ``pid`` and the last offset (keys of ``auth`` win, as in the official
        client).

        Raises:
            LocalProtocolError: the namespace is already joined or connecting, or
                ``auth`` is not a dict of JSON values.
        """
        if namespace in self._joined or namespace in self._connecting:
            raise LocalProtocolError(f"namespace {namespace[:40]!r} is already joined or joining")
        if auth is not None and not isinstance(auth, Mapping):
            raise LocalProtocolError("auth must be a dict or None")
        payload: dict[str, JSONValue] | None = None if auth is None else dict(auth)
        recovery = self._recovery.get(namespace)
        if recovery is not None and recovery.pid is not None:
            restore: dict[str, JSONValue] = {"pid": recovery.pid}
            if recovery.offset is not None:
                restore["offset"] = recovery.offset
            payload = {**restore, **(payload or {})}
        messages = self._parser.encode(Packet.connect(namespace, payload))
        self._connecting.add(namespace)
        return messages

    def disconnect(
        self, namespace: NamespacePath
    ) -> tuple[list[str | bytes], NamespaceClosed | None]:
        """Leave ``namespace`` (client-side ``socket.disconnect()``).

        Returns:
            The DISCONNECT packet to write (nothing when the namespace was still
            connecting or not joined) and, when it was joined, what was left.
        """
        self._connecting.discard(namespace)
        self._early.pop(namespace, None)
        joined = self._joined.pop(namespace, None)
        if joined is None:
            return [], None
        closed = self._closed(namespace, joined, DisconnectReason.IO_CLIENT_DISCONNECT)
        return self._parser.encode(Packet.disconnect(namespace)), closed

    def allocate_ack_id(self) -> int:
        """A fresh id for an event that expects an acknowledgement.

        Ids count up from 0 for the connection's whole life and wrap before
        exceeding ``limits.max_ack_id_digits`` digits.
        """
        return self._ack_ids.allocate()

    def send_event(
        self, namespace: NamespacePath, data: list[JSONValue], ack_id: int | None = None
    ) -> list[str | bytes]:
        """Encode an EVENT for the server in ``namespace``.

        Args:
            namespace: a joined namespace.
            data: the event name followed by its arguments.
            ack_id: from :meth:`allocate_ack_id` when an acknowledgement is expected;
                the connection then waits for it.

        Returns:
            The Engine.IO messages to write.

        Raises:
            LocalProtocolError: the namespace is not joined or the data is invalid
                (nothing is waited for then).
        """
        joined = self._require_joined(namespace)
        messages = self._parser.encode(Packet.event(namespace, data, ack_id))
        if ack_id is not None:
            joined.awaited[ack_id] = None
        return messages

    def send_ack(
        self, namespace: NamespacePath, ack_id: int, data: list[JSONValue]
    ) -> list[str | bytes]:
        """Encode the ACK answering the server's event ``ack_id``.

        Raises:
            LocalProtocolError: the namespace is not joined or the data is invalid.
        """
        self._require_joined(namespace)
        return self._parser.encode(Packet.ack(namespace, ack_id, data))

    def forget_ack(self, namespace: NamespacePath, ack_id: int) -> None:
        """Stop waiting for ``ack_id`` (its deadline passed): a late ACK is dropped."""
        joined = self._joined.get(namespace)
        if joined is not None:
            joined.awaited.pop(ack_id, None)

    def _require_joined(self, namespace: NamespacePath) -> _Joined:
        joined = self._joined.get(namespace)
        if joined is None:
            raise LocalProtocolError(f"namespace {namespace[:40]!r} is not joined")
        return joined

    # -- input ----------------------------------------------------------------

    def receive_message(self, message: str | BytesLike) -> ClientEvent | None:
        """Process one Engine.IO message from the server.

        Args:
            message: a text (``str``) or binary Engine.IO message, in arrival order.

        Returns:
            The event to handle, or ``None`` when there is nothing to do (a binary
            packet waits for its attachments, or the packet concerns no namespace the
            client is in or no acknowledgement it waits for). Input that does not
            decode gives :class:`~plexio.socketio.events.ConnectionClosed` with
            ``PARSE_ERROR`` (the partial packet is dropped): as the official client,
            close the Engine.IO session and call :meth:`session_ended` with that
            reason.
        """
        try:
            packet = self._decoder.feed(message)
        except RemoteProtocolError as exc:  # the codecs raise only DecodeError
            self._decoder.reset()
            return ConnectionClosed(DisconnectReason.PARSE_ERROR, str(exc))
        if packet is None:
            return None
        return self._handle(packet)

    def _handle(self, packet: Packet) -> ClientEvent | None:
        kind = packet.type
        namespace = packet.namespace
        if kind == _EVENT:
            joined = self._joined.get(namespace)
            if joined is None:
                if namespace in self._connecting:
                    self._early.setdefault(namespace, []).append(packet)
                return None
            return self._event(packet, joined.sid)
        if kind == _ACK:
            joined = self._joined.get(namespace)
            ack_id = cast(int, packet.ack_id)  # an ACK packet always carries one
            if joined is None or ack_id not in joined.awaited:
                return None
            del joined.awaited[ack_id]
            return AckReceived(namespace, joined.sid, ack_id, packet.data)
        if kind == _CONNECT:
            if namespace not in self._connecting:
                return None
            self._connecting.discard(namespace)
            early = self._early.pop(namespace, [])
            data = packet.data if isinstance(packet.data, dict) else {}
            sid = data.get("sid")
            if not isinstance(sid, str) or not sid:
                return ConnectRefused(namespace, NO_SID_MESSAGE)
            pid = data.get("pid")
            pid = pid if isinstance(pid, str) else None
            recovery = self._recovery.setdefault(namespace, _Recovery())
            recovered = pid is not None and pid == recovery.pid
            recovery.pid = pid  # the last offset stays, as in the official client
            self._joined[namespace] = _Joined(sid)
            events = tuple(self._event(p, sid) for p in early)
            return ConnectAccepted(namespace, sid, pid, recovered, events)
        if kind == _CONNECT_ERROR:
            if namespace not in self._connecting:
                return None
            self._connecting.discard(namespace)
            self._early.pop(namespace, None)
            # Not ``data``: that name is a dict above, and mypyc checks it stays one.
            refusal = packet.data
            if isinstance(refusal, dict):
                return ConnectRefused(
                    namespace, str(refusal.get("message", "")), refusal.get("data")
                )
            return ConnectRefused(namespace, str(refusal))
        # DISCONNECT
        joined = self._joined.pop(namespace, None)
        if joined is None:
            self._connecting.discard(namespace)
            self._early.pop(namespace, None)
            return None
        return self._closed(namespace, joined, DisconnectReason.IO_SERVER_DISCONNECT)

    def _event(self, packet: Packet, sid: Sid) -> EventReceived:
        """An EVENT of a joined namespace; with recovery on, its offset is remembered."""
        data = packet.data
        args = data[1:]
        recovery = self._recovery.get(packet.namespace)
        if recovery is not None and recovery.pid is not None and args:
            offset = args[-1]
            if isinstance(offset, str):
                recovery.offset = offset
        return EventReceived(packet.namespace, sid, data[0], args, packet.ack_id)

    # -- end of a session -----------------------------------------------------

    def session_ended(self, reason: DisconnectReason) -> list[NamespaceClosed]:
        """The Engine.IO session ended: every namespace is left.

        Pending CONNECTs and any partial binary packet are dropped; each namespace's
        recovery ``pid`` and offset are kept for the next session.

        Returns:
            What was left, one record per joined namespace, in joining order.
        """
        self._decoder = self._parser.decoder(self._limits)
        self._connecting.clear()
        self._early.clear()
        joined, self._joined = self._joined, {}
        return [self._closed(ns, j, reason) for ns, j in joined.items()]

    @staticmethod
    def _closed(
        namespace: NamespacePath, joined: _Joined, reason: DisconnectReason
    ) -> NamespaceClosed:
        return NamespaceClosed(namespace, joined.sid, reason, tuple(joined.awaited))

    def __repr__(self) -> str:
        return (
            f"ClientConnection(namespaces={sorted(self._joined)!r}, "
            f"connecting={sorted(self._connecting)!r})"
        )
