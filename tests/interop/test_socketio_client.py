"""The official npm socket.io-client 4.8 (under Node) against plexio's Socket.IO server.

plexio's :class:`~plexio.Server` runs under uvicorn in the test's event loop, so every
test can look at server state while ``tests/interop/js/sio_client.js`` drives the JS
client (managers = Engine.IO connections, sockets = namespaces) and reports each
event as a JSON line. Covers PROTOCOL.md sections G-I end to end: namespaces (static,
regex, callable), auth and middleware refusals, events and acks in both directions,
binary, rooms and broadcasts, broadcast acks with timeouts, the msgpack parser,
polling only / websocket only / upgrade, and the JS disconnect reasons.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from tests.helpers.node import NodeProcess, NodeScriptError, node_process
from tests.helpers.servers import RunningServer

import plexio
from plexio.server.socket import ServerSocket

pytestmark = pytest.mark.interop

SCRIPT = "sio_client.js"

#: name -> (manager options, transport once settled)
MODES: dict[str, tuple[dict[str, Any], str]] = {
    "polling": ({"transports": ["polling"], "upgrade": False}, "polling"),
    "websocket": ({"transports": ["websocket"]}, "websocket"),
    "upgrade": ({"transports": ["polling", "websocket"]}, "websocket"),
}


def to_js(value: Any) -> Any:
    """Python value → JSON-lines value (bytes become ``{"$b64": ...}``)."""
    if isinstance(value, bytes | bytearray):
        return {"$b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, list | tuple):
        return [to_js(v) for v in value]
    if isinstance(value, dict):
        return {k: to_js(v) for k, v in value.items()}
    return value


def from_js(value: Any) -> Any:
    """JSON-lines value → Python value (``{"$b64": ...}`` becomes bytes)."""
    if isinstance(value, list):
        return [from_js(v) for v in value]
    if isinstance(value, dict):
        if list(value) == ["$b64"]:
            return base64.b64decode(value["$b64"])
        return {k: from_js(v) for k, v in value.items()}
    return value


class JsClient:
    """Commands for ``sio_client.js`` and a buffer of the events it reported."""

    def __init__(self, proc: NodeProcess) -> None:
        self.proc = proc
        self.events: list[dict[str, Any]] = []
        self._used: set[int] = set()

    async def command(self, cmd: str, **fields: Any) -> None:
        """Send a command and wait until the script has run it."""
        await self.proc.send_json({"cmd": cmd, **fields})
        await self.expect("done", cmd=cmd)

    async def expect(self, event: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        """The first unconsumed event named ``event`` whose fields equal ``match``."""

        def fits(index: int, line: dict[str, Any]) -> bool:
            return (
                index not in self._used
                and line.get("event") == event
                and all(line.get(k) == v for k, v in match.items())
            )

        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        checked = 0
        while True:
            for index in range(checked, len(self.events)):
                if fits(index, self.events[index]):
                    self._used.add(index)
                    return self.events[index]
            checked = len(self.events)
            line = await self.proc.read_json(max(0.0, end - loop.time()))
            if isinstance(line, dict):
                self.events.append(line)

    def seen(self, event: str, **match: Any) -> list[dict[str, Any]]:
        """Every event read so far (consumed or not) matching."""
        return [
            e
            for e in self.events
            if e.get("event") == event and all(e.get(k) == v for k, v in match.items())
        ]

    async def drain(self, seconds: float) -> None:
        """Reads whatever arrives for ``seconds`` (to check that nothing more comes)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (left := end - loop.time()) > 0:
            try:
                line = await self.proc.read_json(left)
            except NodeScriptError:
                if self.proc.returncode is not None:
                    raise
                return
            if isinstance(line, dict):
                self.events.append(line)

    async def manager(self, mid: str, mode: str = "websocket", **opts: Any) -> None:
        """A new Engine.IO connection (created lazily by its first socket)."""
        await self.command("manager", mid=mid, **{**MODES[mode][0], **opts})

    async def socket(
        self, sid: str, mid: str, nsp: str = "/", auth: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Opens a socket and returns its ``connect`` event."""
        fields: dict[str, Any] = {"id": sid, "mid": mid, "nsp": nsp}
        if auth is not None:
            fields["auth"] = auth
        await self.command("socket", **fields)
        return await self.expect("connect", id=sid)

    async def refused(
        self, sid: str, mid: str, nsp: str, auth: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Opens a socket that must be refused; returns its ``connect_error`` event."""
        fields: dict[str, Any] = {"id": sid, "mid": mid, "nsp": nsp}
        if auth is not None:
            fields["auth"] = auth
        await self.command("socket", **fields)
        return await self.expect("connect_error", id=sid)

    async def emit(self, sid: str, event: str, *args: Any, **extra: Any) -> None:
        """``socket.emit(event, *args)`` on the JS side."""
        await self.command("emit", id=sid, event=event, args=to_js(list(args)), **extra)

    async def call(
        self, sid: str, event: str, *args: Any, timeout_ms: int | None = None
    ) -> list[Any]:
        """``socket.emit(event, *args, ack)`` on the JS side; returns the ack arguments."""
        tag = f"{sid}:{event}:{len(self.events)}"
        extra: dict[str, Any] = {"ack": True, "tag": tag}
        if timeout_ms is not None:
            extra["timeout"] = timeout_ms
        await self.emit(sid, event, *args, **extra)
        line = await self.expect("ack", id=sid, tag=tag)
        result: list[Any] = from_js(line["args"])
        return result

    async def recv(self, sid: str, name: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next event ``name`` the JS socket ``sid`` received (args decoded)."""
        line = await self.expect("recv", timeout=timeout, id=sid, name=name)
        return {**line, "args": from_js(line["args"])}


async def _settled(server: plexio.Server, count: int = 1) -> None:
    """Waits until ``count`` Engine.IO sessions exist (bounded)."""
    async with asyncio.timeout(5):
        while len(server.engine.sockets) < count:
            await asyncio.sleep(0.01)


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Polls ``condition`` until true (bounded; fails the test otherwise)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def assert_clean(server: plexio.Server) -> None:
    """Nothing left behind by sessions that ended."""
    assert server.engine.sockets == {}
    for nsp in server.namespaces.values():
        assert nsp.sockets == {}, nsp
        assert nsp.adapter.rooms == {}, nsp
        assert nsp.adapter.sids == {}, nsp


Start = Callable[..., Awaitable[tuple[plexio.Server, JsClient]]]


@pytest.fixture
async def start(serve_uvicorn: Any) -> AsyncIterator[Start]:
    """``server, js = await start(server)`` serves ``server`` and starts the JS driver."""
    procs: list[Any] = []

    async def run(server: plexio.Server) -> tuple[plexio.Server, JsClient]:
        running: RunningServer = await serve_uvicorn(plexio.ASGIApp(server))
        ctx = node_process(SCRIPT, env={"SERVER_URL": running.http_url}, timeout=90)
        proc = await ctx.__aenter__()
        procs.append(ctx)
        return server, JsClient(proc)

    yield run
    for ctx in reversed(procs):
        await ctx.__aexit__(None, None, None)


def quick_server(**kwargs: Any) -> plexio.Server:
    kwargs.setdefault("ping_interval", 0.5)
    kwargs.setdefault("ping_timeout", 0.5)
    return plexio.Server(**kwargs)


# ---------------------------------------------------------------- basics in every mode


@pytest.mark.parametrize("mode", list(MODES))
async def test_events_and_acks_both_ways(start: Start, mode: str) -> None:
    server = quick_server()
    hello: list[Any] = []

    @server.on("connection")
    def on_connection(socket: ServerSocket) -> None:
        socket.emit("hello", "world", {"n": 1})

    @server.on("echo")
    async def echo(socket: ServerSocket, *args: Any) -> tuple[Any, ...]:
        return args

    @server.on("note")
    def note(socket: ServerSocket, value: Any) -> None:
        hello.append(value)

    server, js = await start(server)
    await js.manager("m", mode)
    connected = await js.socket("a", "m")
    assert connected["transport"] in ("polling", "websocket")
    got = await js.recv("a", "hello")
    assert got["args"] == ["world", {"n": 1}]
    assert got["acked"] is False
    assert await js.call("a", "echo", 1, "2", {"3": [True]}) == [1, "2", {"3": [True]}]
    await js.emit("a", "note", "x")
    await eventually(lambda: hello == ["x"])
    (socket,) = server.sockets.sockets.values()
    assert socket.id == connected["sid"]
    assert socket.conn.engine.sid != socket.id
    if MODES[mode][1] == "websocket":
        await eventually(lambda: socket.transport == "websocket")
    else:
        assert socket.transport == "polling"
    # server → client ack, with a callback and with emit_with_ack
    replies: list[tuple[Any, ...]] = []
    socket.emit("question", 41, callback=lambda *a: replies.append(a))
    assert await socket.emit_with_ack("question", "why") == "why"
    await eventually(lambda: replies == [(41,)])
    assert (await js.recv("a", "question"))["acked"] is True
    await js.command("disconnect", id="a")
    line = await js.expect("disconnect", id="a")
    assert line["reason"] == "io client disconnect"
    await eventually(lambda: not server.sockets.sockets)
