"""plexio.server.broadcast: the fluent operator, encode-once broadcasts, broadcast acks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

import plexio
from plexio import AckTimeoutError
from plexio.server.broadcast import (
    BroadcastFlags,
    BroadcastOperator,
    BroadcastOptions,
    check_event_name,
)
from plexio.server.socket import ServerSocket
from plexio.socketio.packets import Packet, PacketType
from plexio.socketio.parser import JsonParser
from tests.helpers.eio import RawEngineIO
from tests.server.conftest import Serve
from tests.server.raw import RawSocketIO, eventually, raw_socketio


class CountingParser(JsonParser):
    """The real JSON parser, recording every packet it encodes."""

    def __init__(self) -> None:
        self.encoded: list[Packet] = []

    def encode(self, packet: Packet) -> list[str | bytes]:
        self.encoded.append(packet)
        return super().encode(packet)

    def events(self, name: str) -> list[Packet]:
        return [
            p
            for p in self.encoded
            if p.type is PacketType.EVENT and isinstance(p.data, list) and p.data[0] == name
        ]


@contextlib.asynccontextmanager
async def clients(ws_root: str, count: int) -> AsyncIterator[list[RawSocketIO]]:
    async with contextlib.AsyncExitStack() as stack:
        raws = [await stack.enter_async_context(raw_socketio(ws_root)) for _ in range(count)]
        yield raws


def test_operator_is_immutable_and_builds_options() -> None:
    server = plexio.Server()
    base = server.to("a")
    built = base.to(["b", "c"]).except_("x").except_({"y"}).volatile.local.compress(False)
    built = built.timeout(2.5)
    assert base.options == BroadcastOptions(rooms=frozenset({"a"}))
    assert built.options == BroadcastOptions(
        rooms=frozenset({"a", "b", "c"}),
        except_rooms=frozenset({"x", "y"}),
        flags=BroadcastFlags(volatile=True, compress=False, local=True, timeout=2.5),
    )
    assert server.in_("a").options == base.options
    assert server.except_("z").options.except_rooms == frozenset({"z"})
    assert server.volatile.options.flags.volatile
    assert server.local.options.flags.local
    assert not server.compress(False).options.flags.compress
    assert server.timeout(1).options.flags.timeout == 1
    assert isinstance(built, BroadcastOperator)


def test_check_event_name() -> None:
    check_event_name("chat")
    with pytest.raises(ValueError, match="reserved"):
        check_event_name("disconnecting")


@pytest.mark.parametrize("binary", [False, True])
async def test_broadcast_encodes_once_and_sends_identical_frames(
    serve: Serve, binary: bool
) -> None:
    parser = CountingParser()
    server = plexio.Server(parser=parser)
    running = await serve(server)
    async with clients(running.ws_url, 5) as raws:
        for raw in raws:
            await raw.connect()
        payload: list[Any] = [{"n": 1, "blob": b"\x00\xff"}, b"x"] if binary else ["hi", 2]
        server.emit("news", *payload)
        expected = 3 if binary else 1
        received = [[await raw.recv() for _ in range(expected)] for raw in raws]
        assert all(frames == received[0] for frames in received)
        if binary:
            assert received[0][0] == (
                '452-["news",{"n":1,"blob":{"_placeholder":true,"num":0}},'
                '{"_placeholder":true,"num":1}]'
            )
            assert received[0][1:] == [b"\x00\xff", b"x"]
        else:
            assert received[0] == ['42["news","hi",2]']
        assert len(parser.events("news")) == 1
        # a room broadcast too
        sids = list(server.sockets.sockets)
        server.sockets.sockets[sids[0]].join("r")
        server.sockets.sockets[sids[1]].join("r")
        server.to("r").emit("room-news")
        assert await raws[0].recv() == await raws[1].recv() == '42["room-news"]'
        assert len(parser.events("room-news")) == 1


async def test_rooms_union_and_except(serve: Serve) -> None:
    server = plexio.Server()

    @server.on("connection")
    def on_connection(socket: ServerSocket) -> None:
        socket.join(socket.handshake.auth["rooms"])

    running = await serve(server)
    async with clients(running.ws_url, 4) as (a, b, c, d):
        await a.connect(auth={"rooms": ["red", "blue"]})
        await b.connect(auth={"rooms": ["red"]})
        await c.connect(auth={"rooms": ["blue", "muted"]})
        await d.connect(auth={"rooms": []})
        server.to(["red", "blue"]).emit("either")  # a socket in both receives once
        server.to("blue").except_("muted").emit("blue-not-muted")
        server.except_(["red", "muted"]).emit("outsiders")
        server.to("nobody-here").emit("lost")
        assert await a.recv() == '42["either"]'
        assert await a.recv() == '42["blue-not-muted"]'
        assert await b.recv() == '42["either"]'
        assert await c.recv() == '42["either"]'
        assert await d.recv() == '42["outsiders"]'
        for raw in (a, b, c, d):
            assert await raw.silent(0.05) == []


async def test_broadcast_with_acks_collects_every_reply(serve: Serve) -> None:
    parser = CountingParser()
    server = plexio.Server(parser=parser)
    running = await serve(server)
    async with clients(running.ws_url, 3) as raws:
        for raw in raws:
            await raw.connect()
        waiting = asyncio.ensure_future(server.timeout(5).emit_with_ack("count", 1))
        frames = [await raw.recv() for raw in raws]
        assert len(set(frames)) == 1  # one ack id shared by every recipient
        ack_id = str(frames[0])[2:].split("[", 1)[0]
        assert ack_id.isdigit()
        for n, raw in enumerate(raws):
            await raw.send(f'43{ack_id}[{{"n":{n}}},"ignored extra"]')
        assert sorted(r["n"] for r in await waiting) == [0, 1, 2]
        assert len(parser.events("count")) == 1
        # to nobody: answers at once
        assert await server.to("empty-room").emit_with_ack("count") == []
        # the default timeout applies without .timeout()
        waiting = asyncio.ensure_future(server.emit_with_ack("again"))
        frames = [await raw.recv() for raw in raws]
        ack_id = str(frames[0])[2:].split("[", 1)[0]
        for raw in raws:
            await raw.send(f"43{ack_id}[]")
        assert await waiting == [None, None, None]


async def test_broadcast_ack_timeout_keeps_partial_responses(serve: Serve) -> None:
    server = plexio.Server()
    running = await serve(server)
    async with clients(running.ws_url, 3) as raws:
        for raw in raws:
            await raw.connect()
        waiting = asyncio.ensure_future(server.timeout(0.3).emit_with_ack("vote"))
        frames = [await raw.recv() for raw in raws]
        ack_id = str(frames[0])[2:].split("[", 1)[0]
        await raws[0].send(f'43{ack_id}["yes"]')
        await raws[1].send(f'43{ack_id}["no"]')
        with pytest.raises(AckTimeoutError) as caught:
            await waiting
        assert sorted(caught.value.responses) == ["no", "yes"]
        # the silent socket does not keep the expired ack forever
        for socket in server.sockets.sockets.values():
            assert socket.pending_acks == 0
        await raws[2].send(f'43{ack_id}["late"]')  # ignored
        assert await raws[2].silent(0.05) == []


async def test_broadcast_ack_from_a_socket_that_leaves(serve: Serve) -> None:
    server = plexio.Server()
    running = await serve(server)
    async with clients(running.ws_url, 2) as (stay, leave):
        await stay.connect()
        await leave.connect()
        waiting = asyncio.ensure_future(server.timeout(0.3).emit_with_ack("q"))
        frame = await stay.recv()
        await leave.recv()
        await leave.send("41")
        ack_id = str(frame)[2:].split("[", 1)[0]
        await stay.send(f"43{ack_id}[1]")
        with pytest.raises(AckTimeoutError) as caught:
            await waiting
        assert caught.value.responses == [1]


async def test_volatile_local_compress_broadcasts_are_delivered(serve: Serve) -> None:
    server = plexio.Server()
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        await raw.connect()
        server.volatile.emit("v")
        server.local.emit("l")
        server.compress(False).emit("c")
        server.send("m")
        assert [await raw.recv() for _ in range(4)] == [
            '42["v"]',
            '42["l"]',
            '42["c"]',
            '42["message","m"]',
        ]


async def test_fetch_join_leave_disconnect_through_the_operator(serve: Serve) -> None:
    server = plexio.Server()
    running = await serve(server)
    async with clients(running.ws_url, 3) as (a, b, c):
        sid_a = await a.connect()
        sid_b = await b.connect()
        sid_c = await c.connect()
        server.to(sid_a).sockets_join("team")
        server.to([sid_b, sid_c]).sockets_join(["team", "extra"])
        assert {s.id for s in await server.to("team").fetch_sockets()} == {sid_a, sid_b, sid_c}
        server.to("extra").except_(sid_c).sockets_leave("team")
        assert {s.id for s in await server.to("team").fetch_sockets()} == {sid_a, sid_c}
        server.sockets_leave("extra")
        assert server.sockets.adapter.rooms.get("extra") is None
        server.to("team").except_(sid_a).disconnect_sockets()
        assert await c.recv() == "41"
        await eventually(lambda: sid_c not in server.sockets.sockets)
        assert {s.id for s in await server.fetch_sockets()} == {sid_a, sid_b}
        server.disconnect_sockets(close=True)
        assert await a.closed() == ["41"]
        assert await b.closed() == ["41"]


async def test_cancelled_broadcast_with_acks_forgets_its_ack(serve: Serve) -> None:
    server = plexio.Server()
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        sid = await raw.connect()
        waiting = asyncio.ensure_future(server.timeout(30).emit_with_ack("q"))
        await raw.recv()
        assert server.sockets.sockets[sid].pending_acks == 1
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert server.sockets.sockets[sid].pending_acks == 0


async def test_volatile_broadcast_with_acks_skips_sockets_that_dropped_it(serve: Serve) -> None:
    server = plexio.Server()
    running = await serve(server)
    async with (
        raw_socketio(running.ws_url) as ready,
        httpx.AsyncClient(base_url=running.http_url, timeout=5) as http,
    ):
        await ready.connect()
        eio = RawEngineIO(http, running.ws_url, "/socket.io/")
        sid = (await eio.handshake()).sid
        await eio.post(sid, "40")
        await eio.receive_until(sid, lambda p: any(x.startswith("40") for x in p))
        # the polling client holds no GET now: a volatile packet is dropped for it
        polling = server.engine.sockets[sid].state.sockets["/"]
        waiting = asyncio.ensure_future(server.volatile.timeout(5).emit_with_ack("q"))
        frame = str(await ready.recv())
        ack_id = frame[2:].split("[", 1)[0]
        await ready.send(f'43{ack_id}["from ws"]')
        assert await waiting == ["from ws"]
        assert polling.pending_acks == 0
