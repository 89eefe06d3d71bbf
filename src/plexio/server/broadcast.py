"""Broadcast targeting: options value objects and the fluent operator (layer L3).

May import: plexio L0, plexio.socketio. :class:`BroadcastOptions` is a plain,
serialisable value (rooms, excluded rooms, flags) that adapters receive and can send
to other servers; :class:`BroadcastOperator` is the fluent API
(``server.to("room").except_("other").volatile.emit(...)``) that builds it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from plexio.exceptions import AckTimeoutError
from plexio.socketio.packets import RESERVED_EVENTS, Packet

if TYPE_CHECKING:
    from plexio.server.adapters.base import Adapter

__all__ = ["BroadcastFlags", "BroadcastOperator", "BroadcastOptions", "check_event_name"]


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


class _AckIds(Protocol):
    def next_ack_id(self) -> int: ...

    def forget_ack(self, ack_id: int) -> None: ...

    @property
    def name(self) -> str: ...


def check_event_name(event: str) -> None:
    """Refuses reserved event names on emit.

    Raises:
        ValueError: ``event`` is reserved (connect, disconnect, ...).
    """
    if event in RESERVED_EVENTS:
        raise ValueError(f"{event!r} is a reserved event name")


def _as_rooms(rooms: Iterable[str] | str) -> frozenset[str]:
    return frozenset((rooms,)) if isinstance(rooms, str) else frozenset(rooms)


class BroadcastOperator:
    """Fluent broadcast builder; every method returns a new operator.

    Args:
        adapter: the namespace's adapter.
        namespace: gives ack ids and the namespace name.
        options: the targeting built so far.
    """

    __slots__ = ("_adapter", "_nsp", "_opts")

    def __init__(
        self,
        adapter: Adapter,
        namespace: _AckIds,
        options: BroadcastOptions | None = None,
    ) -> None:
        self._adapter = adapter
        self._nsp = namespace
        self._opts = options or BroadcastOptions()

    @property
    def options(self) -> BroadcastOptions:
        """The targeting as a value."""
        return self._opts

    def _with(self, **changes: Any) -> BroadcastOperator:
        return BroadcastOperator(self._adapter, self._nsp, replace(self._opts, **changes))

    def _with_flags(self, **changes: Any) -> BroadcastOperator:
        return self._with(flags=replace(self._opts.flags, **changes))

    def to(self, room: Iterable[str] | str) -> BroadcastOperator:
        """Adds target rooms (a socket in several of them receives once)."""
        return self._with(rooms=self._opts.rooms | _as_rooms(room))

    in_ = to

    def except_(self, room: Iterable[str] | str) -> BroadcastOperator:
        """Excludes the sockets of these rooms."""
        return self._with(except_rooms=self._opts.except_rooms | _as_rooms(room))

    @property
    def volatile(self) -> BroadcastOperator:
        """The event may be dropped for recipients that are not ready."""
        return self._with_flags(volatile=True)

    @property
    def local(self) -> BroadcastOperator:
        """Only this server's sockets."""
        return self._with_flags(local=True)

    def compress(self, compress: bool) -> BroadcastOperator:
        """Sets whether the transport may compress the event."""
        return self._with_flags(compress=compress)

    def timeout(self, seconds: float) -> BroadcastOperator:
        """Sets how long :meth:`emit_with_ack` waits for every reply."""
        return self._with_flags(timeout=seconds)

    def emit(self, event: str, *args: Any) -> None:
        """Sends an event to every targeted socket; encoded once for all of them.

        Raises:
            ValueError: a reserved event name.
        """
        check_event_name(event)
        packet = Packet.event(self._nsp.name, [event, *args])
        self._adapter.broadcast(packet, self._opts)

    async def emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Sends an event asking every targeted socket to acknowledge it.

        Returns:
            One entry per socket that answered: its first ack argument.

        Raises:
            AckTimeoutError: not every socket answered within :meth:`timeout`
                (default 5 s); ``responses`` holds the answers that came.
        """
        check_event_name(event)
        timeout = self._opts.flags.timeout
        if timeout is None:
            timeout = 5.0
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        responses: list[Any] = []
        counts: list[int] = []  # one per server that reported how many sockets it reached
        servers = 0  # how many servers will report (known once the adapter has sent)

        def check() -> None:
            if (
                servers
                and len(counts) >= servers
                and len(responses) >= sum(counts)
                and not done.done()
            ):
                done.set_result(None)

        def on_count(count: int) -> None:
            counts.append(count)
            check()

        def on_ack(args: list[Any]) -> None:
            responses.append(args[0] if args else None)
            check()

        ack_id = self._nsp.next_ack_id()
        packet = Packet.event(self._nsp.name, [event, *args], ack_id)
        servers = await self._adapter.broadcast_with_ack(packet, self._opts, on_count, on_ack)
        check()
        try:
            async with asyncio.timeout(timeout):
                await done
        except TimeoutError:
            # Sockets that never answered would keep expecting this ack until they
            # disconnect: forget it.
            self._nsp.forget_ack(ack_id)
            message = "operation has timed out"
            if servers > 1:
                message += (
                    f" ({len(counts)} of {servers} servers reported,"
                    f" {len(responses)} of {sum(counts)} acks)"
                )
            raise AckTimeoutError(message, responses=list(responses)) from None
        except asyncio.CancelledError:
            self._nsp.forget_ack(ack_id)
            raise
        return responses

    async def fetch_sockets(self) -> list[Any]:
        """The targeted sockets (live local sockets, and remote ones in a cluster)."""
        return await self._adapter.fetch_sockets(self._opts)

    def sockets_join(self, room: Iterable[str] | str) -> None:
        """Makes the targeted sockets join rooms."""
        self._adapter.add_sockets(self._opts, _as_rooms(room))

    def sockets_leave(self, room: Iterable[str] | str) -> None:
        """Makes the targeted sockets leave rooms."""
        self._adapter.del_sockets(self._opts, _as_rooms(room))

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnects the targeted sockets (``close`` also ends their connections)."""
        self._adapter.disconnect_sockets(self._opts, close)
