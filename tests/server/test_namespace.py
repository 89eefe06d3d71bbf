"""plexio.server.namespace: static, regex and callable namespaces, connection middleware."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

import pytest

import plexio
from plexio import ConnectRefusedError
from plexio.server.socket import ServerSocket
from tests.server.conftest import Serve
from tests.server.raw import assert_clean, eventually, raw_socketio


async def test_static_namespaces_and_names(serve: Serve) -> None:
    server = plexio.Server()
    chat = server.of("chat")  # the leading slash is optional
    assert chat is server.of("/chat")
    assert chat.name == "/chat"
    assert repr(chat) == "<Namespace /chat>"
    assert set(server.namespaces) == {"/", "/chat"}
    chat.on("hi", lambda socket: socket.nsp.name)
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        await raw.connect("/chat")
        await raw.send('42/chat,5["hi"]')
        assert await raw.recv() == '43/chat,5["/chat"]'


@pytest.mark.parametrize("kind", ["regex", "sync callable", "async callable"])
async def test_dynamic_namespaces(serve: Serve, kind: str) -> None:
    server = plexio.Server()
    asked: list[tuple[str, dict[str, Any]]] = []

    def allow(name: str, auth: dict[str, Any]) -> bool:
        asked.append((name, auth))
        return re.fullmatch(r"/socket/commu-\d+", name) is not None and auth.get("token") == "t"

    async def allow_async(name: str, auth: dict[str, Any]) -> bool:
        await asyncio.sleep(0)
        return allow(name, auth)

    matcher: Any = {
        "regex": re.compile(r"/socket/commu-\d+"),
        "sync callable": allow,
        "async callable": allow_async,
    }[kind]
    parent = server.of(matcher)
    joined: list[str] = []

    @parent.on("connection")
    def on_connection(socket: ServerSocket) -> None:
        joined.append(socket.nsp.name)

    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        sid = await raw.connect("/socket/commu-42", {"token": "t"})
        child = server.namespaces["/socket/commu-42"]
        assert child.parent is parent
        assert parent.children == {"/socket/commu-42": child}
        assert child.sockets[sid].handshake.auth == {"token": "t"}
        # handlers added to the parent later reach existing children too
        parent.on("where", lambda socket: socket.nsp.name)
        await raw.send('42/socket/commu-42,1["where"]')
        assert await raw.recv() == '43/socket/commu-42,1["/socket/commu-42"]'
        await raw.send("40/socket/commu-x,")
        assert await raw.recv() == '44/socket/commu-x,{"message":"Invalid namespace"}'
        if kind != "regex":
            await raw.send('40/socket/commu-7,{"token":"bad"}')
            assert await raw.recv() == '44/socket/commu-7,{"message":"Invalid namespace"}'
            assert ("/socket/commu-7", {"token": "bad"}) in asked
        await raw.connect("/socket/commu-7", {"token": "t"})
        assert joined == ["/socket/commu-42", "/socket/commu-7"]
        assert set(parent.children) == {"/socket/commu-42", "/socket/commu-7"}
        assert len(await parent.fetch_sockets()) == 2
        parent.emit("to-all-children", 1)
        got = sorted([str(await raw.recv()), str(await raw.recv())])
        assert got == [
            '42/socket/commu-42,["to-all-children",1]',
            '42/socket/commu-7,["to-all-children",1]',
        ]
        parent.disconnect_sockets()
        got = sorted([str(await raw.recv()), str(await raw.recv())])
        assert got == ["41/socket/commu-42,", "41/socket/commu-7,"]
        # without cleanup_empty_child_namespaces the children stay
        assert set(parent.children) == {"/socket/commu-42", "/socket/commu-7"}


async def test_cleanup_empty_child_namespaces(serve: Serve) -> None:
    server = plexio.Server(cleanup_empty_child_namespaces=True)
    parent = server.of(re.compile(r"/room-\d+"))
    closed: list[str] = []
    original = server.adapter_factory

    def adapter(nsp: Any) -> Any:
        made = original(nsp)
        close = made.close

        async def tracked_close() -> None:
            closed.append(nsp.name)
            await close()

        made.close = tracked_close  # type: ignore[method-assign]
        return made

    server.adapter_factory = adapter
    running = await serve(server)
    async with raw_socketio(running.ws_url) as a, raw_socketio(running.ws_url) as b:
        await a.connect("/room-1")
        await b.connect("/room-1")
        first = server.namespaces["/room-1"]
        await a.send("41/room-1,")
        await eventually(lambda: len(first.sockets) == 1)
        assert "/room-1" in server.namespaces  # one socket left
        await b.send("41/room-1,")
        await eventually(lambda: "/room-1" not in server.namespaces)
        assert parent.children == {}
        await eventually(lambda: closed == ["/room-1"])
        # a new client gets a fresh child namespace
        await a.connect("/room-1")
        assert server.namespaces["/room-1"] is not first
    # static namespaces are never dropped
    assert "/" in server.namespaces


async def test_middleware_refusal(serve: Serve) -> None:
    server = plexio.Server()
    private = server.of("/private")
    order: list[str] = []

    @private.use
    def first(socket: ServerSocket) -> None:
        order.append("first")
        socket.data["seen"] = True
        socket.join("joined-in-middleware")

    @private.use
    async def check(socket: ServerSocket) -> None:
        order.append("check")
        await asyncio.sleep(0)
        if socket.handshake.auth.get("token") != "good":
            raise ConnectRefusedError("unauthorized", {"why": "bad token", "code": 4})

    @private.on("connection")
    def on_connection(socket: ServerSocket) -> None:
        order.append("connection")
        assert socket.data == {"seen": True}

    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        await raw.send('40/private,{"token":"bad"}')
        frame = await raw.recv()
        assert isinstance(frame, str) and frame.startswith("44/private,")
        assert json.loads(frame[len("44/private,") :]) == {
            "message": "unauthorized",
            "data": {"why": "bad token", "code": 4},
        }
        assert order == ["first", "check"]
        # a refused socket leaves nothing in the room index
        assert private.sockets == {}
        assert private.adapter.rooms == {}
        assert private.adapter.sids == {}
        # the connection stays usable: try again with the right token
        await raw.connect("/private", {"token": "good"})
        assert order == ["first", "check", "first", "check", "connection"]
        (socket,) = private.sockets.values()
        assert "joined-in-middleware" in socket.rooms


async def test_middleware_without_data_and_failing_middleware(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    server = plexio.Server()

    @server.of("/plain").use
    def refuse(socket: ServerSocket) -> None:
        raise ConnectRefusedError("go away")

    @server.of("/buggy").use
    def buggy(socket: ServerSocket) -> None:
        raise KeyError("middleware bug")

    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        await raw.send("40/plain,")
        assert await raw.recv() == '44/plain,{"message":"go away"}'
        await raw.send("40/buggy,")
        assert await raw.recv() == '44/buggy,{"message":"Server error"}'
        assert any(
            r.levelno == logging.ERROR and "middleware of /buggy failed" in r.getMessage()
            for r in caplog.records
        )
        assert "middleware bug" not in "".join(map(str, raw.frames))
        await raw.connect()


async def test_connect_reply_precedes_events_from_connection_handlers(serve: Serve) -> None:
    """PROTOCOL.md item 58, for sync, async and suspending handlers and middleware."""
    server = plexio.Server()
    for name in ("/sync", "/async", "/slow"):
        nsp = server.of(name)

        @nsp.use
        async def slow_middleware(socket: ServerSocket) -> None:
            await asyncio.sleep(0.01)

    server.of("/sync").on("connection", lambda socket: socket.emit("welcome", 1))

    async def welcome_async(socket: ServerSocket) -> None:
        socket.emit("welcome", 2)

    async def welcome_slow(socket: ServerSocket) -> None:
        await asyncio.sleep(0.01)
        socket.emit("welcome", 3)

    server.of("/async").on("connection", welcome_async)
    server.of("/slow").on("connection", welcome_slow)
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        for n, name in enumerate(("/sync", "/async", "/slow"), start=1):
            await raw.send(f"40{name},")
            reply = await raw.recv()
            assert isinstance(reply, str) and reply.startswith(f'40{name},{{"sid":"'), reply
            assert await raw.recv() == f'42{name},["welcome",{n}]'


async def test_broadcast_during_middleware_does_not_reach_the_newcomer(serve: Serve) -> None:
    server = plexio.Server()
    gate = asyncio.Event()
    entered = asyncio.Event()

    @server.use
    async def wait(socket: ServerSocket) -> None:
        if socket.handshake.auth.get("wait"):
            entered.set()
            await gate.wait()

    running = await serve(server)
    async with raw_socketio(running.ws_url) as early, raw_socketio(running.ws_url) as late:
        await early.connect()
        await late.send('40{"wait":true}')
        async with asyncio.timeout(5):
            await entered.wait()
        server.emit("news", "before")
        assert await early.recv() == '42["news","before"]'
        gate.set()
        assert str(await late.recv()).startswith('40{"sid":')
        server.emit("news", "after")
        assert await late.recv() == '42["news","after"]'
        assert late.frames[0].startswith("40")  # type: ignore[union-attr]


async def test_connection_closed_during_middleware(serve: Serve) -> None:
    server = plexio.Server()
    gate = asyncio.Event()
    entered = asyncio.Event()
    connected: list[str] = []

    @server.use
    async def wait(socket: ServerSocket) -> None:
        socket.join("pending-room")
        entered.set()
        await gate.wait()

    server.on("connection", lambda socket: connected.append(socket.id))
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        await raw.send("40")
        async with asyncio.timeout(5):
            await entered.wait()
    await eventually(lambda: not server.engine.sockets)
    gate.set()
    await asyncio.sleep(0.05)
    assert connected == []
    assert_clean(server)


async def test_parent_namespace_repr_and_matching() -> None:
    server = plexio.Server()
    parent = server.of(re.compile(r"/x-\d+"))
    assert "ParentNamespace" in repr(parent)
    assert await parent.matches("/x-1", {})
    assert not await parent.matches("/x-1/extra", {})  # the whole name must match
    called = server.of(lambda name, auth: name == "/yes")
    assert await called.matches("/yes", {})
    assert not await called.matches("/no", {})


async def test_connection_handler_that_raises_is_contained(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    server = plexio.Server()

    @server.on("connection")
    def broken(socket: ServerSocket) -> None:
        raise RuntimeError("connection handler bug")

    server.on("echo", lambda socket, x: x)
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        await raw.connect()
        await raw.send('421["echo","still connected"]')
        assert await raw.recv() == '431["still connected"]'
    assert any(
        r.levelno == logging.ERROR and r.exc_info and "connection handler bug" in str(r.exc_info[1])
        for r in caplog.records
    )


async def test_failing_namespace_matcher_refuses_with_server_error(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    server = plexio.Server()

    async def matcher(name: str, auth: dict[str, Any]) -> bool:
        await asyncio.sleep(0)
        raise LookupError("matcher bug")

    server.of(matcher)
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        await raw.send("40/dyn,")
        assert await raw.recv() == '44/dyn,{"message":"Server error"}'
        await raw.connect()  # the connection is still usable
        await raw.send("40/dyn,")  # and may try again: a new answer, not a violation
        assert await raw.recv() == '44/dyn,{"message":"Server error"}'
    assert any("namespace matcher failed for /dyn" in r.getMessage() for r in caplog.records)


async def test_server_side_event_runs_handlers_and_the_first_one_answers() -> None:
    server = plexio.Server()
    seen: list[tuple[Any, ...]] = []

    @server.on_server_side_emit("hello")
    def first(*args: Any) -> str:
        seen.append(("first", *args))
        return "from-first"

    @server.of("/").on_server_side_emit("hello")
    async def second(*args: Any) -> str:
        await asyncio.sleep(0)
        seen.append(("second", *args))
        return "from-second"

    replies: list[Any] = []
    server.sockets.server_side_event(["hello", 1, "two"], replies.append)
    server.sockets.server_side_event(["unknown", 1], replies.append)  # no handler: no reply
    server.sockets.server_side_event([], replies.append)  # no event name: ignored
    await eventually(lambda: len(seen) == 2)
    assert seen == [("first", 1, "two"), ("second", 1, "two")]
    assert replies == ["from-first"]
    await server.shutdown()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), {"message": "Connection rejected by server"}),
        (("auth failed",), {"message": "auth failed"}),
        (("auth failed", {"code": 4}), {"message": "auth failed", "data": {"code": 4}}),
        (("auth failed", 1, "two"), {"message": "auth failed", "data": [1, "two"]}),
    ],
    ids=["no-args", "message", "message-data", "message-many"],
)
async def test_python_socketio_connection_refused_error_in_middleware(
    serve: Serve, args: tuple[Any, ...], expected: dict[str, Any]
) -> None:
    """``plexio.ConnectionRefusedError`` takes python-socketio's arguments."""
    server = plexio.Server()

    @server.of("/sync").use
    def refuse(socket: ServerSocket) -> None:
        raise plexio.ConnectionRefusedError(*args)

    @server.of("/async").use
    async def refuse_later(socket: ServerSocket) -> None:
        await asyncio.sleep(0)
        raise plexio.ConnectionRefusedError(*args)

    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        for nsp in ("/sync", "/async"):
            await raw.send(f"40{nsp},")
            frame = await raw.recv()
            assert isinstance(frame, str) and frame.startswith(f"44{nsp},")
            assert json.loads(frame[len(f"44{nsp},") :]) == expected
        await raw.connect()  # the connection stays usable
    assert plexio.ConnectionRefusedError(*args).error_args == expected


async def test_builtin_connection_refused_error_is_a_server_error(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    """Python's own ConnectionRefusedError (an OSError a failing network call raises)
    is an internal error like any other: generic message, traceback logged."""
    server = plexio.Server()

    @server.use
    def database_down(socket: ServerSocket) -> None:
        raise ConnectionRefusedError(111, "db at 10.0.0.7:5432 refused")

    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        await raw.send("40")
        assert await raw.recv() == '44{"message":"Server error"}'
    assert any(
        r.levelno == logging.ERROR and r.exc_info and "10.0.0.7" in str(r.exc_info[1])
        for r in caplog.records
    )


async def test_connection_refused_in_a_connection_handler_disconnects(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    """After the CONNECT reply (as in Node) a refusal can only disconnect the socket."""
    caplog.set_level(logging.INFO, "plexio.server.namespace")
    server = plexio.Server()
    after: list[str] = []

    @server.of("/room").on("connection")
    async def check(socket: ServerSocket) -> None:
        await asyncio.sleep(0)
        raise plexio.ConnectionRefusedError("not today", {"retry": False})

    @server.of("/room").on("connection")
    def later(socket: ServerSocket) -> None:
        after.append(socket.id)

    server.on("echo", lambda socket, x: x)
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        await raw.connect()
        await raw.connect("/room")
        assert await raw.recv() == "41/room,"
        await raw.send('421["echo","main still works"]')
        assert await raw.recv() == '431["main still works"]'
    assert after == [] and server.of("/room").sockets == {}
    assert any(
        "refused socket" in r.getMessage() and "not today" in r.getMessage() for r in caplog.records
    )
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)


async def test_a_namespace_matcher_may_refuse_with_a_reason(serve: Serve) -> None:
    server = plexio.Server()

    def matcher(name: str, auth: dict[str, Any]) -> bool:
        if auth.get("token") != "ok":
            raise plexio.ConnectionRefusedError("token needed", {"name": name})
        return True

    server.of(matcher)
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        await raw.send("40/dyn,")
        assert await raw.recv() == '44/dyn,{"message":"token needed","data":{"name":"/dyn"}}'
        await raw.connect("/dyn", {"token": "ok"})


async def test_of_cannot_bypass_a_callable_parents_middleware(serve: Serve) -> None:
    """Security: a name a callable parent may claim never becomes a plain namespace
    that clients could join without the parent's authentication."""
    server = plexio.Server()
    server.of("/static-first")  # created before the parent: served as it is

    def matcher(name: str, auth: dict[str, Any]) -> bool:
        return name.startswith("/team-")

    teams = server.of(matcher)

    @teams.use
    def authenticate(socket: ServerSocket) -> None:
        if socket.handshake.auth.get("token") != "secret":
            raise ConnectRefusedError("unauthorized")

    with pytest.raises(plexio.NamespaceError, match=r"parent\.of\('/team-1'\)"):
        server.of("/team-1")
    with pytest.raises(plexio.NamespaceError):
        server.of("/anything-else")  # only a client's auth could tell
    assert "/team-1" not in server.namespaces
    assert server.of("/static-first") is server.namespaces["/static-first"]

    child = teams.of("/team-1")  # the parent's child, with its middleware
    assert child.parent is teams and teams.of("team-1") is child
    assert server.of("/team-1") is child
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        await raw.send("40/team-1,")
        assert await raw.recv() == '44/team-1,{"message":"unauthorized"}'
        await raw.connect("/team-1", {"token": "secret"})
        assert len(child.sockets) == 1


async def test_parent_of_refuses_names_it_cannot_own() -> None:
    server = plexio.Server()
    regex = server.of(re.compile(r"/r-\d+"))
    called = server.of(lambda name, auth: True)
    with pytest.raises(plexio.NamespaceError, match="does not match"):
        regex.of("/other")
    assert regex.of("/r-1") is server.of("/r-1")
    with pytest.raises(plexio.NamespaceError, match="already served"):
        called.of("/r-1")
    with pytest.raises(plexio.NamespaceError, match="already served"):
        called.of("/")


@pytest.mark.parametrize("middleware", [False, True])
async def test_a_socket_is_in_its_own_room_with_or_without_middleware(
    serve: Serve, middleware: bool
) -> None:
    # with no middleware the CONNECT is accepted at once (admit_now), else through admit
    server = plexio.Server()
    rooms: list[set[str]] = []
    if middleware:
        server.use(lambda socket: None)

    @server.on("connection")
    def connected(socket: ServerSocket) -> None:
        rooms.append(set(socket.rooms))
        socket.join("all")
        socket.to("all").emit("others")  # not to itself
        server.to(socket.id).emit("own")

    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        sid = await raw.connect()
        assert await raw.recv() == '42["own"]'
    assert rooms == [{sid}]
