"""The fluent broadcast API (layer L3).

May import: plexio L0, plexio.socketio, plexio.server.adapters.base.
:class:`BroadcastOperator` (``server.to("room").except_("other").volatile.emit(...)``)
builds a :class:`~plexio.server.adapters.base.BroadcastOptions` value and hands the
packet to the namespace's adapter, which encodes it once for every recipient.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import replace
from typing import TypeVar, overload

from plexio.exceptions import AckTimeoutError, InvalidPacketError
from plexio.server.adapters.base import Adapter, BroadcastFlags, BroadcastOptions
from plexio.server.fetched import FetchedSocket
from plexio.server.signatures import check_reply
from plexio.socketio.packets import RESERVED_EVENTS, Packet
from plexio.typing import JSONValue

# BroadcastFlags and BroadcastOptions live with the adapter contract; re-exported here.
_T = TypeVar("_T")

__all__ = [
    "BroadcastFlags",
    "BroadcastOperator",
    "BroadcastOptions",
    "check_event_name",
    "flatten_rooms",
]


def check_event_name(event: str) -> None:
    """Refuses reserved event names on emit.

    Raises:
        InvalidPacketError: ``event`` is reserved (connect, disconnect, ...); a
            ValueError too, and what the client raises for the same mistake.
    """
    if event in RESERVED_EVENTS:
        raise InvalidPacketError(f"event name {event!r} is reserved")


def flatten_rooms(rooms: tuple[str | Iterable[str], ...]) -> list[str]:
    """The room names of ``join("a", ["b", "c"])``-style arguments, in order."""
    out: list[str] = []
    for item in rooms:
        if isinstance(item, str):
            out.append(item)
        else:
            out.extend(item)
    return out


def _as_rooms(rooms: Iterable[str] | str) -> frozenset[str]:
    return frozenset((rooms,)) if isinstance(rooms, str) else frozenset(rooms)


class BroadcastOperator:
    """Fluent broadcast builder; every method returns a new operator.

    Args:
        adapter: the namespace's adapter.
        namespace: the namespace name.
        options: the targeting built so far.
    """

    __slots__ = ("_adapter", "_nsp", "_opts")

    def __init__(
        self,
        adapter: Adapter,
        namespace: str,
        options: BroadcastOptions | None = None,
    ) -> None:
        self._adapter = adapter
        self._nsp = namespace
        self._opts = options or BroadcastOptions()

    @property
    def options(self) -> BroadcastOptions:
        """The targeting as a value."""
        return self._opts

    def _with(self, options: BroadcastOptions) -> BroadcastOperator:
        return BroadcastOperator(self._adapter, self._nsp, options)

    def _with_flags(self, flags: BroadcastFlags) -> BroadcastOperator:
        return self._with(replace(self._opts, flags=flags))

    def _prepare(self, event: str, args: tuple[JSONValue, ...]) -> tuple[JSONValue, ...]:
        """Checks the event name; converts the arguments of an event declared with a
        payload type (``emits``)."""
        check_event_name(event)
        outgoing = self._adapter.nsp.outgoing
        if outgoing:
            declared = outgoing.get(event)
            if declared is not None:
                return declared.prepare(args)
        return args

    def to(self, room: Iterable[str] | str) -> BroadcastOperator:
        """Adds target rooms (a socket in several of them receives once)."""
        return self._with(replace(self._opts, rooms=self._opts.rooms | _as_rooms(room)))

    in_ = to

    def except_(self, room: Iterable[str] | str) -> BroadcastOperator:
        """Excludes the sockets of these rooms."""
        return self._with(
            replace(self._opts, except_rooms=self._opts.except_rooms | _as_rooms(room))
        )

    @property
    def volatile(self) -> BroadcastOperator:
        """The event may be dropped for recipients that are not ready."""
        return self._with_flags(replace(self._opts.flags, volatile=True))

    @property
    def local(self) -> BroadcastOperator:
        """Only this server's sockets."""
        return self._with_flags(replace(self._opts.flags, local=True))

    def compress(self, compress: bool) -> BroadcastOperator:
        """Sets whether the transport may compress the event."""
        return self._with_flags(replace(self._opts.flags, compress=compress))

    def timeout(self, seconds: float) -> BroadcastOperator:
        """Sets how long :meth:`emit_with_ack` waits for every reply.

        Raises:
            ValueError: ``seconds`` is not > 0 (as on the client).
        """
        if seconds <= 0:
            raise ValueError("timeout must be > 0")
        return self._with_flags(replace(self._opts.flags, timeout=seconds))

    def emit(self, event: str, *args: JSONValue) -> None:
        """Sends an event to every targeted socket; encoded once for all of them.

        Raises:
            ValueError: a reserved event name.
        """
        args = self._prepare(event, args)
        packet = Packet.event(self._nsp, [event, *args])
        self._adapter.broadcast(packet, self._opts)

    @overload
    async def emit_with_ack(self, event: str, *args: JSONValue) -> list[JSONValue]: ...

    @overload
    async def emit_with_ack(self, event: str, *args: JSONValue, returns: type[_T]) -> list[_T]: ...

    async def emit_with_ack(
        self, event: str, *args: JSONValue, returns: type[object] | None = None
    ) -> list[JSONValue]:
        """Sends an event asking every targeted socket to acknowledge it.

        With ``returns=T`` every answer is checked against ``T`` (and converted; see
        :meth:`ServerSocket.emit_with_ack`), and the list is typed ``list[T]``.

        Returns:
            One entry per socket that answered: its first ack argument.

        Raises:
            AckTimeoutError: not every socket answered within :meth:`timeout`
                (default 5 s); ``responses`` holds the answers that came.
        """
        args = self._prepare(event, args)
        timeout = self._opts.flags.timeout
        if timeout is None:
            timeout = 5.0
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        responses: list[JSONValue] = []
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

        def on_ack(args: list[JSONValue]) -> None:
            responses.append(args[0] if args else None)
            check()

        # No ack id yet: the adapter picks one every recipient can take (one id for
        # all, so the packet is still encoded once).
        packet = Packet.event(self._nsp, [event, *args])
        servers = await self._adapter.broadcast_with_ack(packet, self._opts, on_count, on_ack)
        check()
        try:
            async with asyncio.timeout(timeout):
                await done
        except TimeoutError:
            message = "operation has timed out"
            silent: list[str] = []
            if servers > 1:
                message += (
                    f" ({len(counts)} of {servers} servers reported,"
                    f" {len(responses)} of {sum(counts)} acks)"
                )
                if len(counts) < servers:
                    silent = self._adapter.silent_servers(on_ack)
                    message += (
                        f"; servers heard from that did not report: {', '.join(silent)}"
                        if silent
                        else "; the servers that did not report cannot be named"
                    )
            raise AckTimeoutError(message, responses=list(responses), silent=silent) from None
        finally:
            # Sockets that never answered would keep expecting this ack until they
            # disconnect: forget it.
            self._adapter.forget_acks(on_ack)
        if returns is not None:
            return [check_reply(event, answer, returns) for answer in responses]
        return responses

    async def fetch_sockets(self) -> list[FetchedSocket]:
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
