"""python-socketio applications run on plexio with one import changed.

The two applications in ``examples/migrating/`` are written against python-socketio's
documented ``AsyncServer`` API, importing ``plexio.compat.socketio as socketio``. Each is
served by uvicorn in a subprocess and driven by the official socket.io-client 4.8 under
Node; the same test then runs the same file with the import put back to
``import socketio`` (python-socketio itself): both must behave the same.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.helpers.node import NodeProcess, node_process
from tests.helpers.servers import REPO_ROOT, ServerProcess

pytestmark = [pytest.mark.interop, pytest.mark.slow]

EXAMPLES = REPO_ROOT / "examples" / "migrating"
PLEXIO_IMPORT = "import plexio.compat.socketio as socketio  # was: import socketio"


class Js:
    """Drives tests/interop/js/sio_client.js (one command per JSON line)."""

    def __init__(self, proc: NodeProcess) -> None:
        self.proc = proc
        self.events: list[dict[str, Any]] = []

    async def send(self, cmd: str, **fields: Any) -> None:
        await self.proc.send_json({"cmd": cmd, **fields})

    async def expect(self, event: str, **match: Any) -> dict[str, Any]:
        for index, line in enumerate(self.events):
            if line.get("event") == event and all(line.get(k) == v for k, v in match.items()):
                return self.events.pop(index)
        for _ in range(200):  # bounded: each read waits at most 10 s
            line = await self.proc.read_json(10)
            if not isinstance(line, dict):
                continue
            if line.get("event") == event and all(line.get(k) == v for k, v in match.items()):
                return line
            self.events.append(line)
        raise AssertionError(f"no {event} {match}")

    async def call(self, sid: str, event: str, *args: Any) -> list[Any]:
        tag = f"{sid}-{event}-{len(self.events)}-{id(args)}"
        await self.send("emit", id=sid, event=event, args=list(args), ack=True, tag=tag)
        line = await self.expect("ack", id=sid, tag=tag)
        result: list[Any] = line["args"]
        return result

    async def socket(self, sid: str, nsp: str = "/", auth: Any = None) -> dict[str, Any]:
        await self.send("manager", mid=sid, transports=["polling", "websocket"])
        fields: dict[str, Any] = {"id": sid, "mid": sid, "nsp": nsp}
        if auth is not None:
            fields["auth"] = auth
        await self.send("socket", **fields)
        return await self.expect_any(("connect", "connect_error"), id=sid)

    async def expect_any(self, events: tuple[str, ...], **match: Any) -> dict[str, Any]:
        for _ in range(200):
            for index, line in enumerate(self.events):
                if line.get("event") in events and all(line.get(k) == v for k, v in match.items()):
                    return self.events.pop(index)
            line = await self.proc.read_json(10)
            if isinstance(line, dict):
                self.events.append(line)
        raise AssertionError(f"none of {events}")


@contextlib.asynccontextmanager
async def serving(module: str, flavour: str, tmp_path: Path) -> AsyncIterator[Js]:
    """Serves ``examples/migrating/<module>.py`` on plexio, or on python-socketio."""
    source = (EXAMPLES / f"{module}.py").read_text()
    assert PLEXIO_IMPORT in source  # the only line that differs
    if flavour == "python-socketio":
        source = source.replace(PLEXIO_IMPORT, "import socketio")
    name = f"migrating_{module}_{flavour.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(source)
    server = ServerProcess(f"{name}:app", env={"PYTHONPATH": str(tmp_path)})
    await server.start()
    try:
        env = {"SERVER_URL": server.running.http_url}
        async with node_process("sio_client.js", env=env, timeout=90) as proc:
            yield Js(proc)
            await proc.send_json({"cmd": "exit"})
            await proc.read_rest()
    finally:
        await server.stop()


FLAVOURS = ["plexio", "python-socketio"]


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_chat_app(flavour: str, tmp_path: Path) -> None:
    async with serving("chat", flavour, tmp_path) as js:
        refused = await js.socket("nobody")
        assert refused["event"] == "connect_error"
        assert (refused["message"], refused["data"]) == ("who are you?", {"need": "name"})

        ann = await js.socket("ann", auth={"name": "ann"})
        assert ann["event"] == "connect"
        welcome = await js.expect("recv", id="ann", name="welcome")
        assert welcome["args"] == [{"name": "ann", "sid": ann["sid"]}]
        assert (await js.socket("bob", auth={"name": "bob"}))["event"] == "connect"
        assert (await js.expect("recv", id="ann", name="joined"))["args"] == ["bob"]

        # return value with two values -> two ack arguments; room broadcast to both
        assert await js.call("bob", "say", "hello") == ["ok", 5]
        for who in ("ann", "bob"):
            said = await js.expect("recv", id=who, name="said")
            assert said["args"] == [{"name": "bob", "text": "hello"}]

        # session context manager and rooms
        rooms = (await js.call("bob", "move", "kitchen"))[0]
        assert "kitchen" in rooms and "lobby" not in rooms
        await js.call("bob", "say", "alone")
        assert (await js.expect("recv", id="bob", name="said"))["args"][0]["text"] == "alone"

        # sio.call: the server asks the client back (the JS client echoes)
        assert await js.call("ann", "ask", "42?") == [{"client said": "42?"}]

        # the catch-all handler
        await js.send("emit", id="ann", event="whatever", args=[1, 2])
        unknown = await js.expect("recv", id="ann", name="unknown")
        assert unknown["args"] == [{"event": "whatever", "args": [1, 2]}]

        # class-based namespace: refusal by returning False, events, disconnect by sid
        assert (await js.socket("intruder", nsp="/admin"))["event"] == "connect_error"
        assert (await js.socket("admin", nsp="/admin", auth={"token": "secret"}))[
            "event"
        ] == "connect"
        assert await js.call("admin", "announce", "tea time") == ["sent"]
        for who in ("ann", "bob"):
            note = await js.expect("recv", id=who, name="announcement")
            assert note["args"] == ["tea time"]
        assert await js.call("admin", "kick", ann["sid"]) == ["kicked"]
        assert (await js.expect("disconnect", id="ann"))["reason"] == "io server disconnect"


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_demo_app(flavour: str, tmp_path: Path) -> None:
    async with serving("app", flavour, tmp_path) as js:
        assert (await js.socket("a"))["event"] == "connect"
        first = await js.expect("recv", id="a", name="my_response")
        assert first["args"] == [{"data": "Connected", "count": 0}]
        assert (await js.socket("b"))["event"] == "connect"

        await js.send("emit", id="a", event="my_event", args=[{"data": "mine"}])
        await js.expect("recv", id="a", name="my_response", args=[{"data": "mine"}])

        await js.send("emit", id="a", event="my_broadcast_event", args=[{"data": "all"}])
        for who in ("a", "b"):
            await js.expect("recv", id=who, name="my_response", args=[{"data": "all"}])

        await js.send("emit", id="b", event="join", args=[{"room": "r"}])
        await js.expect("recv", id="b", name="my_response", args=[{"data": "Entered room: r"}])
        await js.send("emit", id="a", event="my_room_event", args=[{"room": "r", "data": "in r"}])
        await js.expect("recv", id="b", name="my_response", args=[{"data": "in r"}])
        await js.send("emit", id="a", event="close_room", args=[{"room": "r"}])
        closing = [{"data": "Room r is closing."}]
        await js.expect("recv", id="b", name="my_response", args=closing)

        assert await js.call("a", "my_ping") == ["pong"]

        # the background task reaches every client
        tick = await js.expect("recv", id="b", name="my_response")
        while tick["args"][0].get("data") != "Server generated event":
            tick = await js.expect("recv", id="b", name="my_response")
        assert tick["args"][0]["count"] >= 1

        await js.send("emit", id="a", event="disconnect_request", args=[])
        assert (await js.expect("disconnect", id="a"))["reason"] == "io server disconnect"


async def test_static_files_are_served(tmp_path: Path) -> None:
    server = ServerProcess("examples.migrating.app:app")
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.running.http_url) as http:
            page = await http.get("/")
            assert page.status_code == 200
            assert page.headers["content-type"].startswith("text/html")
            assert (await http.get("/nothing-here")).status_code == 404
    finally:
        await server.stop()
    await asyncio.sleep(0)
