"""A socket held by another server of the cluster, as ``fetch_sockets`` returns it (layer L3).

May import: plexio L0, plexio.server.broadcast, plexio.server.adapters.base. Every
action goes through the adapter as a broadcast to the socket's own room, so it reaches
the server that owns the socket (as the JavaScript server's ``RemoteSocket``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from plexio.server.broadcast import BroadcastOperator, BroadcastOptions, flatten_rooms
from plexio.typing import JSONValue

if TYPE_CHECKING:
    from plexio.server.adapters.base import Adapter, SocketDetails

__all__ = ["RemoteSocket"]


class RemoteSocket:
    """A socket of another server: its id, handshake, rooms and data, and a few actions.

    Attributes:
        id: the socket id.
        handshake: the handshake as a dict in the JavaScript server's shape (``headers``,
            ``query``, ``auth``, ``address``, ``time``, ``issued``, ``url``, ``secure``,
            ``xdomain``).
        rooms: the rooms it was in when fetched.
        data: its ``socket.data`` when fetched (a copy: changing it changes nothing).
    """

    __slots__ = ("id", "handshake", "rooms", "data", "_adapter")

    def __init__(self, adapter: Adapter, details: SocketDetails) -> None:
        self.id = details.id
        self.handshake = details.handshake
        self.rooms = set(details.rooms)
        self.data = details.data
        self._adapter = adapter

    def __repr__(self) -> str:
        return f"<RemoteSocket {self.id} {self._adapter.nsp.name}>"

    @property
    def sid(self) -> str:
        """Alias of :attr:`id`."""
        return self.id

    def _operator(self) -> BroadcastOperator:
        return BroadcastOperator(
            self._adapter, self._adapter.nsp.name, BroadcastOptions(rooms=frozenset((self.id,)))
        )

    def emit(self, event: str, *args: JSONValue) -> None:
        """Sends an event to this socket (through its server)."""
        self._operator().emit(event, *args)

    def timeout(self, seconds: float) -> BroadcastOperator:
        """An operator for this socket whose acks expire after ``seconds``."""
        return self._operator().timeout(seconds)

    async def emit_with_ack(self, event: str, *args: JSONValue) -> JSONValue:
        """Sends an event and waits for the client's ack; returns its first argument.

        Raises:
            AckTimeoutError: no ack within the default broadcast timeout (5 s).
        """
        replies = await self._operator().emit_with_ack(event, *args)
        return replies[0] if replies else None

    def join(self, *rooms: str | Iterable[str]) -> None:
        """Makes the socket join rooms on its server."""
        self._operator().sockets_join(flatten_rooms(rooms))

    def leave(self, room: str) -> None:
        """Makes the socket leave a room on its server."""
        self._operator().sockets_leave(room)

    def disconnect(self, close: bool = False) -> RemoteSocket:
        """Disconnects the socket on its server (``close`` also ends its connection)."""
        self._operator().disconnect_sockets(close)
        return self
