"""plexio.server.socket: one client in one namespace, seen from a raw client.

Every test runs a real :class:`plexio.Server` under uvicorn and talks to it with the
hand-written client of ``tests/server/raw.py``, so the frames the server writes are
asserted exactly.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import json
import logging
import time
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

import plexio
import socketio
from plexio import AckTimeoutError, DisconnectedError
from plexio.enums import DisconnectReason
from plexio.exceptions import LocalProtocolError
from plexio.server.socket import ServerSocket
from tests.helpers.eio import RawEngineIO
from tests.server.conftest import Serve
from tests.server.raw import assert_clean, eventually, raw_socketio


def socket_of(server: plexio.Server, sid: str, nsp: str = "/") -> ServerSocket:
    return server.of(nsp).sockets[sid]


async def test_handshake_fields(serve: Serve) -> None:
    server = plexio.Server()
    running = await serve(server)
    url = f"{running.ws_url}/socket.io/?EIO=4&transport=websocket&room=lobby&x=1"
    async with connect(url, additional_headers={"X-Token": "t0k"}) as ws:
        assert str(await ws.recv()).startswith("0{")
        await ws.send('40{"token":"abc","n":[1]}')
        reply = json.loads(str(await ws.recv())[2:])
        socket = socket_of(server, reply["sid"])
        hs = socket.handshake
        assert hs.auth == {"token": "abc", "n": [1]}
        assert hs.query == {"EIO": "4", "transport": "websocket", "room": "lobby", "x": "1"}
        assert hs.headers["x-token"] == "t0k"
        assert hs.address == "127.0.0.1"
        assert hs.secure is False
        assert hs.xdomain is False
        assert hs.url == "/socket.io/?EIO=4&transport=websocket&room=lobby&x=1"
        assert isinstance(hs.issued, int) and hs.issued > 1_600_000_000_000
        assert hs.time == time.strftime(
            "%a %b %d %Y %H:%M:%S GMT%z", time.localtime(hs.issued // 1000)
        )
        assert socket.handshake is hs  # made when first read, then kept
        socket.handshake = replaced = dataclasses.replace(hs, auth={})
        assert socket.handshake is replaced
        assert socket.sid == socket.id == reply["sid"]
        assert socket.transport == "websocket"
        assert socket.nsp is server.sockets
        assert socket.connected
        assert socket.data == {}
        assert repr(socket) == f"<ServerSocket {socket.id} />"


async def test_auth_that_is_not_an_object_becomes_empty(serve: Serve) -> None:
    server = plexio.Server()
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        sid = await raw.connect()
        assert socket_of(server, sid).handshake.auth == {}


async def test_rooms_join_leave(serve: Serve) -> None:
    server = plexio.Server()
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        sid = await raw.connect()
        socket = socket_of(server, sid)
        assert socket.rooms == {sid}
        socket.join("a")
        socket.join(["b", "c"], "d")
        assert socket.rooms == {sid, "a", "b", "c", "d"}
        socket.leave("a")
        socket.leave("never-joined")
        assert socket.rooms == {sid, "b", "c", "d"}
        adapter = server.sockets.adapter
        assert adapter.rooms["b"] == {sid}
        assert "a" not in adapter.rooms
        rooms = socket.rooms
        rooms.add("mutating the copy")
        assert "mutating the copy" not in socket.rooms


async def test_data_is_kept_and_seen_by_fetch_sockets(serve: Serve) -> None:
    server = plexio.Server()

    @server.on("connection")
    def on_connection(socket: ServerSocket) -> None:
        socket.data["user"] = socket.handshake.auth.get("user")

    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        await raw.connect(auth={"user": "ana"})
        (found,) = await server.fetch_sockets()
        assert found.data == {"user": "ana"}


async def test_acks_from_sync_eager_and_suspending_handlers(serve: Serve) -> None:
    """Each kind of handler acknowledges its own event; handlers start in arrival order."""
    server = plexio.Server()
    started: list[str] = []

    @server.on("sync")
    def sync(socket: ServerSocket, x: int) -> int:
        started.append("sync")
        return x + 1

    @server.on("eager")
    async def eager(socket: ServerSocket, x: int) -> tuple[int, str]:
        started.append("eager")
        return x + 2, "two"

    @server.on("sleepy")
    async def sleepy(socket: ServerSocket, x: int) -> dict[str, int]:
        started.append("sleepy")
        await asyncio.sleep(0.05)
        return {"x": x + 3}

    @server.on("nothing")
    def nothing(socket: ServerSocket) -> None:
        started.append("nothing")

    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        sid = await raw.connect()
        await raw.send('421["sleepy",10]', '422["sync",10]', '423["eager",10]', '424["nothing"]')
        got = [await raw.recv() for _ in range(4)]
        # the suspended handler answers last; the others in arrival order
        assert got == ["432[11]", '433[12,"two"]', "434[]", '431[{"x":13}]']
        assert started == ["sleepy", "sync", "eager", "nothing"]
        assert len(socket_of(server, sid).conn.tasks) == 0


async def test_handler_that_raises_is_contained(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    server = plexio.Server()

    @server.on("boom")
    def boom(socket: ServerSocket) -> None:
        raise RuntimeError("handler bug")

    @server.on("aboom")
    async def aboom(socket: ServerSocket) -> None:
        await asyncio.sleep(0)
        raise RuntimeError("async handler bug")

    @server.on("echo")
    def echo(socket: ServerSocket, value: Any) -> Any:
        return value

    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        await raw.connect()
        await raw.send('421["boom"]', '422["aboom"]', '423["echo","fine"]')
        assert await raw.recv() == '433["fine"]'
        assert await raw.silent(0.1) == []  # the failed events are not acknowledged
        failures = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert sorted(r.getMessage() for r in failures) == [
            "handler for aboom failed",
            "handler for boom failed",
        ]
        assert len(server.engine.sockets) == 1


async def test_binary_both_ways(serve: Serve) -> None:
    server = plexio.Server()
    got: list[Any] = []

    @server.on("upload")
    def upload(socket: ServerSocket, meta: Any, blob: bytes) -> tuple[Any, ...]:
        got.append((meta, blob))
        return {"echo": [blob, {"deep": meta["inner"]}]}, "ok"

    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        sid = await raw.connect()
        await raw.send(
            '452-1["upload",{"inner":{"_placeholder":true,"num":1}},{"_placeholder":true,"num":0}]',
            b"\x00\x01",
            b"\xff",
        )
        header = await raw.recv()
        assert header == (
            '462-1[{"echo":[{"_placeholder":true,"num":0},'
            '{"deep":{"_placeholder":true,"num":1}}]},"ok"]'
        )
        assert await raw.recv() == b"\x00\x01"
        assert await raw.recv() == b"\xff"
        assert got == [({"inner": b"\xff"}, b"\x00\x01")]
        socket_of(server, sid).emit("blob", [b"a", {"b": bytearray(b"b")}])
        assert await raw.recv() == (
            '452-["blob",[{"_placeholder":true,"num":0},{"b":{"_placeholder":true,"num":1}}]]'
        )
        assert await raw.recv() == b"a"
        assert await raw.recv() == b"b"


async def test_server_to_client_acks(serve: Serve) -> None:
    server = plexio.Server()
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        socket = socket_of(server, await raw.connect())
        replies: list[tuple[Any, ...]] = []
        socket.emit("q", 1, callback=lambda *args: replies.append(args))
        assert await raw.recv() == '420["q",1]'
        await raw.send('430["a",2]')
        await eventually(lambda: replies == [("a", 2)])

        waiting = asyncio.ensure_future(socket.emit_with_ack("q2"))
        assert await raw.recv() == '421["q2"]'
        await raw.send('431["first","second"]')
        assert await waiting == "first"

        # ack with no arguments
        waiting = asyncio.ensure_future(socket.emit_with_ack("q3"))
        assert await raw.recv() == '422["q3"]'
        await raw.send("432[]")
        assert await waiting is None

        # a second ack for the same id is ignored
        await raw.send('430["again"]')
        await raw.send('43999["never asked"]')
        assert await raw.silent(0.05) == []
        assert replies == [("a", 2)]
        assert socket.pending_acks == 0


async def test_timeout_emit_with_ack(serve: Serve) -> None:
    server = plexio.Server()
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        socket = socket_of(server, await raw.connect())
        with pytest.raises(AckTimeoutError):
            await socket.timeout(0.05).emit_with_ack("slow")
        assert await raw.recv() == '420["slow"]'
        assert socket.pending_acks == 0
        await raw.send('430["too late"]')  # ignored

        # in time
        waiting = asyncio.ensure_future(socket.timeout(5).emit_with_ack("fast"))
        assert await raw.recv() == '421["fast"]'
        await raw.send('431["yes"]')
        assert await waiting == "yes"
        assert socket.pending_acks == 0

        # callback form: (err, *args)
        results: list[tuple[Any, ...]] = []
        socket.timeout(0.05).emit("cb-slow", callback=lambda *a: results.append(a))
        socket.timeout(5).emit("cb-fast", callback=lambda *a: results.append(a))
        assert await raw.recv() == '422["cb-slow"]'
        assert await raw.recv() == '423["cb-fast"]'
        await raw.send('433["ok",1]')
        await eventually(lambda: len(results) == 2)
        assert results[0] == (None, "ok", 1)
        (err,) = results[1]
        assert isinstance(err, AckTimeoutError)
        assert socket.pending_acks == 0


async def test_emit_with_ack_fails_when_the_socket_goes_away(serve: Serve) -> None:
    server = plexio.Server()
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        socket = socket_of(server, await raw.connect())
        waiting = asyncio.ensure_future(socket.emit_with_ack("never answered"))
        timed = asyncio.ensure_future(socket.timeout(30).emit_with_ack("never either"))
        heard: list[tuple[Any, ...]] = []
        socket.timeout(30).emit("callback form", callback=lambda *a: heard.append(a))
        sent = {await raw.recv() for _ in range(3)}  # the sync emit leaves first
        assert {f[3:] for f in sent} == {
            '["never answered"]',
            '["never either"]',
            '["callback form"]',
        }
        await raw.send("41")
        async with asyncio.timeout(5):
            with pytest.raises(DisconnectedError):
                await waiting
            with pytest.raises(DisconnectedError):
                await timed
        await eventually(lambda: len(heard) == 1)
        (err,) = heard[0]
        assert isinstance(err, DisconnectedError)
        assert socket.pending_acks == 0
        with pytest.raises(DisconnectedError):
            await socket.emit_with_ack("after")
        socket.emit("after")  # a plain emit on a gone socket is dropped quietly


async def test_reserved_event_names_are_refused(serve: Serve) -> None:
    server = plexio.Server()
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        socket = socket_of(server, await raw.connect())
        for name in ("connect", "connect_error", "disconnect", "disconnecting", "newListener"):
            with pytest.raises(ValueError, match="reserved"):
                socket.emit(name)
            with pytest.raises(ValueError, match="reserved"):
                server.emit(name)
            with pytest.raises(ValueError, match="reserved"):
                socket.to("room").emit(name)
            with pytest.raises(ValueError, match="reserved"):
                await socket.emit_with_ack(name)
        assert await raw.silent(0.05) == []
        assert socket.pending_acks == 0


async def test_catch_all_listeners(serve: Serve) -> None:
    server = plexio.Server()
    log: list[Any] = []

    @server.on("connection")
    def on_connection(socket: ServerSocket) -> None:
        first = socket.on_any(lambda event, *args: log.append(("any", event, args)))
        socket.prepend_any(lambda event, *args: log.append(("prepended", event)))
        socket.on_any_outgoing(lambda event, *args: log.append(("out", event, args)))
        socket.on("ping-me", lambda *args: log.append(("handler", args)))
        socket.data["first"] = first

    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        socket = socket_of(server, await raw.connect())
        await raw.send('42["ping-me",1,2]')
        await eventually(lambda: len(log) == 3)
        assert log == [
            ("prepended", "ping-me"),
            ("any", "ping-me", (1, 2)),
            ("handler", (1, 2)),
        ]
        log.clear()
        socket.emit("pong", "x")
        assert log == [("out", "pong", ("x",))]
        assert await raw.recv() == '42["pong","x"]'
        log.clear()
        socket.off_any(socket.data["first"])
        socket.off_any_outgoing()
        await raw.send('42["unhandled"]')
        await eventually(lambda: len(log) == 1)
        assert log == [("prepended", "unhandled")]
        socket.off_any()
        socket.emit("quiet")
        await raw.send('42["ping-me"]')
        await eventually(lambda: len(log) == 2)
        assert log[1] == ("handler", ())


async def test_once_and_off(serve: Serve) -> None:
    server = plexio.Server()
    calls: list[str] = []
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        socket = socket_of(server, await raw.connect())

        def keep(*args: Any) -> None:
            calls.append("keep")

        socket.once("e", lambda: calls.append("once"))
        socket.on("e", keep)
        await raw.send('42["e"]', '42["e"]')
        await eventually(lambda: len(calls) == 3)
        assert calls == ["once", "keep", "keep"]
        socket.off("e", keep)
        socket.on("f", keep)
        socket.off("f")
        socket.on("g", keep)
        socket.off()
        await raw.send('42["e"]', '42["f"]', '42["g"]', '421["echo-less"]')
        assert await raw.silent(0.1) == []
        assert calls == ["once", "keep", "keep"]


async def test_packet_middleware(serve: Serve) -> None:
    server = plexio.Server()
    errors: list[str] = []
    handled: list[Any] = []

    @server.on("connection")
    def on_connection(socket: ServerSocket) -> None:
        def check(args: list[Any]) -> None:
            if args[0] == "forbidden":
                raise PermissionError("not allowed")
            args.append("checked")

        async def slow_check(args: list[Any]) -> None:
            await asyncio.sleep(0.01)
            if args[0] == "slow-forbidden":
                raise PermissionError("not allowed later")

        socket.use(check)
        socket.use(slow_check)
        socket.on("error", lambda exc: errors.append(str(exc)))

    @server.on("work")
    def work(socket: ServerSocket, *args: Any) -> tuple[Any, ...]:
        handled.append(args)
        return args

    @server.on("forbidden")
    def forbidden(socket: ServerSocket) -> str:
        handled.append("forbidden ran")
        return "no"

    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        await raw.connect()
        await raw.send('421["work",1]', '422["forbidden"]', '423["slow-forbidden"]')
        assert await raw.recv() == '431[1,"checked"]'
        await eventually(lambda: len(errors) == 2)
        assert errors == ["not allowed", "not allowed later"]
        assert await raw.silent(0.05) == []
        assert handled == [(1, "checked")]


async def test_disconnect_reasons_and_rooms_while_disconnecting(serve: Serve) -> None:
    server = plexio.Server(ping_interval=0.1, ping_timeout=0.1)
    seen: list[tuple[str, str, set[str]]] = []

    @server.on("connection")
    def on_connection(socket: ServerSocket) -> None:
        socket.join("room")
        socket.on(
            "disconnecting", lambda reason: seen.append(("disconnecting", reason, socket.rooms))
        )
        socket.on("disconnect", lambda reason: seen.append(("disconnect", reason, socket.rooms)))

    @server.on("disconnect")
    def nsp_disconnect(socket: ServerSocket, reason: str) -> None:
        seen.append(("nsp disconnect", reason, socket.rooms))

    running = await serve(server)

    async def reason_for(action: str) -> str:
        seen.clear()
        async with raw_socketio(running.ws_url) as raw:
            sid = await raw.connect()
            socket = socket_of(server, sid)
            if action == "client":
                await raw.send("41")
            elif action == "server":
                socket.disconnect()
                assert await raw.recv() == "41"
            elif action == "server close":
                socket.disconnect(close=True)
                assert await raw.closed() == ["41"]
            elif action == "ping timeout":
                await asyncio.sleep(0.5)  # pings go unanswered: nothing reads
            elif action == "transport":
                await raw.ws.close()
            await eventually(lambda: len(seen) == 3)
        assert seen[0] == ("disconnecting", seen[0][1], {sid, "room"})
        assert seen[1][0] == "disconnect" and seen[1][2] == set()
        assert seen[2][0] == "nsp disconnect"
        assert {s[1] for s in seen} == {seen[0][1]}
        # a DisconnectReason member (equal to its string), as the client's handlers get
        assert all(type(s[1]) is DisconnectReason for s in seen)
        return seen[0][1]

    assert await reason_for("client") == "client namespace disconnect"
    assert await reason_for("server") == "server namespace disconnect"
    assert await reason_for("server close") == "server namespace disconnect"
    assert await reason_for("ping timeout") == "ping timeout"
    assert await reason_for("transport") == "transport close"
    await eventually(lambda: not server.engine.sockets)
    assert_clean(server)


async def test_disconnect_one_namespace_keeps_the_others(serve: Serve) -> None:
    server = plexio.Server()
    server.of("/a")
    server.of("/b").on("echo", lambda socket, x: x)
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        sid_a = await raw.connect("/a")
        await raw.connect("/b")
        socket_a = socket_of(server, sid_a, "/a")
        assert socket_a.disconnect() is socket_a
        assert socket_a.disconnect() is socket_a  # twice: nothing more happens
        assert await raw.recv() == "41/a,"
        await raw.send('42/b,1["echo","b works"]')
        assert await raw.recv() == '43/b,1["b works"]'
        # the client may join /a again
        await raw.connect("/a")
        assert len(server.of("/a").sockets) == 1


async def test_disconnect_close_ends_every_namespace_of_the_connection(serve: Serve) -> None:
    server = plexio.Server()
    reasons: list[tuple[str, str]] = []
    for name in ("/", "/a"):
        server.of(name).on("disconnect", lambda s, r: reasons.append((s.nsp.name, r)))
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        sid = await raw.connect()
        await raw.connect("/a")
        socket_of(server, sid).disconnect(close=True)
        frames = await raw.closed()
        assert sorted(frames) == sorted(["41", "41/a,"])
    await eventually(lambda: len(reasons) == 2)
    assert sorted(reasons) == [
        ("/", "server namespace disconnect"),
        ("/a", "server namespace disconnect"),
    ]
    assert_clean(server)


async def test_volatile_and_compress_emits(serve: Serve) -> None:
    server = plexio.Server()
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        socket = socket_of(server, await raw.connect())
        socket.volatile.emit("v", 1)
        socket.compress(False).emit("c", 2)
        socket.send("m")
        assert await raw.recv() == '42["v",1]'
        assert await raw.recv() == '42["c",2]'
        assert await raw.recv() == '42["message","m"]'


async def test_socket_broadcasts_skip_the_sender(serve: Serve) -> None:
    server = plexio.Server()

    @server.on("connection")
    def on_connection(socket: ServerSocket) -> None:
        socket.join(socket.handshake.auth["room"])

    running = await serve(server)
    async with (
        raw_socketio(running.ws_url) as a,
        raw_socketio(running.ws_url) as b,
        raw_socketio(running.ws_url) as c,
    ):
        sid_a = await a.connect(auth={"room": "red"})
        await b.connect(auth={"room": "red"})
        await c.connect(auth={"room": "blue"})
        sender = socket_of(server, sid_a)
        sender.broadcast.emit("all")
        sender.to("red").emit("red")
        sender.in_("blue").emit("blue")
        sender.except_("blue").emit("not-blue")
        assert [await b.recv() for _ in range(3)] == [
            '42["all"]',
            '42["red"]',
            '42["not-blue"]',
        ]
        assert [await c.recv() for _ in range(2)] == ['42["all"]', '42["blue"]']
        assert await a.silent(0.05) == []


async def test_disconnect_close_over_polling_sends_disconnect_before_close(
    serve: Serve,
) -> None:
    """The JS client handles a close packet before Socket.IO packets of the same
    response: DISCONNECT and the Engine.IO close must come in separate responses."""
    server = plexio.Server()
    server.on("kick", lambda socket: socket.disconnect(close=True))
    running = await serve(server)
    async with httpx.AsyncClient(base_url=running.http_url, timeout=5) as http:
        eio = RawEngineIO(http, running.ws_url, "/socket.io/")
        sid = (await eio.handshake()).sid
        await eio.post(sid, "40")
        assert (await eio.get(sid)).text.startswith('40{"sid":')
        assert (await eio.post(sid, '42["kick"]')).text == "ok"
        first = await eio.get(sid)
        assert first.text == "41"
        second = await eio.get(sid)
        assert second.text == "1"
    await eventually(lambda: not server.engine.sockets)
    assert_clean(server)


async def test_emit_of_unserialisable_data_raises_and_leaves_no_ack(serve: Serve) -> None:
    server = plexio.Server()
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        socket = socket_of(server, await raw.connect())
        with pytest.raises(LocalProtocolError):
            socket.emit("bad", object(), callback=lambda *a: None)
        with pytest.raises(LocalProtocolError):
            await socket.emit_with_ack("bad", 1 << 70)
        with pytest.raises(LocalProtocolError):
            server.emit("bad", {1j})
        assert socket.pending_acks == 0
        socket.emit("good")
        assert await raw.recv() == '42["good"]'


async def test_ack_value_that_cannot_be_encoded_is_logged(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    server = plexio.Server()
    server.on("weird", lambda socket: object())
    server.on("echo", lambda socket, x: x)
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        await raw.connect()
        await raw.send('421["weird"]', '422["echo",2]')
        assert await raw.recv() == "432[2]"
        assert any("completion of weird failed" in r.getMessage() for r in caplog.records)


async def test_join_after_disconnect_is_ignored(serve: Serve) -> None:
    """An async handler resuming after its client left cannot leak it into a room."""
    server = plexio.Server(cancel_handlers_on_disconnect=False)
    gate = asyncio.Event()
    joined: list[set[str]] = []

    @server.on("slow-join")
    async def slow_join(socket: ServerSocket) -> None:
        await gate.wait()
        socket.join("late-room")
        joined.append(socket.rooms)

    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        await raw.connect()
        await raw.send('42["slow-join"]')
        await eventually(lambda: len(next(iter(server.engine.sockets.values())).state.tasks) == 1)
    await eventually(lambda: not server.engine.sockets)
    gate.set()
    await eventually(lambda: joined == [set()])
    assert_clean(server)


_HANDLER_VAR: contextvars.ContextVar[str] = contextvars.ContextVar("handler_var", default="unset")


@pytest.mark.parametrize("shell", ["uvicorn", "native"])
@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_handlers_run_as_tasks_of_their_own(
    serve: Serve, serve_native: Any, shell: str, transport: str
) -> None:
    """asyncio.timeout, TaskGroup, current_task(), cancellation and context variables
    behave in a handler as in a task of its own, whatever the shell and transport."""
    server = plexio.Server()
    tasks_seen: list[asyncio.Task[Any] | None] = []

    @server.on("timeout")
    async def timeout(socket: ServerSocket) -> str:
        try:
            async with asyncio.timeout(0.05):
                await asyncio.sleep(5)
        except TimeoutError:
            return "timed out"
        return "slept"

    @server.on("whoami")
    async def whoami(socket: ServerSocket) -> bool:
        first = asyncio.current_task()
        await asyncio.sleep(0)
        ok = first is not None and first is asyncio.current_task() and first not in tasks_seen
        tasks_seen.append(first)
        return ok

    @server.on("group")
    async def group(socket: ServerSocket) -> list[int]:
        async def child(n: int) -> int:
            await asyncio.sleep(0.01)
            return n

        async with asyncio.TaskGroup() as tg:
            children = [tg.create_task(child(n)) for n in (1, 2)]
        return [c.result() for c in children]

    @server.on("cancel")
    async def cancel(socket: ServerSocket) -> str:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            return "cancelled"
        return "not cancelled"

    @server.on("set")
    def set_var(socket: ServerSocket, value: str) -> str:
        _HANDLER_VAR.set(value)
        return _HANDLER_VAR.get()

    @server.on("aset")
    async def aset_var(socket: ServerSocket, value: str) -> str:
        _HANDLER_VAR.set(value)
        await asyncio.sleep(0)
        return _HANDLER_VAR.get()

    @server.on("get")
    async def get_var(socket: ServerSocket) -> str:
        return _HANDLER_VAR.get()

    running = await (serve(server) if shell == "uvicorn" else serve_native(server))
    client = socketio.AsyncClient(reconnection=False)
    disconnects: list[Any] = []
    client.on("disconnect", lambda *reason: disconnects.append(reason))
    await client.connect(running.http_url, transports=[transport], wait_timeout=5)
    try:
        call = client.call
        assert await call("timeout", timeout=5) == "timed out"
        assert [await call("whoami", timeout=5) for _ in range(3)] == [True, True, True]
        assert await call("group", timeout=5) == [1, 2]
        assert await call("cancel", timeout=5) == "cancelled"
        assert await call("set", "a", timeout=5) == "a"
        assert await call("aset", "b", timeout=5) == "b"
        assert await call("get", timeout=5) == "unset"
        assert await call("timeout", timeout=5) == "timed out"  # the connection is intact
        assert disconnects == []
    finally:
        await client.disconnect()


async def test_ack_ids_come_from_the_connection_and_span_its_namespaces(serve: Serve) -> None:
    # Ids are allocated by the connection's Socket.IO core: unique across the
    # namespaces of one Engine.IO session (a per-namespace counter gave 1 and 1).
    server = plexio.Server()
    server.of("/a")
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        main = socket_of(server, await raw.connect())
        other = socket_of(server, await raw.connect("/a"), "/a")
        main.emit("q", callback=lambda *args: None)
        other.emit("q", callback=lambda *args: None)
        assert await raw.recv() == '420["q"]'
        assert await raw.recv() == '42/a,1["q"]'


async def test_a_broadcast_ack_id_never_collides_with_a_pending_unicast_one(serve: Serve) -> None:
    server = plexio.Server()
    running = await serve(server)
    async with raw_socketio(running.ws_url) as one, raw_socketio(running.ws_url) as two:
        first = socket_of(server, await one.connect())
        await two.connect()
        unicast: list[tuple[Any, ...]] = []
        for _ in range(3):  # ids 0..2 stay pending on the first connection
            first.emit("u", callback=lambda *args: unicast.append(args))
        assert [await one.recv() for _ in range(3)] == ['420["u"]', '421["u"]', '422["u"]']
        waiting = asyncio.ensure_future(server.timeout(5).emit_with_ack("b"))
        # one id for both (encoded once), free on both connections
        assert await one.recv() == await two.recv() == '423["b"]'
        await one.send('433["from one"]')
        await two.send('433["from two"]')
        assert sorted(await waiting) == ["from one", "from two"]
        assert unicast == [] and first.pending_acks == 3
        await one.send('431["late unicast"]')
        await eventually(lambda: unicast == [("late unicast",)])


async def test_handlers_waiting_when_the_client_leaves_are_cancelled(serve: Serve) -> None:
    server = plexio.Server()
    cancelled = asyncio.Event()
    disconnected: list[str] = []

    @server.on("never")
    async def never(socket: ServerSocket) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    @server.on("disconnect")
    async def gone(socket: ServerSocket, reason: str) -> None:
        await asyncio.sleep(0.01)  # a suspending disconnect handler still completes
        disconnected.append(reason)

    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        await raw.connect()
        for _ in range(20):
            await raw.send('42["never"]')
        await eventually(lambda: len(next(iter(server.engine.sockets.values())).state.tasks) == 20)
    await asyncio.wait_for(cancelled.wait(), 5)
    await eventually(lambda: disconnected == ["transport close"])
    assert_clean(server)


async def test_a_client_with_too_many_handlers_in_flight_is_not_read(serve: Serve) -> None:
    server = plexio.Server(max_handlers_in_flight=3)
    release = asyncio.Event()
    started: list[int] = []

    @server.on("work")
    async def work(socket: ServerSocket, n: int) -> int:
        started.append(n)
        await release.wait()
        return n

    running = await serve(server)
    async with raw_socketio(running.ws_url) as busy, raw_socketio(running.ws_url) as other:
        await busy.connect()
        await other.connect()
        for n in range(10):
            await busy.send(f'42{n}["work",{n}]')
        await eventually(lambda: len(started) == 3)
        await other.send('4299["work",99]')  # another client is still read
        await eventually(lambda: 99 in started)
        await asyncio.sleep(0.1)
        assert sorted(started) == [0, 1, 2, 99]  # the busy client's other messages wait
        release.set()
        acks = [await busy.recv() for _ in range(10)]
        assert sorted(acks) == sorted(f"43{n}[{n}]" for n in range(10))  # none dropped
        assert await other.recv() == "4399[99]"
