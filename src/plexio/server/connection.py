"""One Engine.IO session seen by the Socket.IO server (layer L3).

Routes decoded packets to the sockets of the namespaces this client joined, enforces
the Socket.IO v5 connection rules (PROTOCOL.md items 56-63: the first packet must be a
CONNECT; a packet for a namespace that was never joined, a second CONNECT for a joined
namespace, or a CONNECT_ERROR from a client closes the connection) and owns the tasks
of handlers that suspended.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from plexio.aio.handlers import TaskOwner, call_handler
from plexio.engineio.events import DisconnectReason
from plexio.exceptions import DecodeError
from plexio.server.engine import EngineSocket
from plexio.socketio.packets import Packet, PacketType
from plexio.socketio.parser import Decoder

if TYPE_CHECKING:
    from plexio.server.server import Server
    from plexio.server.socket import ServerSocket

__all__ = ["Connection"]

logger = logging.getLogger(__name__)

_CONNECT = PacketType.CONNECT
_EVENT = PacketType.EVENT
_ACK = PacketType.ACK
_DISCONNECT = PacketType.DISCONNECT


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
        "decoder",
        "sockets",
        "pending",
        "left",
        "tasks",
        "issued",
        "closed",
        "_connect_timer",
        "_close_timer",
    )

    def __init__(self, server: Server, engine: EngineSocket) -> None:
        self.engine = engine
        self.server = server
        self.decoder: Decoder = server.parser.decoder(server.engine.options.limits)
        self.sockets: dict[str, ServerSocket] = {}
        self.pending: set[str] = set()
        self.left: set[str] = set()
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
            packet = self.decoder.feed(data)
        except DecodeError as exc:
            logger.info("connection %s sent a malformed packet (%s), closing", self.engine.sid, exc)
            self.engine.close(DisconnectReason.PARSE_ERROR)
            return
        if packet is None:
            return
        kind = packet.type
        socket = self.sockets.get(packet.namespace)
        if socket is not None:
            if kind is _EVENT:
                socket._on_event(packet.data, packet.ack_id)
            elif kind is _ACK:
                assert packet.ack_id is not None
                socket._on_ack(packet.ack_id, packet.data)
            elif kind is _DISCONNECT:
                socket._on_close("client namespace disconnect")
            else:
                self._violation(f"{kind.name} for joined namespace {packet.namespace}")
        elif kind is _CONNECT:
            if packet.namespace in self.pending:
                self._violation(f"second CONNECT for {packet.namespace}")
                return
            self.pending.add(packet.namespace)
            auth = packet.data if isinstance(packet.data, dict) else {}
            call_handler(
                self.server._connect, (self, packet.namespace, auth), None, self.tasks, "connect"
            )
        elif packet.namespace in self.left or packet.namespace in self.pending:
            # A race with a server-side disconnect (or a CONNECT still in middleware): the
            # client could not know yet; drop the packet rather than the connection.
            logger.debug("packet for namespace %s not joined (anymore), ignored", packet.namespace)
        else:
            self._violation(f"{kind.name} for namespace {packet.namespace} never joined")

    def _violation(self, what: str) -> None:
        logger.info("connection %s: protocol violation (%s), closing", self.engine.sid, what)
        self.engine.close(DisconnectReason.PROTOCOL_ERROR)

    # ------------------------------------------------------------ outgoing

    def send_packet(self, packet: Packet, volatile: bool) -> None:
        """Encodes and queues a packet for this client."""
        self.engine.send_frames(self.server.encode(packet), volatile=volatile)

    def connect_refused(self, namespace: str, message: str, data: Any) -> None:
        """Answers a CONNECT with CONNECT_ERROR."""
        self.pending.discard(namespace)
        self.send_packet(Packet.connect_error(namespace, message, data), False)

    def joined(self, socket: ServerSocket) -> None:
        """Records a namespace the client is now connected to."""
        name = socket.nsp.name
        self.pending.discard(name)
        self.left.discard(name)
        self.sockets[name] = socket
        if self._connect_timer is not None:
            self._connect_timer.cancel()
            self._connect_timer = None

    def _forget(self, socket: ServerSocket) -> None:
        name = socket.nsp.name
        if self.sockets.get(name) is socket:
            del self.sockets[name]
            self.left.add(name)

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
        self.decoder.reset()
        self.pending.clear()
        self.left.clear()
