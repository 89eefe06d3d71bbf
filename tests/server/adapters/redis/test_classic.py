"""plexio.server.adapters.redis.classic (classic pub/sub): two plexio servers on one real Redis.

Each server is a real plexio Server served by the native listener on its own port with
its own Redis connections; each has one plexio client. The Redis server is Debian's
redis-server started by the test on a free port (tests/helpers/redis.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.asyncio as aioredis

import plexio
from plexio.client import ClientSocket, ManagerCache
from plexio.exceptions import AckTimeoutError, ClusterError, ClusterTimeoutError
from plexio.server.adapters.redis import Kind, RedisAdapter, create_adapter
from plexio.server.adapters.redis.wire import pack, unpack
from plexio.server.adapters.remote import RemoteSocket
from tests.helpers.redis import RedisProcess, running_redis, watch
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]


@dataclass
class Client:
    """A plexio client recording every event it receives."""

    socket: ClientSocket
    got: list[tuple[str, list[Any]]] = field(default_factory=list)
    disconnects: list[str] = field(default_factory=list)

    def events(self, name: str) -> list[list[Any]]:
        return [args for event, args in self.got if event == name]

    def record(self, event: str, *args: Any) -> None:
        self.got.append((event, list(args)))

    def has(self, events: list[str]) -> Callable[[], bool]:
        """Whether exactly these events came, in this order."""
        return lambda: [event for event, _ in self.got] == events

    @classmethod
    async def connect(
        cls,
        port: int,
        name: str,
        cache: ManagerCache,
        *,
        nsp: str = "",
        auth: dict[str, Any] | None = None,
    ) -> Client:
        """A WebSocket client of namespace ``nsp`` of the server on ``port`` (auth
        ``{"name": name}`` unless given, no reconnection), recording what it gets."""
        socket = await plexio.connect(
            f"http://127.0.0.1:{port}{nsp}",
            auth={"name": name} if auth is None else auth,
            force_new=True,
            cache=cache,
            transports=("websocket",),
            reconnection=False,
        )
        client = cls(socket)
        socket.on_any(client.record)
        socket.on("disconnect", client.disconnects.append)
        return client


@dataclass
class Node:
    """One plexio server on the shared Redis, with one client."""

    server: plexio.Server
    port: int
    client: Client

    def adapter(self, nsp: str = "/") -> RedisAdapter:
        adapter = self.server.of(nsp).adapter
        assert isinstance(adapter, RedisAdapter)
        return adapter

    @property
    def sid(self) -> str:
        assert self.client.socket.id is not None
        return self.client.socket.id


Start = Callable[..., Awaitable[Node]]


@pytest.fixture
async def redis_server() -> AsyncIterator[RedisProcess]:
    async with running_redis() as server:
        yield server


@pytest.fixture
async def start_node(redis_server: RedisProcess, serve_native: Any) -> AsyncIterator[Start]:
    servers: list[plexio.Server] = []
    clients: list[ClientSocket] = []
    cache = ManagerCache()

    async def start(name: str, *, requests_timeout: float = 2.0, **kwargs: Any) -> Node:
        server = plexio.Server(
            adapter=create_adapter(redis_server.url, requests_timeout=requests_timeout, **kwargs)
        )

        @server.on("join")
        def join(socket: plexio.ServerSocket, room: str) -> None:
            socket.join(room)

        @server.on("connection")
        def connected(socket: plexio.ServerSocket) -> None:
            socket.data["name"] = socket.handshake.auth.get("name")

        servers.append(server)
        running = await serve_native(server)
        client = await Client.connect(running.port, name, cache)
        clients.append(client.socket)
        return Node(server, running.port, client)

    yield start
    for socket in clients:
        with contextlib.suppress(Exception):
            await socket.disconnect()
    for server in servers:
        await server.shutdown()


async def test_broadcasts_rooms_except_and_flags_cross_servers(
    start_node: Start, redis_server: RedisProcess
) -> None:
    a, b = await start_node("a"), await start_node("b")
    b.client.socket.emit("join", "room1")
    await eventually(lambda: "room1" in b.adapter().rooms)
    async with watch(redis_server.url) as wire:
        a.server.emit("all", 1, b"\x00\x01")
        a.server.to("room1").emit("room", {"x": [1, 2]})
        a.server.except_("room1").emit("except", "only-a")
        a.server.local.emit("local")
        await eventually(lambda: len(b.client.got) >= 2 and len(a.client.got) >= 3)
        # volatile: dropped by a transport that is busy, so sent once all is quiet
        a.server.to("room1").volatile.compress(False).emit("flags")
        await eventually(lambda: len(b.client.got) >= 3)
    assert b.client.events("all") == [[1, b"\x00\x01"]]
    assert a.client.events("all") == [[1, b"\x00\x01"]]
    assert b.client.events("room") == [[{"x": [1, 2]}]]
    assert a.client.events("room") == []
    assert a.client.events("except") == [["only-a"]]
    assert b.client.events("except") == []
    assert b.client.events("flags") == [[]]
    assert a.client.events("local") == [[]]
    assert b.client.events("local") == []
    broadcasts = [(ch, unpack(data)) for ch, data in wire if ch.startswith("socket.io#")]
    # one message per non-local broadcast; one-room broadcasts go to the room's channel
    assert [ch for ch, _ in broadcasts] == [
        "socket.io#/#",
        "socket.io#/#room1#",
        "socket.io#/#",
        "socket.io#/#room1#",
    ]
    uid, packet, opts = broadcasts[3][1]
    assert uid == a.adapter().uid
    assert packet == {"type": 2, "data": ["flags"], "nsp": "/"}
    assert opts == {
        "rooms": ["room1"],
        "except": [],
        "flags": {"volatile": True, "compress": False},
    }
    assert broadcasts[0][1][1]["data"] == ["all", 1, b"\x00\x01"]  # binary stays bin


async def test_broadcast_with_acks_gathers_every_server(start_node: Start) -> None:
    a, b = await start_node("a"), await start_node("b")
    a.client.socket.on("q", lambda n: ("a", n))
    b.client.socket.on("q", lambda n: ("b", n))
    replies = await a.server.timeout(3).emit_with_ack("q", 7)
    assert sorted(replies) == ["a", "b"]
    # from the other side, to one room only
    b.client.socket.emit("join", "r")
    await eventually(lambda: "r" in b.adapter().rooms)
    assert await a.server.to("r").timeout(3).emit_with_ack("q", 1) == ["b"]
    # a client that never answers: the wait times out, with what came
    b.client.socket.on("silent", lambda: None)
    a.client.socket.on("silent", lambda: "ok")

    def never(*_args: Any) -> Any:
        return asyncio.get_running_loop().create_future()  # suspends for ever

    b.client.socket.on("slow", never)
    a.client.socket.on("slow", lambda: "fast")
    with pytest.raises(AckTimeoutError) as err:
        await a.server.timeout(0.5).emit_with_ack("slow")
    assert err.value.responses == ["fast"]
    assert "2 of 2 servers reported" in str(err.value)


async def test_broadcast_with_acks_timeout_names_the_servers_that_did_not_report(
    start_node: Start, redis_server: RedisProcess
) -> None:
    a, b = await start_node("a"), await start_node("b")
    a.client.socket.on("q", lambda: "a")
    b.client.socket.on("q", lambda: "b")
    # A third member of the cluster: it counts in PUBSUB NUMSUB (subscribed to the
    # request channel) and has been heard from (one broadcast), but never reports.
    zombie = aioredis.Redis.from_url(redis_server.url)
    pubsub = zombie.pubsub()
    await pubsub.subscribe("socket.io-request#/#")
    try:
        await zombie.publish(
            "socket.io#/#",
            pack(["zombie", {"type": 2, "data": ["x"], "nsp": "/"}, {"rooms": ["nobody-here"]}]),
        )
        await eventually(lambda: "zombie" in a.adapter().peers.known())
        with pytest.raises(AckTimeoutError) as err:
            await a.server.timeout(0.5).emit_with_ack("q")
        assert sorted(err.value.responses) == ["a", "b"]  # b reported and answered
        assert err.value.silent == ["zombie"]
        assert "2 of 3 servers reported" in str(err.value)
        assert "servers heard from that did not report: zombie" in str(err.value)
    finally:
        await pubsub.aclose()
        await zombie.aclose()


async def test_fetch_sockets_and_remote_socket_actions(start_node: Start) -> None:
    a, b = await start_node("a"), await start_node("b")
    b.client.socket.emit("join", "blue")
    await eventually(lambda: "blue" in b.adapter().rooms)
    found = await a.server.fetch_sockets()
    assert len(found) == 2
    local = [s for s in found if isinstance(s, plexio.ServerSocket)]
    remote = [s for s in found if isinstance(s, RemoteSocket)]
    assert [s.id for s in local] == [a.sid]
    (far,) = remote
    assert far.id == b.sid
    assert far.rooms == {b.sid, "blue"}
    assert far.data == {"name": "b"}
    assert far.handshake["auth"] == {"name": "b"}
    assert set(far.handshake) >= {"headers", "time", "address", "issued", "url", "query"}
    assert [s.id for s in await a.server.in_("blue").fetch_sockets()] == [b.sid]
    assert [s.id for s in await a.server.local.fetch_sockets()] == [a.sid]
    far.emit("direct", 1)
    await eventually(lambda: b.client.events("direct") == [[1]])
    assert a.client.events("direct") == []
    b.client.socket.on("ask", lambda: "answer")
    assert await far.emit_with_ack("ask") == "answer"
    far.join("green")
    await eventually(lambda: b.sid in b.adapter().rooms.get("green", ()))
    far.leave("blue")
    await eventually(lambda: "blue" not in b.adapter().rooms)
    assert await a.adapter().all_rooms() == {a.sid, b.sid, "green"}
    far.disconnect()
    await eventually(lambda: b.client.disconnects == ["io server disconnect"])


async def test_sockets_join_leave_and_disconnect_across_servers(start_node: Start) -> None:
    a, b = await start_node("a"), await start_node("b")
    a.server.sockets_join("everyone")
    await eventually(lambda: "everyone" in b.adapter().rooms)
    assert a.adapter().rooms["everyone"] == {a.sid}  # applied here at once
    a.server.in_("everyone").except_(a.sid).sockets_join("others")
    await eventually(lambda: "others" in b.adapter().rooms)
    a.server.sockets_leave("everyone")
    await eventually(lambda: "everyone" not in b.adapter().rooms)
    a.server.local.sockets_join("here")
    await asyncio.sleep(0.2)
    assert "here" not in b.adapter().rooms and "here" in a.adapter().rooms
    b.server.in_("others").disconnect_sockets()
    await eventually(lambda: b.client.disconnects == ["io server disconnect"])
    assert a.client.disconnects == []
    b.server.disconnect_sockets(close=True)
    await eventually(lambda: a.client.disconnects == ["io server disconnect"])


async def test_server_side_emit_with_and_without_acks(start_node: Start) -> None:
    a, b = await start_node("a"), await start_node("b")
    c = await start_node("c")
    heard: list[Any] = []
    b.server.on_server_side_emit("hello", lambda *args: heard.append(("b", args)) or "from-b")

    @c.server.on_server_side_emit("hello")
    async def on_hello(*args: Any) -> str:
        heard.append(("c", args))
        return "from-c"

    await a.server.server_side_emit("hello", 1, {"k": "v"})
    await eventually(lambda: len(heard) == 2)
    assert sorted(heard) == [("b", (1, {"k": "v"})), ("c", (1, {"k": "v"}))]
    assert sorted(await a.server.server_side_emit_with_ack("hello", 2)) == ["from-b", "from-c"]
    # a server without a handler does not answer: the error names it
    with pytest.raises(ClusterTimeoutError) as err:
        await b.server.server_side_emit_with_ack("only-c-knows")
    assert err.value.expected == 2 and err.value.answered == 0
    assert a.adapter().uid in err.value.silent and c.adapter().uid in err.value.silent
    assert "2 of 2 servers did not answer within 2 s" in str(err.value)
    # a partial answer keeps what came
    a.server.on_server_side_emit("only-a", lambda: "a-answer")
    with pytest.raises(ClusterTimeoutError) as err:
        await b.server.server_side_emit_with_ack("only-a")
    assert err.value.responses == ["a-answer"]
    assert err.value.silent == [c.adapter().uid]


async def test_other_namespaces_and_their_own_channels(
    start_node: Start, redis_server: RedisProcess
) -> None:
    a, b = await start_node("a"), await start_node("b")
    b.server.of("/chat")
    chat_b = await plexio.connect(
        f"http://127.0.0.1:{b.port}/chat",
        force_new=True,
        transports=("websocket",),
        reconnection=False,
    )
    got: list[Any] = []
    chat_b.on("news", got.append)
    # created while serving, no client: its adapter starts by itself
    chat_a = a.server.of("/chat")
    await chat_a.ready()
    async with watch(redis_server.url) as wire:
        chat_a.emit("news", "n1")
        a.server.emit("news", "root-only")
        await eventually(lambda: got == ["n1"])
        await asyncio.sleep(0.1)
    assert got == ["n1"]
    assert ("socket.io#/chat#", wire[0][1]) == wire[0]
    await chat_b.disconnect()


async def test_specific_response_channel_and_custom_key(
    start_node: Start, redis_server: RedisProcess
) -> None:
    options = {"key": "myapp", "publish_on_specific_response_channel": True}
    a, b = await start_node("a", **options), await start_node("b", **options)
    async with watch(redis_server.url) as wire:
        assert {s.id for s in await a.server.fetch_sockets()} == {a.sid, b.sid}
    channels = [ch for ch, _ in wire]
    assert "myapp-request#/#" in channels
    assert f"myapp-response#/#{a.adapter().uid}#" in channels
    assert not any(ch.startswith("socket.io") for ch in channels)


async def test_redis_restart_local_traffic_goes_on_and_the_link_comes_back(
    start_node: Start, redis_server: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="plexio.server.adapters.redis.link")
    a, b = await start_node("a"), await start_node("b")
    a.server.emit("before", 1)
    await eventually(lambda: b.client.events("before") == [[1]])
    link = a.adapter().link
    await redis_server.kill()
    await eventually(lambda: not link.up and not b.adapter().link.up)
    # local delivery goes on; what could not reach the other server is counted
    for n in range(5):
        a.server.emit("during", n)
    await eventually(lambda: len(a.client.events("during")) == 5)
    assert link.lost[Kind.BROADCAST] == 5
    with pytest.raises(ClusterError, match="unreachable"):
        await a.server.fetch_sockets()
    with pytest.raises(ClusterError, match="unreachable"):
        await a.server.server_side_emit("x")
    assert a.server.local.emit("still", "fine") is None
    await redis_server.start()
    await eventually(lambda: link.up and b.adapter().link.up, timeout=10)
    a.server.emit("after", 2)
    await eventually(lambda: b.client.events("after") == [[2]])
    assert b.client.events("during") == []  # dropped, and said so
    assert {s.id for s in await a.server.fetch_sockets()} == {a.sid, b.sid}
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    back = [r for r in caplog.records if "reachable again" in r.getMessage()]
    # once per outage and per server: not once per lost message
    assert len(errors) == 2
    assert len(back) == 2
    assert any("5 broadcasts" in r.getMessage() for r in back)
    assert link.outages == 1


async def test_a_hung_redis_keeps_memory_bounded_and_counts_what_it_lost(
    redis_server: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="plexio.server.adapters.redis.link")
    server = plexio.Server(
        adapter=create_adapter(redis_server.url, max_backlog=50, command_timeout=1.0)
    )
    await server.sockets.ready()
    adapter = server.sockets.adapter
    assert isinstance(adapter, RedisAdapter)
    link = adapter.link
    redis_server.pause()
    try:
        for n in range(1000):
            server.emit("e", n)
            assert link.backlog <= 50
        # beyond the backlog nothing is kept: dropped and counted at once
        assert link.lost[Kind.BROADCAST] >= 1000 - 2 * 50 - 256
        full = [r for r in caplog.records if "not keeping up" in r.getMessage()]
        assert len(full) == 1  # once, not once per message
        # the stuck publish times out: an outage, and the backlog is let go
        await eventually(lambda: not link.up, timeout=10)
        assert link.backlog == 0
        with pytest.raises(ClusterError):
            await server.timeout(1).emit_with_ack("x")
    finally:
        redis_server.resume()
    await eventually(lambda: link.up, timeout=20)
    assert link.lost[Kind.BROADCAST] >= 1000 - 256
    await server.shutdown()


async def test_an_adapter_no_client_started_yet_starts_on_first_use(
    start_node: Start, redis_server: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="plexio.server.adapters.redis.classic")
    b = await start_node("b")
    # a server that no client joined: its "/" adapter was made before the loop ran
    quiet = plexio.Server(adapter=create_adapter(redis_server.url))
    try:
        quiet.emit("early", 1)  # cannot reach the cluster yet: said so, and the start begins
        early = [r for r in caplog.records if "before its cluster adapter had started" in r.msg]
        assert len(early) == 1
        quiet.emit("early", 2)
        assert len([r for r in caplog.records if "before its cluster" in r.msg]) == 1
        # requests wait for the start instead of answering for this server alone
        assert {s.id for s in await quiet.fetch_sockets()} == {b.sid}
        quiet.emit("later", 3)
        await eventually(lambda: b.client.events("later") == [[3]])
        assert b.client.events("early") == []
    finally:
        await quiet.shutdown()


async def test_a_client_of_a_new_dynamic_namespace_gets_what_another_server_sends_at_once(
    redis_server: RedisProcess, serve_native: Any
) -> None:
    # The CONNECT to a namespace this server never had is answered once the namespace's
    # subscriptions are confirmed by Redis (Node subscribes without waiting): what
    # another server sends right after the client's connect, volatile or not, arrives.
    a = plexio.Server(adapter=create_adapter(redis_server.url))
    b = plexio.Server(adapter=create_adapter(redis_server.url))
    for server in (a, b):
        server.of(re.compile(r"/dyn-\d+"))
    b_port = (await serve_native(b)).port
    cache = ManagerCache()
    try:
        for n in range(10):
            name = f"/dyn-{n}"
            await a.of(name).ready()  # A has no client there: it only sends
            client = await Client.connect(b_port, "b", cache, nsp=name)
            a.of(name).volatile.emit("volatile")
            a.of(name).emit("reliable")
            await eventually(client.has(["volatile", "reliable"]))
            await client.socket.disconnect()
    finally:
        await a.shutdown()
        await b.shutdown()


async def test_a_volatile_broadcast_right_behind_other_traffic_reaches_an_asgi_client(
    redis_server: RedisProcess, serve_uvicorn: Any
) -> None:
    # The gateway's lost typing hint: under an ASGI server, a volatile broadcast from
    # another server that arrived while the client's previous frames were still being
    # handed to the ASGI server (one or two loop turns, the client not behind at all)
    # was dropped. Here it comes in the same Redis read as a reliable one before it.
    a = plexio.Server(adapter=create_adapter(redis_server.url))
    b = plexio.Server(adapter=create_adapter(redis_server.url))
    await a.of("/").ready()
    b_port = (await serve_uvicorn(plexio.ASGIApp(b))).port
    client = await Client.connect(b_port, "b", ManagerCache())

    def reliable_count(count: int) -> Callable[[], bool]:
        return lambda: len(client.events("reliable")) == count

    try:
        for n in range(20):
            a.emit("reliable", n)
            a.volatile.emit("volatile", n)
            await eventually(reliable_count(n + 1))
            await asyncio.sleep(0.02)  # the volatile one, sent after it, is in by now
        assert client.events("reliable") == [[n] for n in range(20)]
        assert client.events("volatile") == [[n] for n in range(20)]
    finally:
        await client.socket.disconnect()
        await a.shutdown()
        await b.shutdown()
