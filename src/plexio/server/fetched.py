"""What ``fetch_sockets()`` returns: local sockets and, in a cluster, remote ones (layer L3).

Both :class:`~plexio.server.socket.ServerSocket` (a socket of this server) and
:class:`~plexio.server.adapters.remote.RemoteSocket` (one of another server) have
these members, so code written against :class:`FetchedSocket` works for both; the
``handshake`` differs (a record locally, a dict from another server), so narrow with
``isinstance`` to read it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from plexio.typing import JSONValue

__all__ = ["FetchedSocket"]


class FetchedSocket(Protocol):
    """A socket found by ``fetch_sockets()``, local or remote."""

    @property
    def id(self) -> str:
        """The socket id."""
        ...

    @property
    def sid(self) -> str:
        """Alias of :attr:`id`."""
        ...

    @property
    def rooms(self) -> set[str]:
        """Its rooms (for a remote socket: when it was fetched)."""
        ...

    @property
    def data(self) -> dict[str, JSONValue]:
        """Its ``socket.data`` (for a remote socket: a copy made when it was fetched)."""
        ...

    def emit(self, event: str, *args: JSONValue) -> None:
        """Sends it an event."""
        ...

    async def emit_with_ack(self, event: str, *args: JSONValue) -> JSONValue:
        """Sends it an event and returns the first argument of its ack."""
        ...

    def join(self, *rooms: str | Iterable[str]) -> None:
        """Makes it join rooms."""
        ...

    def leave(self, room: str) -> None:
        """Makes it leave a room."""
        ...

    def disconnect(self, close: bool = False) -> object:
        """Disconnects it (``close`` also ends its connection)."""
        ...
