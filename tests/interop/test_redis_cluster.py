"""A mixed cluster on one real Redis: a plexio server and a Node socket.io 4.8 server.

The Node side (``js/redis_node.js``) uses the official ``@socket.io/redis-adapter`` 8
and ``@socket.io/redis-emitter`` 5 on node-redis 4; it has socket.io-client clients of
its own. The plexio side is a real plexio Server on the native listener with
:func:`plexio.server.adapters.redis.create_adapter` and one plexio client. Everything
is checked in both directions. Debian's redis-server is started on a free port.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from tests.helpers.node import NodeProcess, node_server
from tests.helpers.redis import RedisProcess, running_redis, running_redis_cluster
from tests.helpers.waiting import eventually

import plexio
from plexio.client import ClientSocket, ManagerCache
from plexio.emitter import Emitter
from plexio.server.adapters.redis import (
    RedisAdapter,
    ShardedRedisAdapter,
    create_adapter,
    create_sharded_adapter,
)
from plexio.server.adapters.remote import RemoteSocket

pytestmark = [pytest.mark.interop, pytest.mark.redis, pytest.mark.timeout(90)]


def revive(value: Any) -> Any:
    """Undoes the script's ``{"$bin": base64}`` for binary values."""
    if isinstance(value, list):
        return [revive(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"$bin"}:
            return base64.b64decode(value["$bin"])
        return {k: revive(v) for k, v in value.items()}
    return value


def plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$bin": base64.b64encode(value).decode()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


class NodeSide:
    """Drives ``redis_node.js``; every line it prints is kept."""

    def __init__(self, proc: NodeProcess, info: dict[str, Any]) -> None:
        self.proc = proc
        self.uid = info["uid"]
        self.lines: list[dict[str, Any]] = []
        self._refs = itertools.count()
        self._task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            while True:
                self.lines.append(await self.proc.read_json(timeout=None))

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def call(self, cmd: str, timeout: float = 10.0, **fields: Any) -> Any:
        """Runs a command and returns its result."""
        ref = next(self._refs)
        await self.proc.send_json({"cmd": cmd, "ref": ref, **fields})
        await eventually(lambda: self._reply(ref) is not None, timeout=timeout)
        reply = self._reply(ref)
        assert reply is not None
        return reply["result"]

    async def send(self, cmd: str, **fields: Any) -> None:
        await self.proc.send_json({"cmd": cmd, **fields})

    async def until(self, cmd: str, predicate: Any, timeout: float = 5.0, **fields: Any) -> Any:
        """Runs ``cmd`` until ``predicate(result)`` holds (for state only Node knows)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            result = await self.call(cmd, **fields)
            if predicate(result):
                return result
            if loop.time() > end:
                raise AssertionError(f"{cmd} never satisfied the condition: last {result!r}")
            await asyncio.sleep(0.02)

    def _reply(self, ref: int) -> dict[str, Any] | None:
        for line in self.lines:
            if line.get("event") == "reply" and line.get("ref") == ref:
                return line
        return None

    def events(self, event: str, **match: Any) -> list[dict[str, Any]]:
        return [
            line
            for line in self.lines
            if line.get("event") == event and all(line.get(k) == v for k, v in match.items())
        ]

    def received(self, client: str, name: str) -> list[list[Any]]:
        return [revive(line["args"]) for line in self.events("recv", id=client, name=name)]

    async def client(self, name: str) -> str:
        await self.send("client", id=name)
        await eventually(lambda: self.events("client-connect", id=name))
        sid: str = self.events("client-connect", id=name)[0]["sid"]
        return sid


@dataclass
class PySide:
    server: plexio.Server
    socket: ClientSocket
    got: list[tuple[str, list[Any]]] = field(default_factory=list)
    disconnects: list[str] = field(default_factory=list)

    def received(self, name: str) -> list[list[Any]]:
        return [args for event, args in self.got if event == name]

    @property
    def sid(self) -> str:
        assert self.socket.id is not None
        return self.socket.id

    @property
    def adapter(self) -> Any:
        adapter = self.server.sockets.adapter
        assert isinstance(adapter, RedisAdapter | ShardedRedisAdapter)
        return adapter


@dataclass
class Mixed:
    redis: RedisProcess
    node: NodeSide
    py: PySide
    node_sid: str


@contextlib.asynccontextmanager
async def mixed_cluster(
    serve_native: Any, url: str, adapter: Any, node_env: dict[str, str]
) -> AsyncIterator[tuple[NodeSide, PySide, str]]:
    """A plexio server with ``adapter`` and the Node server, each with one client."""
    async with node_server("redis_node.js", env={"REDIS_URL": url, **node_env}) as node:
        server = plexio.Server(adapter=adapter)

        @server.on("connection")
        def connected(socket: plexio.ServerSocket) -> None:
            socket.data["name"] = socket.handshake.auth.get("name")

        server.on("join", lambda socket, room: socket.join(room))
        server.on_server_side_emit("hello", lambda *args: "py-answer")
        running = await serve_native(server)
        socket = await plexio.connect(
            f"http://127.0.0.1:{running.port}",
            auth={"name": "p"},
            force_new=True,
            cache=ManagerCache(),
            transports=("websocket",),
            reconnection=False,
        )
        py = PySide(server, socket)
        socket.on_any(lambda event, *args: py.got.append((event, list(args))))
        socket.on("disconnect", py.disconnects.append)
        socket.on("q", lambda *args: "py")
        side = NodeSide(node.process, node.info)
        try:
            node_sid = await side.client("n")
            yield side, py, node_sid
        finally:
            with contextlib.suppress(Exception):
                await socket.disconnect()
            await server.shutdown()
            await side.close()


@pytest.fixture
async def mixed(serve_native: Any) -> AsyncIterator[Mixed]:
    async with (
        running_redis() as redis_server,
        mixed_cluster(
            serve_native,
            redis_server.url,
            create_adapter(redis_server.url, requests_timeout=3.0),
            {"REQUESTS_TIMEOUT": "3000"},
        ) as (node, py, node_sid),
    ):
        yield Mixed(redis_server, node, py, node_sid)


async def test_broadcasts_and_rooms_in_both_directions(mixed: Mixed) -> None:
    node, py = mixed.node, mixed.py
    assert await node.call("serverCount") == 2
    assert await py.adapter.server_count() == 2
    await node.send("clientEmit", id="n", name="join", args=["node-room"])
    py.socket.emit("join", "py-room")
    await eventually(lambda: "py-room" in py.adapter.rooms)
    await node.until("localRooms", lambda rooms: "node-room" in rooms)
    # plexio -> Node
    py.server.emit("all", 1, b"\x01\x02", {"k": [True, None]})
    py.server.to("node-room").emit("room", "r")
    py.server.except_("node-room").emit("except", "e")
    py.server.local.emit("local")
    await eventually(lambda: py.received("except") and node.received("n", "room"))
    assert node.received("n", "all") == [[1, b"\x01\x02", {"k": [True, None]}]]
    assert node.received("n", "room") == [["r"]]
    assert py.received("room") == []
    assert py.received("except") == [["e"]]
    # Node -> plexio
    await node.call("broadcast", name="from-node", args=[2, plain(b"\xff")])
    await node.call("broadcast", name="to-py-room", rooms=["py-room"], args=["x"])
    await node.call("broadcast", name="not-py-room", **{"except": ["py-room"]})
    await node.call("broadcast", name="node-local", local=True)
    await eventually(lambda: py.received("to-py-room") and node.received("n", "not-py-room"))
    assert py.received("from-node") == [[2, b"\xff"]]
    assert py.received("to-py-room") == [["x"]]
    assert py.received("not-py-room") == []
    assert node.received("n", "to-py-room") == []
    await eventually(lambda: node.received("n", "node-local"))
    # what was local stayed local
    assert py.received("node-local") == []
    assert node.received("n", "local") == []
    assert py.received("local") == [[]]
    assert node.received("n", "except") == []


async def test_broadcast_with_acks_in_both_directions(mixed: Mixed) -> None:
    node, py = mixed.node, mixed.py
    replies = await py.server.timeout(3).emit_with_ack("q", 1)
    assert sorted(replies) == ["node:n", "py"]
    result = await node.call("emitWithAck", name="q", ackTimeout=3000)
    assert "responses" in result, (result, py.got)
    assert sorted(result["responses"]) == ["node:n", "py"]
    await node.send("clientEmit", id="n", name="join", args=["nr"])
    await node.until("localRooms", lambda rooms: "nr" in rooms)
    assert await py.server.to("nr").timeout(3).emit_with_ack("q") == ["node:n"]
    result = await node.call("emitWithAck", name="q", rooms=[py.sid], ackTimeout=3000)
    assert result["responses"] == ["py"]


async def test_fetch_sockets_and_remote_sockets_in_both_directions(mixed: Mixed) -> None:
    node, py = mixed.node, mixed.py
    found = await py.server.fetch_sockets()
    remote = [s for s in found if isinstance(s, RemoteSocket)]
    assert [s.id for s in remote] == [mixed.node_sid]
    (far,) = remote
    assert far.data == {"name": "n"}
    assert far.rooms == {mixed.node_sid}
    assert far.handshake["auth"] == {"name": "n"}
    far.emit("direct", b"\x00")
    await eventually(lambda: node.received("n", "direct") == [[b"\x00"]])
    far.join("joined-by-py")
    await node.until("localRooms", lambda rooms: "joined-by-py" in rooms)
    # Node fetches the plexio socket
    sockets = await node.call("fetchSockets")
    mine = [s for s in sockets if s["id"] == py.sid]
    assert len(sockets) == 2 and len(mine) == 1
    assert mine[0]["local"] is False
    assert mine[0]["data"] == {"name": "p"}
    assert mine[0]["auth"] == {"name": "p"}
    assert mine[0]["rooms"] == [py.sid]
    assert set(mine[0]["handshakeKeys"]) >= {"address", "headers", "issued", "query", "time"}
    await node.call("remote", op="emit", sid=py.sid, name="node-direct", args=["hi"])
    await eventually(lambda: py.received("node-direct") == [["hi"]])
    await node.call("remote", op="join", sid=py.sid, room="joined-by-node")
    await eventually(lambda: "joined-by-node" in py.adapter.rooms)
    await node.call("remote", op="leave", sid=py.sid, room="joined-by-node")
    await eventually(lambda: "joined-by-node" not in py.adapter.rooms)
    assert sorted(await node.call("allRooms")) == sorted([py.sid, mixed.node_sid, "joined-by-py"])
    assert await py.adapter.all_rooms() == {py.sid, mixed.node_sid, "joined-by-py"}
    await node.call("remote", op="disconnect", sid=py.sid)
    await eventually(lambda: py.disconnects == ["io server disconnect"])
    far.disconnect()
    await eventually(lambda: node.events("client-disconnect", id="n"))
    assert node.events("client-disconnect", id="n")[0]["reason"] == "io server disconnect"


async def test_sockets_join_leave_and_disconnect_in_both_directions(mixed: Mixed) -> None:
    node, py = mixed.node, mixed.py
    py.server.sockets_join("all-py")
    await eventually(lambda: "all-py" in py.adapter.rooms)
    await node.until("localRooms", lambda rooms: "all-py" in rooms)
    await node.call("socketsJoin", target="all-node")
    await eventually(lambda: "all-node" in py.adapter.rooms)
    await node.call("socketsLeave", rooms=["all-node"], target="all-py")
    await eventually(lambda: "all-py" not in py.adapter.rooms)
    py.server.sockets_leave("all-node")
    await eventually(lambda: "all-node" not in py.adapter.rooms)
    await node.until("localRooms", lambda rooms: "all-node" not in rooms)
    # disconnect across languages, each side targeting the other's socket only
    py.server.in_(mixed.node_sid).disconnect_sockets()
    await eventually(lambda: node.events("client-disconnect", id="n"))
    assert py.disconnects == []
    await node.call("disconnectSockets", close=True)
    await eventually(lambda: py.disconnects == ["io server disconnect"])


async def test_server_side_emit_with_acks_in_both_directions(mixed: Mixed) -> None:
    node, py = mixed.node, mixed.py
    await py.server.server_side_emit("hello", 1, {"a": "b"})
    await eventually(lambda: node.events("server-side"))
    assert node.events("server-side")[0]["args"] == [1, {"a": "b"}]
    assert await py.server.server_side_emit_with_ack("hello", 2) == ["node-answer"]
    heard: list[Any] = []
    py.server.on_server_side_emit("plain", lambda *args: heard.append(args))
    await node.call("serverSideEmit", name="plain", args=["x", 3])
    await eventually(lambda: heard == [("x", 3)])
    result = await node.call("serverSideEmit", name="hello", args=[4], ack=True)
    assert result == {"responses": ["py-answer"]}


async def test_emitters_reach_the_other_language(mixed: Mixed) -> None:
    node, py = mixed.node, mixed.py
    py.socket.emit("join", "py-room")
    await eventually(lambda: "py-room" in py.adapter.rooms)
    # Node's @socket.io/redis-emitter -> the plexio client (and the Node client)
    await node.call("emitter", op="emit", name="from-node-emitter", args=[1, plain(b"\x07")])
    await node.call("emitter", op="emit", name="node-emitter-room", rooms=["py-room"])
    await node.call("emitter", op="socketsJoin", target="by-node-emitter")
    heard: list[Any] = []
    py.server.on_server_side_emit("tick", lambda *args: heard.append(args))
    await node.call("emitter", op="serverSideEmit", name="tick", args=[5])
    await eventually(lambda: py.received("node-emitter-room") and heard)
    assert py.received("from-node-emitter") == [[1, b"\x07"]]
    assert node.received("n", "node-emitter-room") == []
    assert heard == [(5,)]
    await eventually(lambda: "by-node-emitter" in py.adapter.rooms)
    # plexio's emitter -> the Node client (and the plexio one)
    emitter = Emitter(mixed.redis.url)
    try:
        assert await emitter.emit("from-py-emitter", b"\x08", "s") == 2  # two servers
        await emitter.except_("py-room").emit("py-emitter-except")
        await emitter.to(mixed.node_sid).compress(False).emit("py-emitter-direct", 9)
        await emitter.server_side_emit("hello", "from-emitter")
        await eventually(
            lambda: node.received("n", "py-emitter-direct") and node.events("server-side")
        )
        assert node.received("n", "from-py-emitter") == [[b"\x08", "s"]]
        assert py.received("from-py-emitter") == [[b"\x08", "s"]]
        assert node.received("n", "py-emitter-except") == [[]]
        assert py.received("py-emitter-except") == []
        assert node.events("server-side")[0]["args"] == ["from-emitter"]
        await emitter.in_(mixed.node_sid).sockets_join("by-py-emitter")
        await node.until("localRooms", lambda rooms: "by-py-emitter" in rooms)
        await emitter.of("/").disconnect_sockets()
        await eventually(lambda: py.disconnects and node.events("client-disconnect", id="n"))
    finally:
        await emitter.aclose()


async def test_redis_restart_with_node_in_the_cluster(mixed: Mixed) -> None:
    node, py = mixed.node, mixed.py
    await mixed.redis.kill()
    await eventually(lambda: not py.adapter.link.up)
    py.server.emit("lost", 1)  # counted as lost, not silently "sent"
    await eventually(lambda: py.received("lost"))
    await mixed.redis.start()
    await eventually(lambda: py.adapter.link.up, timeout=10)
    # node-redis reconnects by itself too: wait until both servers subscribe again
    for _ in range(200):
        if await py.adapter.server_count() == 2:
            break
        await asyncio.sleep(0.05)
    assert await py.adapter.server_count() == 2
    py.server.emit("back", 2)
    await eventually(lambda: node.received("n", "back") == [[2]], timeout=10)
    await node.call("broadcast", name="node-back", args=[3])
    await eventually(lambda: py.received("node-back") == [[3]])
    assert node.received("n", "lost") == []
    assert sorted(await py.server.server_side_emit_with_ack("hello")) == ["node-answer"]


@pytest.mark.slow
async def test_sharded_adapters_on_a_three_master_cluster(serve_native: Any) -> None:
    """plexio's and Node's createShardedAdapter (dynamic mode) on one Redis Cluster."""
    async with (
        running_redis_cluster(3) as cluster,
        mixed_cluster(
            serve_native,
            cluster.url,
            create_sharded_adapter(cluster.url, requests_timeout=3.0),
            {"SHARDED": "1"},
        ) as (node, py, node_sid),
    ):
        assert await node.call("serverCount") == 2
        assert await py.adapter.server_count() == 2
        await node.send("clientEmit", id="n", name="join", args=["node-room"])
        py.socket.emit("join", "py-room")
        await eventually(lambda: "py-room" in py.adapter.rooms)
        await node.until("localRooms", lambda rooms: "node-room" in rooms)
        # one-room broadcasts travel on the room's own shard channel, both ways
        await eventually(lambda: "socket.io#/#py-room#" in py.adapter.link.subscribed())
        py.server.to("node-room").emit("room", b"\x01")
        py.server.emit("all", 1)
        await node.call("broadcast", name="to-py-room", rooms=["py-room"], args=[plain(b"\x02")])
        await node.call("broadcast", name="node-all", args=[2])
        await eventually(
            lambda: (
                node.received("n", "all") and py.received("node-all") and py.received("to-py-room")
            )
        )
        assert node.received("n", "room") == [[b"\x01"]]
        assert py.received("to-py-room") == [[b"\x02"]]
        assert py.received("room") == []
        # acks, fetch_sockets, server-side events, room operations, disconnects
        assert sorted(await py.server.timeout(3).emit_with_ack("q")) == ["node:n", "py"]
        result = await node.call("emitWithAck", name="q", ackTimeout=3000)
        assert sorted(result["responses"]) == ["node:n", "py"]
        found = await py.server.fetch_sockets()
        assert {s.id for s in found} == {py.sid, node_sid}
        sockets = await node.call("fetchSockets")
        assert {s["id"] for s in sockets} == {py.sid, node_sid}
        assert [s["data"] for s in sockets if s["id"] == py.sid] == [{"name": "p"}]
        assert await py.server.server_side_emit_with_ack("hello") == ["node-answer"]
        result = await node.call("serverSideEmit", name="hello", args=[1], ack=True)
        assert result == {"responses": ["py-answer"]}
        await node.call("socketsJoin", target="from-node")
        await eventually(lambda: "from-node" in py.adapter.rooms)
        py.server.sockets_join("from-py")
        await node.until("localRooms", lambda rooms: "from-py" in rooms)
        await node.call("disconnectSockets", rooms=[py.sid])
        await eventually(lambda: py.disconnects == ["io server disconnect"])
        py.server.in_(node_sid).disconnect_sockets()
        await eventually(lambda: node.events("client-disconnect", id="n"))
