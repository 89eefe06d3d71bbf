"""One Engine.IO session seen by the Socket.IO server (layer L3).

The protocol rules of a connection (PROTOCOL.md items 56-63: the first packet must be a
CONNECT; a packet for a namespace that was never joined, a second CONNECT for a joined
namespace, or a CONNECT_ERROR from a client closes the connection; at most
``max_namespaces`` namespaces) live in the sans-I/O
:class:`~plexio.socketio.connection.ServerConnection`; this module routes what it
reports to the namespace sockets, writes what it encodes, owns the connect timeout and
the tasks of handlers that suspended.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from plexio.aio.handlers import TaskOwner, call_handler
from plexio.engineio.events import DisconnectReason
from plexio.engineio.packets import Frame
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

if TYPE_CHECKING:
    from plexio.server.server import Server
    from plexio.server.socket import ServerSocket

__all__ = ["Connection"]

logger = logging.getLogger(__name__)


class Connection:
    """The Socket.IO state of one Engine.IO session.

    Attributes:
        engine: the Engine.IO socket.
        sockets: joined namespaces → their socket.
        tasks: owner of suspended handler tasks; they run to completion even after
            the connection ends (their emits are then dropped), so work a client
            started is not lost; ``tasks.cancel_all()`` stops them.
        issued: handshake time in ms since the epoch.
    """

    __slots__ = (
        "engine",
        "server",
        "core",
        "sockets",
        "tasks",
        "issued",
        "closed",
        "_connect_timer",
        "_close_timer",
    )

    def __init__(self, server: Server, engine: EngineSocket) -> None:
        self.engine = engine
        self.server = server
        self.core = ServerConnection(
            server.parser, server.engine.options.limits, max_namespaces=server.max_namespaces
        )
        self.sockets: dict[str, ServerSocket] = {}
        self.tasks = TaskOwner()
        self.issued = int(time.time() * 1000)
        self.closed = False
        self._connect_timer: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
            server.connect_timeout, self._on_connect_timeout
        )
        self._close_timer: asyncio.TimerHandle | None = None

    def _on_connect_timeout(self) -> None:
        self._connect_timer = None
        if not self.sockets and not self.closed:
            logger.info("connection %s joined no namespace in time, closing", self.engine.sid)
            self.engine.close(DisconnectReason.FORCED_CLOSE)

    # ------------------------------------------------------------ incoming

    def on_message(self, data: str | bytes) -> None:
        """Feeds one Engine.IO message."""
        core = self.core
        if core.closed:
            return  # frames that arrived in the same batch as a protocol violation
        event = core.receive_message(data)
        if event is None:
            return
        if type(event) is EventReceived:  # the hot path first
            socket = self.sockets.get(event.namespace)
            if socket is not None:
                socket._on_event(event.name, event.args, event.ack_id)
        elif type(event) is AckReceived:
            socket = self.sockets.get(event.namespace)
            if socket is not None:
                socket._on_ack(event.ack_id, event.args)
        elif type(event) is ConnectRequested:
            call_handler(
                self.server._connect,
                (self, event.namespace, event.auth),
                None,
                self.tasks,
                "connect",
            )
        elif type(event) is NamespaceDisconnected:
            socket = self.sockets.get(event.namespace)
            if socket is not None:
                socket._on_close("client namespace disconnect")
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

    def write(self, messages: list[str | bytes], volatile: bool = False) -> bool:
        """Queues encoded Socket.IO messages on the Engine.IO session (which frames them).

        Returns:
            False if they were dropped (closed session, or volatile and the client is behind).
        """
        return self.engine.send_messages(messages, volatile=volatile)

    def write_frames(self, frames: list[Frame], volatile: bool = False) -> bool:
        """Queues frames a broadcast encoded and framed once for all its recipients."""
        return self.engine.send_frames(frames, volatile=volatile)

    def send_ack(self, namespace: str, ack_id: int, data: list[JSONValue]) -> None:
        """Answers the client's event ``ack_id`` in a joined namespace.

        Raises:
            LocalProtocolError: the namespace is not joined, or the data is invalid.
        """
        self.write(self.core.send_ack(namespace, ack_id, data))

    def connect_refused(self, namespace: str, message: str, data: JSONValue) -> None:
        """Answers a pending CONNECT with CONNECT_ERROR (the connection stays open)."""
        try:
            self.write(self.core.refuse(namespace, message, data))
        except LocalProtocolError:
            pass  # the connection closed while the CONNECT was decided

    def joined(self, socket: ServerSocket) -> None:
        """Accepts a pending CONNECT: sends the CONNECT reply, before any event."""
        name = socket.nsp.name
        # with connection state recovery, the reply also carries the private session id
        self.write(self.core.accept(name, socket.id, pid=socket.pid))
        self.sockets[name] = socket
        if self._connect_timer is not None:
            self._connect_timer.cancel()
            self._connect_timer = None

    def leave(self, socket: ServerSocket) -> None:
        """Server-side disconnect of one namespace: sends DISCONNECT."""
        name = socket.nsp.name
        if self.sockets.get(name) is socket and not self.core.closed:
            self.write(self.core.send_disconnect(name))

    def _forget(self, socket: ServerSocket) -> None:
        name = socket.nsp.name
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
        if self._close_timer is None and not self.closed:
            loop = asyncio.get_running_loop()
            self._close_when_sent(loop.time() + self.server.engine.options.ping_timeout)

    def _close_when_sent(self, deadline: float) -> None:
        self._close_timer = None
        if self.closed or self.engine.closed:
            return
        loop = asyncio.get_running_loop()
        engine = self.engine
        # Over polling, also wait for the client's next GET, so it receives the close
        # packet rather than "unknown session".
        sent = not engine.session.has_data() and (
            engine.transport != "polling" or engine._poll_waiter is not None
        )
        if sent or loop.time() >= deadline:
            self.close()
            return
        self._close_timer = loop.call_later(0.01, self._close_when_sent, deadline)

    def close(self) -> None:
        """Closes the whole Engine.IO connection."""
        self.engine.close(DisconnectReason.FORCED_CLOSE)

    def on_close(self, reason: str) -> None:
        """The Engine.IO session ended: every socket disconnects with ``reason``."""
        if self.closed:
            return
        self.closed = True
        if self._connect_timer is not None:
            self._connect_timer.cancel()
            self._connect_timer = None
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        for socket in list(self.sockets.values()):
            socket._on_close(reason)
        self.core.close()
