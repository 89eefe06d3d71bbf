"""plexio.server.server: options, the main-namespace shortcuts, parsers, shutdown."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import msgpack
import pytest

import plexio
from plexio.config import EngineOptions, Limits
from plexio.server.adapters import InMemoryAdapter
from plexio.server.connection import Connection
from plexio.server.socket import ServerSocket
from plexio.socketio.msgpack import MsgPackParser
from tests.helpers.eio import RawEngineIO
from tests.helpers.servers import running_uvicorn
from tests.server.conftest import Serve
from tests.server.raw import assert_clean, eventually, raw_socketio


def test_engine_keyword_options() -> None:
    server = plexio.Server(ping_interval=1.5, ping_timeout=2.5, max_http_buffer_size=1234)
    options = server.engine.options
    assert options.ping_interval == 1.5
    assert options.ping_timeout == 2.5
    assert options.limits.max_http_buffer_size == 1234
    explicit = EngineOptions(limits=Limits(max_http_buffer_size=99))
    assert plexio.Server(engine_options=explicit).engine.options is explicit
    with pytest.raises(TypeError, match="not both"):
        plexio.Server(engine_options=explicit, ping_interval=1)
    with pytest.raises(TypeError):
        plexio.Server(no_such_option=1)


def test_every_engine_option_and_limit_is_a_server_keyword_spelled_once() -> None:
    # One spelling per limit: the JS name in snake_case, the same on Server, on
    # EngineOptions and on Limits (no aliases such as max_payload).
    import dataclasses
    import inspect

    params = inspect.signature(plexio.Server).parameters
    fields = [f.name for f in dataclasses.fields(EngineOptions) if f.name != "limits"]
    limits = [f.name for f in dataclasses.fields(Limits)]
    assert set(fields + limits) <= set(params)
    assert all(params[name].kind is inspect.Parameter.KEYWORD_ONLY for name in fields + limits)
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    with pytest.raises(TypeError):
        plexio.Server(max_payload=10)  # type: ignore[call-arg]
    server = plexio.Server(max_attachments=3, transports=["websocket"], max_int_digits=7)
    assert server.engine.options.limits == Limits(max_attachments=3, max_int_digits=7)
    assert server.engine.options.transports == ("websocket",)


def test_defaults() -> None:
    server = plexio.Server()
    assert isinstance(server.parser, plexio.JsonParser)
    assert server.default_path == "/socket.io/"
    assert server.connect_timeout == 45.0
    assert server.sockets is server.of("/")
    assert set(server.namespaces) == {"/"}
    assert server.new_socket_id() != server.new_socket_id()


async def test_on_connect_attaches_a_connection(serve: Serve) -> None:
    server = plexio.Server()
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        await eventually(lambda: raw.sid in server.engine.sockets)
        state = server.engine.sockets[raw.sid].state
        assert isinstance(state, Connection)
        assert state.engine is server.engine.sockets[raw.sid]
        assert state.sockets == {}
        await raw.connect()
        assert set(state.sockets) == {"/"}


async def test_main_namespace_shortcuts(serve: Serve) -> None:
    server = plexio.Server()
    seen: list[Any] = []

    @server.use
    def mark(socket: ServerSocket) -> None:
        socket.data["marked"] = True

    @server.on("connect")  # alias of "connection"
    def on_connect(socket: ServerSocket) -> None:
        seen.append(socket.data)

    running = await serve(server)
    async with raw_socketio(running.ws_url) as a, raw_socketio(running.ws_url) as b:
        sid_a = await a.connect()
        await b.connect()
        assert seen == [{"marked": True}, {"marked": True}]
        server.emit("all", 1)
        server.send("msg")
        server.to(sid_a).emit("only-a")
        server.in_(sid_a).emit("only-a-again")
        server.except_(sid_a).emit("only-b")
        assert [await a.recv() for _ in range(4)] == [
            '42["all",1]',
            '42["message","msg"]',
            '42["only-a"]',
            '42["only-a-again"]',
        ]
        assert [await b.recv() for _ in range(3)] == [
            '42["all",1]',
            '42["message","msg"]',
            '42["only-b"]',
        ]
        server.sockets_join("everyone")
        assert {s.id for s in await server.to("everyone").fetch_sockets()} == set(
            server.sockets.sockets
        )
        server.sockets_leave("everyone")
        assert "everyone" not in server.sockets.adapter.rooms
        assert await server.server_side_emit("cluster-hello") is None
        assert await server.server_side_emit_with_ack("cluster-hello") == []
        server.disconnect_sockets()
        assert await a.recv() == "41"
        assert await b.recv() == "41"
        await eventually(lambda: not server.sockets.sockets)


async def test_msgpack_parser_over_raw_websocket(serve: Serve) -> None:
    server = plexio.Server(parser=MsgPackParser())
    server.on("echo", lambda socket, *args: args)
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        await raw.send(msgpack.packb({"type": 0, "nsp": "/", "data": {"token": "x"}}))
        reply = msgpack.unpackb(await raw.recv())
        assert reply["type"] == 0 and reply["nsp"] == "/" and set(reply["data"]) == {"sid"}
        sid = reply["data"]["sid"]
        assert server.sockets.sockets[sid].handshake.auth == {"token": "x"}
        event = {"type": 2, "nsp": "/", "data": ["echo", {"b": b"\x00\x01"}, 2], "id": 7}
        await raw.send(msgpack.packb(event))
        assert msgpack.unpackb(await raw.recv()) == {
            "type": 3,
            "nsp": "/",
            "data": [{"b": b"\x00\x01"}, 2],
            "id": 7,
        }
        server.emit("bin", b"\xff")
        assert msgpack.unpackb(await raw.recv()) == {
            "type": 2,
            "nsp": "/",
            "data": ["bin", b"\xff"],
        }
        # garbage closes this session only
        await raw.send(b"\xc1not msgpack")
        await raw.closed()


async def test_custom_path_cors_and_allow_request(serve: Serve) -> None:
    asked: list[str] = []

    def allow(request: Any) -> bool:
        asked.append(request.query.get("who", ""))
        return request.query.get("who") != "mallory"

    server = plexio.Server(path="/rt/", cors_allowed_origins="*", allow_request=allow)
    running = await serve(server)
    async with httpx.AsyncClient(base_url=running.http_url, timeout=5) as http:
        eio = RawEngineIO(http, running.ws_url, "/rt/")
        ok = await eio.handshake(who="alice")
        assert ok.response.headers["access-control-allow-origin"] == "*"
        refused = await eio.request("GET", {"EIO": "4", "transport": "polling", "who": "mallory"})
        assert refused.status_code == 403
        assert (await http.get("/socket.io/?EIO=4&transport=polling")).status_code == 404
    assert asked == ["alice", "mallory"]


async def test_shutdown_closes_every_session(serve: Serve) -> None:
    server = plexio.Server()
    reasons: list[str] = []
    server.on("disconnect", lambda socket, reason: reasons.append(reason))
    server.of("/other").on("disconnect", lambda socket, reason: reasons.append(reason))
    running = await serve(server)
    async with raw_socketio(running.ws_url) as a, raw_socketio(running.ws_url) as b:
        await a.connect()
        await b.connect()
        await b.connect("/other")
        await server.shutdown()
        await a.closed()
        await b.closed()
    assert reasons == ["server shutting down"] * 3
    await eventually(lambda: not server.engine.sockets)
    assert_clean(server)


async def test_max_http_buffer_size_limits_messages(serve: Serve) -> None:
    server = plexio.Server(max_http_buffer_size=1000)
    got: list[int] = []
    server.on("big", lambda socket, data: got.append(len(data)))
    running = await serve(server)
    async with raw_socketio(running.ws_url) as small, raw_socketio(running.ws_url) as big:
        await small.connect()
        await big.connect()
        await small.send('42["big","' + "x" * 500 + '"]')
        await big.send('42["big","' + "x" * 5000 + '"]')
        await big.closed()
        await eventually(lambda: got == [500])
        await asyncio.sleep(0.05)
        assert got == [500]
        await small.send('42["big","ok"]')
        await eventually(lambda: got == [500, 2])


async def test_lifespan_shutdown_closes_the_adapters() -> None:
    closed: list[str] = []

    def adapter(nsp: Any) -> InMemoryAdapter:
        made = InMemoryAdapter(nsp)
        close = made.close

        async def tracked_close() -> None:
            closed.append(nsp.name)
            await close()

        made.close = tracked_close  # type: ignore[method-assign]
        return made

    server = plexio.Server(adapter=adapter)
    server.of("/extra")
    async with running_uvicorn(plexio.ASGIApp(server), lifespan="on") as running:
        async with raw_socketio(running.ws_url) as raw:
            await raw.connect()
            await raw.connect("/extra")
        assert closed == []
    assert sorted(closed) == ["/", "/extra"]
    assert_clean(server)


async def test_serves_under_hypercorn_too(serve_hypercorn: Any) -> None:
    server = plexio.Server()
    server.on("echo", lambda socket, *args: args)
    server.on("kick", lambda socket: socket.disconnect(close=True))
    running = await serve_hypercorn(plexio.ASGIApp(server))
    async with raw_socketio(running.ws_url) as raw:
        await raw.connect()
        await raw.send('421["echo",1,"x"]')
        assert await raw.recv() == '431[1,"x"]'
        await raw.send('42["kick"]')
        assert await raw.closed() == ["41"]
    await eventually(lambda: not server.engine.sockets)
    assert_clean(server)


async def test_shutdown_lets_handlers_in_flight_answer_then_closes(serve: Serve) -> None:
    server = plexio.Server(shutdown_timeout=5.0)
    release = asyncio.Event()

    @server.on("slow")
    async def slow(socket: ServerSocket, n: int) -> int:
        await release.wait()
        return n * 10

    running = await serve(server)
    async with raw_socketio(running.ws_url) as client:
        await client.connect()
        await client.send('421["slow",4]')
        await eventually(lambda: any(len(c.tasks) for c in _connections(server)))
        stopping = asyncio.create_task(server.shutdown())
        await asyncio.sleep(0.1)
        assert not stopping.done()  # waiting for the handler
        async with httpx.AsyncClient(base_url=running.http_url) as http:
            refused = await http.get("/socket.io/?EIO=4&transport=polling")
        assert refused.status_code == 503
        assert refused.json() == {"code": 4, "message": "Server shutting down"}
        release.set()
        await asyncio.wait_for(stopping, 5)
        frames = await client.closed()
        assert frames[0] == "431[40]"  # the ack, before the close


async def test_shutdown_cancels_handlers_still_running_at_its_deadline(serve: Serve) -> None:
    server = plexio.Server()
    cancelled = asyncio.Event()

    @server.on("stuck")
    async def stuck(socket: ServerSocket) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    running = await serve(server)
    async with raw_socketio(running.ws_url) as client:
        await client.connect()
        await client.send('42["stuck"]')
        await eventually(lambda: any(len(c.tasks) for c in _connections(server)))
        await asyncio.wait_for(server.shutdown(timeout=0.2), 5)
        await client.closed()
    await asyncio.wait_for(cancelled.wait(), 5)


def _connections(server: plexio.Server) -> list[Connection]:
    return [s.state for s in server.engine.sockets.values() if isinstance(s.state, Connection)]


async def test_an_idle_connection_holds_little() -> None:
    """What an idle Socket.IO connection (one namespace) keeps in plexio's own objects:
    no loop timer of its own (one heap of deadlines), no empty set or list it may never
    use (pending CONNECTs, handler tasks, catch-all listeners, packet middleware)."""
    import tracemalloc

    from plexio.transports.base import HttpRequest
    from tests.helpers.sinks import RecordingSink

    server = plexio.Server()
    request = HttpRequest("GET", "/socket.io/", {"EIO": "4", "transport": "websocket"}, {})
    held = []

    async def connect() -> None:
        sink = RecordingSink()
        socket = await server.engine.open_websocket(request, sink)
        socket.ws_received(sink, ["40"])
        held.append((socket, sink))

    await connect()  # warm-up
    await asyncio.sleep(0)
    count = 200
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for _ in range(count):
            await connect()
        await asyncio.sleep(0)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    assert len(server.sockets.sockets) == count + 1
    # everything the server allocated (asyncio's timer handles too), not the test's own
    mine = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, __file__)]
    grown = sum(
        s.size_diff
        for s in after.filter_traces(mine).compare_to(before.filter_traces(mine), "filename")
    )
    # 4.3 KB with a TimerHandle per session and empty sets; 3.9 KB with one heap of
    # deadlines; 3.7 KB without a list per socket for catch-alls and middleware
    assert grown / count < 3800, f"{grown / count:.0f} bytes per idle connection"
    for socket, _ in held:
        socket.close()
