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
from typing import TYPE_CHECKING, Any

from plexio.aio.handlers import TaskOwner, call_handler
from plexio.engineio.events import DisconnectReason
from plexio.exceptions import DecodeError, LocalProtocolError, RemoteProtocolError
from plexio.server.engine import EngineSocket
from plexio.socketio.connection import ServerConnection
from plexio.socketio.events import (
    AckReceived,
    ConnectRequested,
    EventReceived,
    NamespaceDisconnected,
)
from plexio.socketio.packets import Packet

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
        try:
            event = self.core.receive_message(data)
        except DecodeError as exc:
            logger.info("connection %s sent a malformed packet (%s), closing", self.engine.sid, exc)
            self.engine.close(DisconnectReason.PARSE_ERROR)
            return
        except RemoteProtocolError as exc:
            logger.info("connection %s: protocol violation (%s), closing", self.engine.sid, exc)
            self.engine.close(DisconnectReason.PROTOCOL_ERROR)
            return
        except LocalProtocolError:
            return  # the connection is already closed
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

    # ------------------------------------------------------------ outgoing

    def send_packet(self, packet: Packet, volatile: bool) -> None:
        """Encodes and queues a packet for this client."""
        self.engine.send_frames(self.server.encode(packet), volatile=volatile)

    def _write(self, messages: list[str | bytes]) -> None:
        self.engine.send_frames(self.server.frame(messages))

    def connect_refused(self, namespace: str, message: str, data: Any) -> None:
        """Answers a pending CONNECT with CONNECT_ERROR (the connection stays open)."""
        try:
            self._write(self.core.refuse(namespace, message, data))
        except LocalProtocolError:
            pass  # the connection closed while the CONNECT was decided

    def joined(self, socket: ServerSocket) -> None:
        """Accepts a pending CONNECT: sends the CONNECT reply, before any event."""
        name = socket.nsp.name
        messages = self.core.accept(name, socket.id)
        if socket.pid is not None:
            # connection state recovery: the reply also carries the private session id
            reply = {"sid": socket.id, "pid": socket.pid}
            messages = self.server.parser.encode(Packet.connect(name, reply))
        self._write(messages)
        self.sockets[name] = socket
        if self._connect_timer is not None:
            self._connect_timer.cancel()
            self._connect_timer = None

    def leave(self, socket: ServerSocket) -> None:
        """Server-side disconnect of one namespace: sends DISCONNECT."""
        name = socket.nsp.name
        if self.sockets.get(name) is socket and not self.core.closed:
            self._write(self.core.send_disconnect(name))

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
