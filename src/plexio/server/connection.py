"""One Engine.IO session seen by the Socket.IO server (layer L3).

The protocol rules of a connection (PROTOCOL.md items 56-63: the first packet must be a
CONNECT; a packet for a namespace that was never joined, a second CONNECT for a joined
namespace, or a CONNECT_ERROR from a client closes the connection; at most
``max_namespaces`` namespaces) live in the sans-I/O
:class:`~plexio.socketio.connection.ServerConnection`; this module routes what it
reports to the namespace sockets, writes what it encodes, owns the connect timeout and
the tasks of handlers that suspended.

May import: plexio L0, plexio.aio, plexio.engineio, plexio.socketio,
plexio.server.engine. It knows the namespace sockets and the server only through the
:class:`JoinedSocket` and :data:`ConnectRequestHandler` protocols below (no import cycle).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from plexio.aio.handlers import TaskOwner, call_handler, report_failure
from plexio.engineio.events import DisconnectReason
from plexio.engineio.packets import frame_messages
from plexio.exceptions import LocalProtocolError
from plexio.server.engine import EngineSocket
from plexio.socketio.connection import ServerConnection
from plexio.socketio.events import (
    AckReceived,
    ConnectionClosed,
    ConnectRequested,
    EventReceived,
    NamespaceDisconnected,
)
from plexio.typing import JSONValue

__all__ = ["ConnectRequestHandler", "Connection", "JoinDeadlines", "JoinedSocket"]

logger = logging.getLogger(__name__)


class JoinedSocket(Protocol):
    """What a connection needs from the socket of a namespace it joined."""

    @property
    def id(self) -> str:
        """The socket id."""
        ...

    @property
    def pid(self) -> str | None:
        """The private session id of connection state recovery, or ``None``."""
        ...

    @property
    def namespace_name(self) -> str:
        """The name of its namespace."""
        ...

    def deliver_event(
        self, event: str | int | float, args: list[JSONValue], ack_id: int | None
    ) -> None:
        """An EVENT the client sent in this namespace."""
        ...

    def deliver_ack(self, ack_id: int, args: list[JSONValue]) -> None:
        """The client's ACK of an event this socket sent."""
        ...

    def end(self, reason: DisconnectReason) -> None:
        """The socket is gone (client left, or the connection ended) for ``reason``."""
        ...

    def disconnect(self, close: bool = False) -> object:
        """Server-side disconnect of this socket (sends DISCONNECT)."""
        ...


#: ``handler(connection, namespace, auth)``: decides a CONNECT (the server's). It
#: returns ``None`` when it decided at once (no application code had to run, or it
#: started that code as handlers of its own), else an awaitable that decides it, which
#: the connection runs as a handler.
ConnectRequestHandler = Callable[["Connection", str, dict[str, JSONValue]], Awaitable[None] | None]


class JoinDeadlines:
    """The connect timeout of every connection of a server, on one loop timer.

    A connection that joins no namespace within ``timeout`` seconds is closed
    (:meth:`Connection.join_timed_out`). The timeout is the same for all, so the
    connections waiting are in deadline order as they come: a dict holds them
    (watched and forgotten in O(1), no timer object per connection) and one loop
    timer is armed for the oldest.

    Args:
        loop: the event loop.
        timeout: seconds a connection may take to join its first namespace.
    """

    __slots__ = ("_loop", "_timeout", "_waiting", "_handle")

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self._loop = loop
        self._timeout = timeout
        self._waiting: dict[Connection, float] = {}
        self._handle: asyncio.TimerHandle | None = None

    @property
    def timeout(self) -> float:
        """Seconds a connection may take to join its first namespace."""
        return self._timeout

    def __len__(self) -> int:
        """Connections waiting to join."""
        return len(self._waiting)

    def watch(self, conn: Connection) -> None:
        """Starts ``conn``'s deadline."""
        when = self._loop.time() + self._timeout
        self._waiting[conn] = when
        if self._handle is None:
            self._handle = self._loop.call_at(when, self._sweep)

    def forget(self, conn: Connection) -> None:
        """``conn`` joined a namespace (or ended): no deadline any more."""
        waiting = self._waiting
        waiting.pop(conn, None)
        if not waiting and self._handle is not None:  # nothing left to watch: no timer
            self._handle.cancel()
            self._handle = None

    def _sweep(self) -> None:
        self._handle = None
        waiting = self._waiting
        now = self._loop.time()
        expired: list[Connection] = []
        for conn, when in waiting.items():
            if when > now:
                break
            expired.append(conn)
        for conn in expired:
            del waiting[conn]
            try:
                conn.join_timed_out()
            except Exception:
                logger.exception("closing connection %s failed", conn.engine.sid)
        if waiting:
            self._handle = self._loop.call_at(next(iter(waiting.values())), self._sweep)


def _awaited(awaitable: Awaitable[None]) -> Awaitable[None]:
    # call_handler's handler for an awaitable made already: it runs it as a handler's
    # coroutine (a coroutine does nothing until its first step, so it runs in the
    # handler's context as if call_handler had called the coroutine function).
    return awaitable


class _HandlerTasks(TaskOwner):
    """A connection's suspended handlers: it hears of each one (for backpressure)."""

    __slots__ = ("_connection",)

    def __init__(self, connection: Connection) -> None:
        super().__init__()
        self._connection = connection

    def add(self, task: asyncio.Task[object]) -> None:
        super().add(task)
        self._connection.handler_suspended(len(self))


class Connection:
    """The Socket.IO state of one Engine.IO session.

    Attributes:
        engine: the Engine.IO socket.
        sockets: joined namespaces → their socket.
        tasks: owner of suspended handler tasks; they are cancelled when the
            connection ends (``cancel_handlers_on_disconnect``, the default), or
            run to completion (their emits are then dropped).
        issued: handshake time in ms since the epoch.
    """

    __slots__ = (
        "engine",
        "write_frames",
        "core",
        "sockets",
        "tasks",
        "issued",
        "closed",
        "_on_connect",
        "_close_grace",
        "_join_deadlines",
        "_max_in_flight",
        "_cancel_on_close",
    )

    def __init__(
        self,
        engine: EngineSocket[Connection],
        core: ServerConnection,
        on_connect: ConnectRequestHandler,
        *,
        join_deadlines: JoinDeadlines,
        close_grace: float,
        max_handlers_in_flight: int = 100,
        cancel_handlers_on_disconnect: bool = True,
    ) -> None:
        """
        Args:
            engine: the Engine.IO socket of the session.
            core: the session's sans-I/O Socket.IO state.
            on_connect: decides each CONNECT the client sends.
            join_deadlines: closes the connection if it joins no namespace in time
                (the server's ``connect_timeout``).
            close_grace: most seconds :meth:`disconnect_all` waits for its
                DISCONNECT packets to leave before closing.
            max_handlers_in_flight: handlers of this connection that may be
                suspended at once; at this count its input is paused (backpressure)
                until one finishes.
            cancel_handlers_on_disconnect: cancel the suspended handlers when the
                connection ends (else they run to completion; their emits are dropped).
        """
        self.engine = engine
        #: ``write_frames(frames, *, volatile, compress)`` queues frames a broadcast
        #: encoded and framed once for all its recipients: the Engine.IO socket's
        #: ``send_frames`` itself (no extra call per recipient on the fan-out path).
        self.write_frames = engine.send_frames
        self.core = core
        self.sockets: dict[str, JoinedSocket] = {}
        self.tasks: TaskOwner = _HandlerTasks(self)
        self.issued = int(time.time() * 1000)
        self.closed = False
        self._on_connect = on_connect
        self._close_grace = close_grace
        self._max_in_flight = max_handlers_in_flight
        self._cancel_on_close = cancel_handlers_on_disconnect
        self._join_deadlines: JoinDeadlines | None = join_deadlines
        join_deadlines.watch(self)

    def join_timed_out(self) -> None:
        """Its :class:`JoinDeadlines` came: closes it unless it joined a namespace."""
        self._join_deadlines = None
        if not self.sockets and not self.closed:
            logger.info("connection %s joined no namespace in time, closing", self.engine.sid)
            self.engine.close(DisconnectReason.FORCED_CLOSE)

    # ------------------------------------------------------------ incoming

    def on_message(self, data: str | bytes) -> None:
        """Feeds one Engine.IO message."""
        try:
            event = self.core.receive_message(data)
        except LocalProtocolError:
            return  # closed: frames that arrived in the same batch as a protocol violation
        if event is None:
            return
        if type(event) is EventReceived:  # the hot path first
            socket = self.sockets.get(event.namespace)
            if socket is not None:
                socket.deliver_event(event.name, event.args, event.ack_id)
        elif type(event) is AckReceived:
            socket = self.sockets.get(event.namespace)
            if socket is not None:
                socket.deliver_ack(event.ack_id, event.args)
        elif type(event) is ConnectRequested:
            try:
                deciding = self._on_connect(self, event.namespace, event.auth)
            except Exception:
                report_failure("connect")
                return
            if deciding is not None:
                call_handler(_awaited, (deciding,), None, self.tasks, "connect")
        elif type(event) is NamespaceDisconnected:
            socket = self.sockets.get(event.namespace)
            if socket is not None:
                socket.end(DisconnectReason.CLIENT_NAMESPACE_DISCONNECT)
        elif type(event) is ConnectionClosed:
            what = (
                "sent a malformed packet"
                if event.reason is DisconnectReason.PARSE_ERROR
                else "broke the protocol"
            )
            logger.info("connection %s %s (%s), closing", self.engine.sid, what, event.detail)
            self.engine.close(event.reason)

    # ------------------------------------------------------------ outgoing
    #
    # Every packet leaves through the Socket.IO core (``self.core`` encodes it and
    # checks the namespace rules) and the Engine.IO session (which frames it), once.

    @property
    def next_ack_id(self) -> int:
        """The ack id the core would allocate now (see :meth:`allocate_ack_id`)."""
        return self.core.next_ack_id

    def allocate_ack_id(self, at_least: int = 0) -> int:
        """A fresh ack id from the core (unique across the session's namespaces)."""
        return self.core.allocate_ack_id(at_least)

    def encode_event(
        self, namespace: str, data: list[JSONValue], ack_id: int | None = None
    ) -> list[str | bytes]:
        """Encodes an EVENT for a joined namespace (nothing is queued yet).

        Raises:
            LocalProtocolError: the namespace is not joined, or the data is invalid.
        """
        return self.core.send_event(namespace, data, ack_id)

    def write(
        self, messages: list[str | bytes], volatile: bool = False, compress: bool = True
    ) -> bool:
        """Queues encoded Socket.IO messages on the Engine.IO session (which frames them).

        Returns:
            False if they were dropped (closed session, or volatile and the client is behind).
        """
        return self.engine.send_frames(
            frame_messages(messages), volatile=volatile, compress=compress
        )

    def send_ack(self, namespace: str, ack_id: int, data: list[JSONValue]) -> None:
        """Answers the client's event ``ack_id`` in a joined namespace.

        Raises:
            LocalProtocolError: the namespace is not joined, or the data is invalid.
        """
        # framed here, not by EngineSocket.send_messages: one call less per ack
        self.engine.send_frames(frame_messages(self.core.send_ack(namespace, ack_id, data)))

    def connect_refused(self, namespace: str, message: str, data: JSONValue) -> None:
        """Answers a pending CONNECT with CONNECT_ERROR (the connection stays open)."""
        try:
            self.write(self.core.refuse(namespace, message, data))
        except LocalProtocolError:
            pass  # the connection closed while the CONNECT was decided

    def joined(self, socket: JoinedSocket) -> None:
        """Accepts a pending CONNECT: sends the CONNECT reply, before any event."""
        name = socket.namespace_name
        # with connection state recovery, the reply also carries the private session id
        self.write(self.core.accept(name, socket.id, pid=socket.pid))
        self.sockets[name] = socket
        if self._join_deadlines is not None:
            self._join_deadlines.forget(self)
            self._join_deadlines = None

    def leave(self, socket: JoinedSocket) -> None:
        """Server-side disconnect of one namespace: sends DISCONNECT."""
        name = socket.namespace_name
        if self.sockets.get(name) is socket and not self.core.closed:
            self.write(self.core.send_disconnect(name))

    def forget(self, socket: JoinedSocket) -> None:
        """The socket ended: the connection stops routing its namespace to it."""
        name = socket.namespace_name
        if self.sockets.get(name) is socket:
            del self.sockets[name]

    def disconnect_all(self) -> None:
        """Disconnects every socket (each gets DISCONNECT), then closes the connection.

        The close waits until the DISCONNECT packets have left (at most
        ``ping_timeout`` seconds): over long-polling, a close packet in the same
        response would reach the JS client first (it handles Socket.IO packets on the
        next tick) and it would see "transport close" and reconnect, instead of
        "io server disconnect".
        """
        for socket in list(self.sockets.values()):
            socket.disconnect()
        if not self.closed:
            # the Engine.IO socket announces delivery itself: no polling here
            self.engine.close_after_delivery(DisconnectReason.FORCED_CLOSE, self._close_grace)

    def close(self) -> None:
        """Closes the whole Engine.IO connection."""
        self.engine.close(DisconnectReason.FORCED_CLOSE)

    def handler_suspended(self, in_flight: int) -> None:
        """A handler of this connection suspended; ``in_flight`` are suspended now.

        Backpressure: at ``max_handlers_in_flight`` the client's handlers are all busy;
        nothing more is read from it until one of them finishes (its messages wait in
        its own buffers, not here).
        """
        engine = self.engine
        if in_flight >= self._max_in_flight and not engine.closed:
            engine.pause_input()
            self.tasks.when_below(self._max_in_flight, engine.resume_input)

    def on_close(self, reason: DisconnectReason) -> None:
        """The Engine.IO session ended: every socket disconnects with ``reason``."""
        if self.closed:
            return
        self.closed = True
        if self._cancel_on_close:
            self.tasks.cancel_all()  # handlers still waiting for something, not the
            # disconnect handlers that run next
        if self._join_deadlines is not None:
            self._join_deadlines.forget(self)
            self._join_deadlines = None
        for socket in list(self.sockets.values()):
            socket.end(reason)
        self.core.close()
