"""The adapter contract: room index, broadcast, and cluster-wide operations (layer L3).

May import: plexio L0, plexio.engineio.packets (the framer), plexio.socketio,
plexio.server.recovery. Adapters reach sockets only through the narrow
:class:`SocketEmitter` the namespace gives them, never the namespace or socket classes.
:class:`BroadcastOptions` is a plain, serialisable value (rooms, excluded rooms, flags)
that adapters receive and can send to other servers.

:class:`Adapter` keeps the local room index and implements every operation for this
process; a cluster adapter (Redis) subclasses it and adds the remote half of each
method (publish a broadcast, ask other servers for sockets, ...).
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from plexio.engineio.packets import Frame
from plexio.server.fetched import FetchedSocket
from plexio.server.recovery import RecoveryOptions, SavedSession
from plexio.server.signatures import OutgoingSpec
from plexio.socketio.packets import Packet
from plexio.transports.base import uncompressed
from plexio.typing import JSONValue

__all__ = [
    "Adapter",
    "AdapterFactory",
    "AckArgsCallback",
    "BroadcastFlags",
    "BroadcastOptions",
    "ServerSideAck",
    "SocketDetails",
    "SocketEmitter",
]

#: Receives the arguments of one socket's acknowledgement.
AckArgsCallback = Callable[[list[JSONValue]], None]


@dataclass(frozen=True, slots=True)
class BroadcastFlags:
    """Delivery flags of one emit.

    Attributes:
        volatile: may be dropped when a recipient is not ready or is behind.
        compress: whether the transport may compress it.
        local: only this server's sockets (no cluster publish).
        timeout: seconds to wait for acknowledgements, for emits with acks.
    """

    volatile: bool = False
    compress: bool = True
    local: bool = False
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class BroadcastOptions:
    """Who receives a broadcast.

    Attributes:
        rooms: target rooms (their union); empty means every socket of the namespace.
        except_rooms: sockets in any of these rooms are skipped.
        flags: delivery flags.
    """

    rooms: frozenset[str] = frozenset()
    except_rooms: frozenset[str] = frozenset()
    flags: BroadcastFlags = field(default_factory=BroadcastFlags)


#: Answers a server-side event that asked for a reply (only the first call counts).
ServerSideAck = Callable[[JSONValue], None]


@dataclass(frozen=True, slots=True)
class SocketDetails:
    """A socket as another server sees it (what ``fetch_sockets`` sends across a cluster).

    Attributes:
        id: the socket id.
        handshake: the handshake as the JavaScript server shapes it (``headers``,
            ``time``, ``address``, ``xdomain``, ``secure``, ``issued``, ``url``,
            ``query``, ``auth``).
        rooms: the rooms it is in (its own id room included).
        data: its ``socket.data``.
    """

    id: str
    handshake: dict[str, JSONValue]
    rooms: list[str]
    data: JSONValue


class SocketEmitter(Protocol):
    """What a namespace lets its adapter do with its local sockets."""

    @property
    def name(self) -> str:
        """The namespace name."""
        ...

    @property
    def outgoing(self) -> dict[str, OutgoingSpec]:
        """Declared outgoing events (``Namespace.emits``); empty while none is."""
        ...

    def socket_details(self, sid: str) -> SocketDetails | None:
        """A local socket as a serialisable value, or ``None``."""
        ...

    def server_side_event(self, args: list[JSONValue], ack: ServerSideAck | None) -> None:
        """Runs this server's handlers of an event another server sent (``[event, *args]``)."""
        ...

    def encode(self, packet: Packet) -> list[Frame]:
        """Encodes a packet (Socket.IO core) and frames it (Engine.IO core), once:
        the frames are shared by every recipient."""
        ...

    def send_frames(
        self, sid: str, frames: list[Frame], volatile: bool, compress: bool = True
    ) -> bool:
        """Queues frames for one local socket; False if dropped or unknown."""
        ...

    def send_frames_to(
        self, sids: Iterable[str], frames: list[Frame], volatile: bool, compress: bool = True
    ) -> None:
        """Queues the same frames for many local sockets (unknown ids are skipped);
        ``sids`` is read once, before any is sent to."""
        ...

    def reserve_ack_id(self, sids: Sequence[str]) -> int:
        """An ack id that every one of these local sockets can expect, allocated on
        each (one id for all, so a broadcast with acks is still encoded once)."""
        ...

    def register_ack(self, sid: str, ack_id: int, callback: AckArgsCallback) -> bool:
        """Expects an ack with ``ack_id`` from a local socket."""
        ...

    def forget_ack(self, sid: str, ack_id: int) -> None:
        """Stops expecting ``ack_id`` from a local socket (no-op if it answered)."""
        ...

    def get_socket(self, sid: str) -> FetchedSocket | None:
        """The live local socket, or ``None``."""
        ...

    def disconnect_socket(self, sid: str, close: bool) -> None:
        """Disconnects a local socket."""
        ...


AdapterFactory = Callable[[SocketEmitter], "Adapter"]


class Adapter:
    """In-process room index and local implementation of every adapter operation.

    Args:
        nsp: the namespace's emitter.
    """

    def __init__(self, nsp: SocketEmitter) -> None:
        self.nsp = nsp
        self.rooms: dict[str, set[str]] = {}
        self.sids: dict[str, set[str]] = {}
        #: whether a socket's own room is something :meth:`settled` waits for (the
        #: namespace then answers every CONNECT only once it is settled)
        self.own_room_settles = False
        #: connection state recovery settings; ``None`` = off (see :meth:`enable_recovery`)
        self.recovery: RecoveryOptions | None = None
        # pid -> (session, expiry on the monotonic clock); insertion order = age
        self._sessions: dict[str, tuple[SavedSession, float]] = {}
        # (offset, expiry, packet with its offset, targeting), oldest first
        self._packets: deque[tuple[str, float, Packet, BroadcastOptions]] = deque()
        self._offset_prefix = secrets.token_urlsafe(6)
        self._offsets = itertools.count(1)
        # broadcasts with acks still waiting: callback -> (ack id, sids that got it)
        self._ack_rounds: dict[AckArgsCallback, tuple[int, list[str]]] = {}

    # ----------------------------------------------------------- lifecycle

    async def init(self) -> None:
        """Starts whatever the adapter needs (subscriptions for a cluster)."""

    async def settled(self) -> None:
        """Returns once the rooms joined so far reach the other servers.

        A cluster adapter that subscribes to a room's own channel (the sharded Redis
        adapter's dynamic modes) waits here for those subscriptions; the namespace
        awaits it before answering a client's CONNECT, so what another server sends
        that client's rooms right after its connect arrives. Nothing to wait for here.
        """

    async def close(self) -> None:
        """Releases what :meth:`init` took."""

    async def server_count(self) -> int:
        """How many servers share this namespace."""
        return 1

    # ----------------------------------------------------------- room index

    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
        """Adds a socket to rooms."""
        joined = self.sids.get(sid)
        if joined is None:
            joined = self.sids[sid] = set()
        for room in rooms:
            joined.add(room)
            members = self.rooms.get(room)
            if members is None:
                self.rooms[room] = {sid}
                self.room_created(room)
            else:
                members.add(sid)

    def delete(self, sid: str, room: str) -> None:
        """Removes a socket from one room (empty rooms disappear)."""
        joined = self.sids.get(sid)
        if joined is not None:
            joined.discard(room)
        self._drop_member(room, sid)

    def del_all(self, sid: str) -> None:
        """Removes a socket from every room."""
        for room in self.sids.pop(sid, ()):
            self._drop_member(room, sid)

    def _drop_member(self, room: str, sid: str) -> None:
        # the room index side of leaving; an empty room disappears
        members = self.rooms.get(room)
        if members is not None:
            members.discard(sid)
            if not members:
                del self.rooms[room]
                self.room_deleted(room)

    def room_created(self, room: str) -> None:
        """Called when a room gets its first socket (a cluster adapter may subscribe)."""

    def room_deleted(self, room: str) -> None:
        """Called when a room loses its last socket."""

    def socket_rooms(self, sid: str) -> set[str]:
        """The rooms a local socket is in (a copy)."""
        return set(self.sids.get(sid, ()))

    def targets(self, opts: BroadcastOptions) -> list[str]:
        """Local socket ids selected by ``opts`` (each once)."""
        return list(self._selected(opts))

    def _selected(self, opts: BroadcastOptions) -> Iterable[str]:
        # The ids of targets(), possibly the room index's own set: read it before
        # anything may change the rooms.
        if opts.rooms:
            rooms = self.rooms
            if len(opts.rooms) == 1:
                (room,) = opts.rooms
                selected: Iterable[str] = rooms.get(room, ())
            else:
                union: set[str] = set()
                for room in opts.rooms:
                    union.update(rooms.get(room, ()))
                selected = union
        else:
            selected = self.sids
        if opts.except_rooms:
            excluded: set[str] = set()
            for room in opts.except_rooms:
                excluded.update(self.rooms.get(room, ()))
            return [sid for sid in selected if sid not in excluded]
        return selected

    # ----------------------------------------------------------- recovery

    def enable_recovery(self, options: RecoveryOptions) -> None:
        """Turns connection state recovery on for this namespace."""
        self.recovery = options

    def new_offset(self) -> str:
        """A fresh offset, unique for this adapter (a cluster adapter may use its own)."""
        return f"{self._offset_prefix}.{next(self._offsets):x}"

    def add_offset(self, packet: Packet) -> tuple[str, Packet]:
        """Appends a fresh offset to an event as its last argument.

        Returns:
            The offset and the new packet.
        """
        offset = self.new_offset()
        data = packet.data
        assert isinstance(data, list)
        return offset, Packet.event(packet.namespace, [*data, offset])

    def store_packet(self, offset: str, packet: Packet, opts: BroadcastOptions) -> None:
        """Keeps a broadcast event for sockets that may come back (bounded in time and count)."""
        assert self.recovery is not None
        now = time.monotonic()
        packets = self._packets
        packets.append((offset, now + self.recovery.max_disconnection_duration, packet, opts))
        while len(packets) > self.recovery.max_buffered_packets:
            packets.popleft()
        while packets and packets[0][1] <= now:
            packets.popleft()

    def persist_session(self, session: SavedSession) -> None:
        """Keeps the state of a socket whose transport dropped, for a while."""
        if self.recovery is None:
            return
        now = time.monotonic()
        self._prune_sessions(now)
        sessions = self._sessions
        sessions.pop(session.pid, None)
        sessions[session.pid] = (session, now + self.recovery.max_disconnection_duration)
        while len(sessions) > self.recovery.max_sessions:
            del sessions[next(iter(sessions))]

    async def restore_session(self, pid: str, offset: str) -> SavedSession | None:
        """Takes back a kept session and the events it missed after ``offset``.

        Returns:
            The session with :attr:`SavedSession.missed_packets` filled, or ``None`` when
            the pid is unknown or expired or the offset is no longer buffered (the
            session is then gone: the client connects afresh).
        """
        if self.recovery is None:
            return None
        now = time.monotonic()
        self._prune_sessions(now)
        kept = self._sessions.pop(pid, None)
        if kept is None:
            return None
        session, _expires = kept
        found = False
        missed: list[Packet] = []
        for packet_offset, expires, packet, opts in self._packets:
            if found:
                if expires > now and _selects(opts, session.rooms):
                    missed.append(packet)
            elif packet_offset == offset:
                found = True
        if not found:
            return None
        session.missed_packets = missed
        return session

    def kept_sessions(self) -> list[str]:
        """The pids of the sessions kept for recovery, oldest first (expired ones may
        linger until the next save or restore)."""
        return list(self._sessions)

    def buffered_packets(self) -> list[tuple[str, Packet, BroadcastOptions]]:
        """The events kept for recovery, oldest first: ``(offset, packet, targeting)``."""
        return [(offset, packet, opts) for offset, _expiry, packet, opts in self._packets]

    def _prune_sessions(self, now: float) -> None:
        sessions = self._sessions
        while sessions:
            pid = next(iter(sessions))
            if sessions[pid][1] > now:
                break
            del sessions[pid]

    # ----------------------------------------------------------- operations

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        """Delivers to the targeted local sockets, encoding the packet once.

        With recovery on, an event without ack id that is not volatile first gets an
        offset (see :meth:`add_offset`) and is kept for sockets that are away.
        """
        frames = None
        if self.recovery is not None and packet.ack_id is None and not opts.flags.volatile:
            offset, packet = self.add_offset(packet)
            # encoded before it is kept: data that cannot be serialised raises here
            frames = self.nsp.encode(packet)
            self.store_packet(offset, packet, opts)
        sids = self._selected(opts)
        if not sids:
            return
        if frames is None:
            frames = self.nsp.encode(packet)
        flags = opts.flags
        if flags.compress:
            self.nsp.send_frames_to(sids, frames, flags.volatile)
        else:
            frames = [uncompressed(f) for f in frames]  # marked once for every recipient
            self.nsp.send_frames_to(sids, frames, flags.volatile, False)

    async def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        client_count: Callable[[int], None],
        ack: AckArgsCallback,
    ) -> int:
        """Broadcasts an event expecting acks; reports how many sockets got it, then each ack.

        Args:
            packet: the EVENT, without an ack id: each server picks one that all its
                recipients can take (:meth:`local_broadcast_with_ack`).
            opts: the targeting.
            client_count: called with the number of recipients, once per server of
                the cluster (this one included).
            ack: called with each recipient's ack arguments.

        Returns:
            How many servers are expected to call ``client_count``.

        Call :meth:`forget_acks` with ``ack`` when done waiting.
        """
        client_count(self.local_broadcast_with_ack(packet, opts, ack))
        return 1

    def local_broadcast_with_ack(
        self, packet: Packet, opts: BroadcastOptions, ack: AckArgsCallback
    ) -> int:
        """The local half of :meth:`broadcast_with_ack`; returns the recipient count."""
        sids = self.targets(opts)
        if not sids:
            return 0
        emitter = self.nsp
        ack_id = emitter.reserve_ack_id(sids)
        frames = emitter.encode(Packet.event(packet.namespace, packet.data, ack_id))
        volatile = opts.flags.volatile
        compress = opts.flags.compress
        if not compress:
            frames = [uncompressed(f) for f in frames]
        reached: list[str] = []
        for sid in sids:
            # Send first: a volatile packet may be dropped, and a socket that never got
            # it must not wait for its ack (nothing can arrive in between).
            if emitter.send_frames(sid, frames, volatile, compress) and emitter.register_ack(
                sid, ack_id, ack
            ):
                reached.append(sid)
        if reached:
            self._ack_rounds[ack] = (ack_id, reached)
        return len(reached)

    def silent_servers(self, ack: AckArgsCallback) -> list[str]:
        """For a broadcast with acks still waiting (``ack`` as given to
        :meth:`broadcast_with_ack`): the ids of the other servers known to be up that
        have not reported how many sockets they reached (none on one server)."""
        return []

    def forget_acks(self, ack: AckArgsCallback) -> None:
        """The broadcaster stopped waiting (all answered, timed out, or cancelled):
        local sockets that did not answer stop expecting the ack."""
        round_ = self._ack_rounds.pop(ack, None)
        if round_ is not None:
            ack_id, sids = round_
            for sid in sids:
                self.nsp.forget_ack(sid, ack_id)

    async def fetch_sockets(self, opts: BroadcastOptions) -> list[FetchedSocket]:
        """The targeted sockets (local ones are the live socket objects)."""
        found = (self.nsp.get_socket(sid) for sid in self.targets(opts))
        return [s for s in found if s is not None]

    def add_sockets(self, opts: BroadcastOptions, rooms: frozenset[str]) -> None:
        """Makes the targeted sockets join ``rooms``."""
        for sid in self.targets(opts):
            self.add_all(sid, rooms)

    def del_sockets(self, opts: BroadcastOptions, rooms: frozenset[str]) -> None:
        """Makes the targeted sockets leave ``rooms``."""
        for sid in self.targets(opts):
            for room in rooms:
                self.delete(sid, room)

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        """Disconnects the targeted sockets."""
        for sid in self.targets(opts):
            self.nsp.disconnect_socket(sid, close)

    async def all_rooms(self) -> set[str]:
        """Every room of the namespace, on every server of the cluster."""
        return set(self.rooms)

    async def server_side_emit(self, args: list[JSONValue]) -> None:
        """Sends an event (``[event, *args]``) to the other servers of the cluster (none here)."""

    async def server_side_emit_with_ack(self, args: list[JSONValue]) -> list[JSONValue]:
        """Sends an event to the other servers and waits for one reply from each.

        Returns:
            The other servers' replies (empty without a cluster).
        """
        return []


def _selects(opts: BroadcastOptions, rooms: set[str]) -> bool:
    """Whether a broadcast with ``opts`` reaches a socket in ``rooms``."""
    if opts.rooms and opts.rooms.isdisjoint(rooms):
        return False
    return opts.except_rooms.isdisjoint(rooms)
