"""plexio.compat.socketio as python-socketio code uses it, with plexio's client."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

import plexio
import plexio.compat.socketio as socketio
from plexio.exceptions import ConnectRefusedError
from tests.helpers.servers import running_uvicorn


async def until(condition: Any) -> None:
    for _ in range(250):  # bounded
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met")


async def test_any_namespace_tuples_send_call_timeout_and_sync_handlers() -> None:
    sio = socketio.AsyncServer(namespaces="*")
    seen: list[Any] = []

    @sio.on("hello", namespace="/anything")
    def hello(sid: str, a: int, b: int) -> tuple[int, int]:  # sync handler, tuple ack
        return b, a

    @sio.event
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        seen.append(("connect", environ["REQUEST_METHOD"], environ["HTTP_X_TEST"]))

    @sio.event
    def disconnect(sid: str) -> None:  # the one-argument form
        seen.append(("disconnect", sid))

    @sio.on("slow")
    async def slow(sid: str) -> str:
        try:
            await sio.call("never", to=sid, timeout=0.2)
        except socketio.exceptions.TimeoutError:
            return "timed out"
        return "answered?"

    @sio.on("pair")
    async def pair(sid: str) -> list[str]:
        await sio.emit("two", (1, 2), to=sid)
        await sio.send("just a message", to=sid)
        assert sio.transport(sid) in ("polling", "websocket")
        return sio.rooms(sid)

    app = socketio.ASGIApp(sio)
    async with running_uvicorn(app) as running:
        async with plexio.Manager(running.http_url, headers={"X-Test": "yes"}) as io:
            main = io.socket("/")
            other = io.socket("/anything")
            got: list[Any] = []
            main.on("two", lambda a, b: got.append((a, b)))
            main.on("message", lambda text: got.append(text))
            await main.connect()
            await other.connect()
            assert await other.timeout(5).emit_with_ack("hello", 1, 2) == 2
            rooms = await main.timeout(5).emit_with_ack("pair")
            assert rooms == [main.id]
            await until(lambda: len(got) == 2)
            assert got == [(1, 2), "just a message"]
            assert await main.timeout(5).emit_with_ack("slow") == "timed out"
            sid = main.id
            await main.disconnect()
            await until(lambda: ("disconnect", sid) in seen)
    assert seen[0] == ("connect", "GET", "yes")


async def test_always_connect_and_rooms_and_sessions() -> None:
    sio = socketio.AsyncServer(always_connect=True)

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> bool:
        return bool(auth and auth.get("ok"))

    @sio.event
    async def enter(sid: str, room: str) -> None:
        await sio.enter_room(sid, room)
        async with sio.session(sid) as session:
            session["room"] = room

    @sio.event
    async def where(sid: str) -> Any:
        return (await sio.get_session(sid)).get("room")

    @sio.event
    async def close(sid: str, room: str) -> None:
        await sio.emit("bye", room, room=room)
        await sio.close_room(room)

    async with running_uvicorn(socketio.ASGIApp(sio)) as running:
        async with plexio.Manager(running.http_url, reconnection=False) as io:
            refused = io.socket("/", auth={"ok": False})
            lost: list[str] = []
            refused.on("disconnect", lambda reason: lost.append(reason))
            await refused.connect()  # accepted first (always_connect), then disconnected
            await until(lambda: lost == ["io server disconnect"])
        async with plexio.Manager(running.http_url) as io:
            sock = io.socket("/", auth={"ok": True})
            bye: list[str] = []
            sock.on("bye", lambda room: bye.append(room))
            await sock.connect()
            await sock.timeout(5).emit_with_ack("enter", "kitchen")
            assert await sock.timeout(5).emit_with_ack("where") == "kitchen"
            assert "kitchen" in sio.rooms(sock.id)
            await sock.timeout(5).emit_with_ack("close", "kitchen")
            await until(lambda: bye == ["kitchen"])
            assert "kitchen" not in sio.rooms(sock.id)


async def test_a_class_based_namespace_handles_and_sends_in_its_namespace() -> None:
    sio = socketio.AsyncServer()

    class Chat(socketio.AsyncNamespace):
        async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> bool:
            return bool(auth and auth.get("ok"))

        async def on_hello(self, sid: str, name: str) -> str:
            await self.send(f"hi {name}", to=sid)
            await self.emit("shout", name.upper(), room=sid)
            await self.enter_room(sid, "lobby")
            return ",".join(sorted(self.rooms(sid)))

    with pytest.raises(RuntimeError, match="register the namespace first"):
        await Chat("/chat").emit("x")
    sio.register_namespace(Chat("/chat"))
    async with running_uvicorn(socketio.ASGIApp(sio)) as running:
        async with plexio.Manager(running.http_url, reconnection=False) as io:
            refused = io.socket("/chat", auth={"ok": False})
            with pytest.raises(ConnectRefusedError):
                await refused.connect()
            chat = io.socket("/chat", auth={"ok": True})
            got: list[Any] = []
            chat.on("message", lambda text: got.append(text))
            chat.on("shout", lambda text: got.append(text))
            await chat.connect()
            rooms = await chat.timeout(5).emit_with_ack("hello", "ann")
            assert rooms == ",".join(sorted([chat.id, "lobby"]))
            await until(lambda: len(got) == 2)
            assert got == ["hi ann", "ANN"]


async def test_static_files_and_other_app(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<h1>hi</h1>")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "app.js").write_text("console.log(1)")

    async def other(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"other app"})

    app = socketio.ASGIApp(
        socketio.AsyncServer(),
        other_asgi_app=other,
        static_files={
            "/": str(tmp_path / "index.html"),
            "/static/": str(tmp_path / "assets"),
        },
    )
    async with running_uvicorn(app) as running:
        async with httpx.AsyncClient(base_url=running.http_url) as http:
            page = await http.get("/")
            assert page.text == "<h1>hi</h1>" and page.headers["content-type"] == "text/html"
            script = await http.get("/static/app.js")
            assert script.text == "console.log(1)"
            assert "javascript" in script.headers["content-type"]
            assert (await http.get("/static/../index.html")).text == "other app"
            assert (await http.get("/api")).text == "other app"


def test_unsupported_modes_and_options_are_refused() -> None:
    with pytest.raises(ValueError, match="ASGI only"):
        socketio.AsyncServer(async_mode="eventlet")
    with pytest.raises(TypeError):
        socketio.AsyncServer(client_manager=object())  # type: ignore[call-arg]


async def test_start_serving_adds_the_catch_all_for_a_server_served_without_asgiapp() -> None:
    sio = socketio.AsyncServer(namespaces="*")

    @sio.on("ping", namespace="/anything")
    def ping(sid: str) -> str:
        return "pong"

    async with running_uvicorn(plexio.ASGIApp(sio.server)) as running:
        async with plexio.Manager(running.http_url, reconnection=False) as io:
            refused = io.socket("/elsewhere")
            with pytest.raises(ConnectRefusedError):
                await refused.connect()  # no catch-all yet: only "/" and "/anything"
            sio.start_serving()
            sio.start_serving()  # once is enough; again changes nothing
            other = io.socket("/other")
            await other.connect()
            assert other.connected
            anything = io.socket("/anything")
            await anything.connect()
            assert await anything.timeout(5).emit_with_ack("ping") == "pong"
