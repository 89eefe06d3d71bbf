"""One simulated user: connects in a topology, subscribes, posts and receives messages.

Topology ``"A"``: one namespace socket per community, ``/socket/commu-{id}``, each
CONNECT carrying the token; the server joins the channel rooms. The CONNECTs are
pipelined, as socket.io-client does (every socket sends its CONNECT as soon as the
shared Engine.IO connection is open; over polling they leave in one POST).

With ``sequential=True`` an A user awaits each namespace's CONNECT reply before it sends
the next CONNECT (``for (...) await connected(io.socket(ns))``, a common way to write it):
N round trips instead of one.

After connecting, a user can move around (:meth:`User.move`): leave and join a channel,
leave and join a community (A: DISCONNECT and a new CONNECT; B: ``unsubscribe`` and
``subscribe`` events with acks).

Topology ``"B"``: one CONNECT to ``/socket`` carrying the token; the server joins
``commu:{id}`` and ``commu:{id}:chan:{k}`` from its membership table before replying.

Topology ``"B-sub"``: one CONNECT to ``/socket``, then a ``subscribe`` event with an ack
listing the community ids (the server checks each against its table).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from topology.model import MAIN_NAMESPACE, community_namespace, make_token
from topology.wire import (
    ProtocolError,
    Transport,
    decode_packet,
    encode_connect,
    encode_event,
    make_transport,
)

__all__ = ["MOVES", "TOPOLOGIES", "TRANSPORTS", "ConnectRefused", "User"]

TOPOLOGIES: tuple[str, ...] = ("A", "B", "B-sub")
TRANSPORTS: tuple[str, ...] = ("websocket", "polling")
MESSAGE_TEXT = "hello from the topology measurement"
#: What a connected user can do to move around (see :meth:`User.move`).
MOVES: tuple[str, ...] = ("channel:leave", "channel:join", "community:leave", "community:join")


class ConnectRefused(Exception):
    """The server answered a CONNECT with CONNECT_ERROR."""


class User:
    """A simulated user of the gateway.

    Args:
        user: the user id.
        communities: the communities the user is in.
        topology: ``"A"``, ``"B"`` or ``"B-sub"``.
        transport: ``"websocket"`` or ``"polling"``.
        host: server address.
        port: server port.
        timeout: bound on every network wait, in seconds.
        sequential: (A) await each namespace before connecting the next.
    """

    def __init__(
        self,
        user: int,
        communities: list[int],
        topology: str,
        transport: str,
        host: str,
        port: int,
        timeout: float = 30.0,
        sequential: bool = False,
    ) -> None:
        if topology not in TOPOLOGIES:
            raise ValueError(f"unknown topology {topology!r} (expected one of {TOPOLOGIES})")
        self.user = user
        self.communities = communities
        self.topology = topology
        self.transport: Transport = make_transport(transport, host, port, timeout)
        self.timeout = timeout
        self.sequential = sequential
        self.token = make_token(user)
        self.delivered = 0
        self.ready_s = 0.0
        self.setup = self.transport.traffic.copy()
        self._pending: set[str] = set()
        self._acks: dict[tuple[str, int], asyncio.Future[Any]] = {}
        self._next_ack = 0
        self._reader: asyncio.Task[None] | None = None
        self.error = ""

    # ------------------------------------------------------------ packets in

    def _handle(self, text: str) -> None:
        packet = decode_packet(text)
        if packet.type == 0:
            self._pending.discard(packet.namespace)
        elif packet.type == 4:
            raise ConnectRefused(f"{packet.namespace}: {packet.data}")
        elif packet.type == 3 and packet.ack_id is not None:
            future = self._acks.pop((packet.namespace, packet.ack_id), None)
            if future is not None and not future.done():
                future.set_result(packet.data)
        elif packet.type == 2:
            if isinstance(packet.data, list) and packet.data and packet.data[0] == "message:new":
                self.delivered += 1
        elif packet.type == 1:
            raise ConnectionError(f"server disconnected {packet.namespace}")

    def _ack_future(self, namespace: str) -> tuple[int, asyncio.Future[Any]]:
        self._next_ack += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[(namespace, self._next_ack)] = future
        return self._next_ack, future

    async def _exchange(self, packets: list[str], done: Any) -> None:
        """Sends ``packets`` and reads until ``done()``; counts the round trips."""
        traffic = self.transport.traffic
        traffic.round_trips += 1
        if self.transport.name == "polling":
            # The POST and the next GET go out together (two connections).
            _, first = await asyncio.gather(self.transport.send(packets), self.transport.receive())
            for text in first:
                self._handle(text)
            while not done():
                traffic.round_trips += 1  # one more GET after the previous one came back
                for text in await self.transport.receive():
                    self._handle(text)
        else:
            await self.transport.send(packets)
            while not done():
                for text in await self.transport.receive():
                    self._handle(text)

    # ------------------------------------------------------------ set-up

    async def connect(self) -> float:
        """Opens the connection and subscribes to every community; returns seconds to ready.

        Raises:
            ConnectRefused: the server refused a CONNECT.
            ProtocolError: the server answered something unexpected.
            TimeoutError: a wait exceeded the timeout.
        """
        start = time.perf_counter()
        await self.transport.open()
        auth: dict[str, Any] = {"token": self.token}
        if self.topology == "A":
            names = [community_namespace(c) for c in self.communities]
            if self.sequential:
                for name in names:
                    self._pending = {name}
                    await self._exchange([encode_connect(name, auth)], self._no_pending)
            else:
                self._pending = set(names)
                await self._exchange([encode_connect(n, auth) for n in names], self._no_pending)
        else:
            if self.topology == "B":
                auth["subscribe"] = "server"
            self._pending = {MAIN_NAMESPACE}
            await self._exchange([encode_connect(MAIN_NAMESPACE, auth)], self._no_pending)
            if self.topology == "B-sub":
                ack_id, future = self._ack_future(MAIN_NAMESPACE)
                packet = encode_event(MAIN_NAMESPACE, ["subscribe", self.communities], ack_id)
                await self._exchange([packet], future.done)
                answer = future.result()
                if not (isinstance(answer, list) and answer and answer[0].get("ok")):
                    raise ProtocolError(f"subscribe refused: {answer}")
                if len(answer[0].get("joined", ())) != len(self.communities):
                    raise ProtocolError("subscribe did not join every community")
        self.ready_s = time.perf_counter() - start
        self.setup = self.transport.traffic.copy()
        return self.ready_s

    def _no_pending(self) -> bool:
        return not self._pending

    # ------------------------------------------------------------ moving around

    async def _request(self, namespace: str, args: list[Any]) -> Any:
        """An event with an ack, waited for (one exchange); returns the ack's first value."""
        ack_id, future = self._ack_future(namespace)
        await self._exchange([encode_event(namespace, args, ack_id)], future.done)
        answer = future.result()
        if not (isinstance(answer, list) and answer and answer[0].get("ok")):
            raise ProtocolError(f"{args[0]} refused: {answer}")
        return answer[0]

    async def move(self, move: str, community: int, channel: int = 0) -> None:
        """Moves around after connecting (the user must not be reading in the background).

        ``"channel:leave"`` / ``"channel:join"``: an event with an ack in the community's
        namespace (A) or in ``/socket`` (B). ``"community:leave"``: A sends a DISCONNECT
        for the namespace (no reply: the client is done at once), B an ``unsubscribe``
        event with an ack. ``"community:join"``: A a CONNECT with the token (the server
        verifies it and the membership again), B a ``subscribe`` event with an ack.

        Raises:
            ValueError: unknown move.
            ProtocolError: the server refused.
        """
        if move not in MOVES:
            raise ValueError(f"unknown move {move!r} (one of {MOVES})")
        a = self.topology == "A"
        if move.startswith("channel:"):
            if a:
                await self._request(community_namespace(community), [move, {"chan": channel}])
            else:
                body = {"commu": community, "chan": channel}
                await self._request(MAIN_NAMESPACE, [move, body])
        elif move == "community:leave":
            if a:
                await self.transport.send(["1" + community_namespace(community) + ","])
            else:
                answer = await self._request(MAIN_NAMESPACE, ["unsubscribe", [community]])
                if answer.get("left") != [community]:
                    raise ProtocolError(f"unsubscribe did not leave {community}: {answer}")
        elif a:
            name = community_namespace(community)
            self._pending = {name}
            await self._exchange([encode_connect(name, {"token": self.token})], self._no_pending)
        else:
            answer = await self._request(MAIN_NAMESPACE, ["subscribe", [community]])
            if answer.get("joined") != [community]:
                raise ProtocolError(f"subscribe did not join {community}: {answer}")

    # ------------------------------------------------------------ steady state

    def start_reading(self) -> None:
        """Starts the background task that receives deliveries and acks."""
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._read_loop())

    async def _read_loop(self) -> None:
        try:
            while True:
                for text in await self.transport.receive():
                    self._handle(text)
        except asyncio.CancelledError:
            raise
        except (OSError, ConnectionError, ProtocolError, TimeoutError, ConnectRefused) as exc:
            self.error = f"{type(exc).__name__}: {exc}"

    async def post(self, community: int, channel: int) -> None:
        """Posts a message in a channel and waits for the server's ack.

        Raises:
            ProtocolError: the server refused the message.
            TimeoutError: no ack within the timeout.
        """
        if self.topology == "A":
            namespace = community_namespace(community)
            body: dict[str, Any] = {"chan": channel, "text": MESSAGE_TEXT}
        else:
            namespace = MAIN_NAMESPACE
            body = {"commu": community, "chan": channel, "text": MESSAGE_TEXT}
        ack_id, future = self._ack_future(namespace)
        await self.transport.send([encode_event(namespace, ["message:send", body], ack_id)])
        async with asyncio.timeout(self.timeout):
            answer = await future
        if not (isinstance(answer, list) and answer and answer[0].get("ok")):
            raise ProtocolError(f"message refused: {answer}")

    async def close(self) -> None:
        """Stops reading and closes the connection."""
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - closing anyway
                pass
            self._reader = None
        for future in self._acks.values():
            future.cancel()
        self._acks.clear()
        await self.transport.close()
