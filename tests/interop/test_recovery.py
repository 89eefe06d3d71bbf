"""Connection state recovery against the official npm socket.io-client 4.8.

The JS client does its part natively: it keeps the ``pid`` of the CONNECT reply and the
last string argument of each event (the offset), and reconnects with ``{pid, offset}``
in its auth. ``tests/interop/js/recovery_client.js`` drives one socket whose
reconnection the test triggers, so the server can broadcast while it is away.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from tests.helpers.node import NodeProcess, node_process
from tests.helpers.servers import RunningServer
from tests.server.raw import eventually

import plexio
from plexio.server.recovery import RecoveryOptions
from plexio.server.socket import ServerSocket

pytestmark = pytest.mark.interop

SCRIPT = "recovery_client.js"


class Client:
    """Commands for ``recovery_client.js``; every line it printed is kept in order."""

    def __init__(self, proc: NodeProcess) -> None:
        self.proc = proc
        self.lines: list[dict[str, Any]] = []
        self._used: set[int] = set()

    async def command(self, cmd: str, **fields: Any) -> None:
        """Sends a command and waits until the script has run it."""
        await self.proc.send_json({"cmd": cmd, **fields})
        await self.expect("done", cmd=cmd)

    async def expect(self, event: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        """The first line not returned before named ``event`` whose fields equal ``match``."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        checked = 0
        while True:
            for index in range(checked, len(self.lines)):
                line = self.lines[index]
                if (
                    index not in self._used
                    and line.get("event") == event
                    and all(line.get(k) == v for k, v in match.items())
                ):
                    self._used.add(index)
                    return line
            checked = len(self.lines)
            line = await self.proc.read_json(max(0.0, end - loop.time()))
            if isinstance(line, dict):
                self.lines.append(line)

    async def exit(self) -> None:
        """Disconnects the socket; the script then ends."""
        await self.proc.send_json({"cmd": "exit"})
        await self.proc.read_rest()

    def received(self, name: str) -> list[list[Any]]:
        """The arguments of every event ``name`` received so far, in order."""
        return [
            line["args"]
            for line in self.lines
            if line.get("event") == "recv" and line.get("name") == name
        ]


Start = Callable[[plexio.Server], Awaitable[Client]]


@pytest.fixture
async def start(serve_uvicorn: Any) -> AsyncIterator[Start]:
    """``client = await start(server)`` serves ``server`` and starts the JS driver."""
    contexts: list[Any] = []

    async def run(server: plexio.Server) -> Client:
        running: RunningServer = await serve_uvicorn(plexio.ASGIApp(server))
        ctx = node_process(SCRIPT, env={"SERVER_URL": running.http_url}, timeout=60)
        proc = await ctx.__aenter__()
        contexts.append(ctx)
        return Client(proc)

    yield run
    for ctx in reversed(contexts):
        await ctx.__aexit__(None, None, None)


def news_server(recovery: RecoveryOptions | None) -> plexio.Server:
    """A server whose clients join rooms on ``join`` and hear ``joined`` back."""
    server = plexio.Server(connection_state_recovery=recovery, ping_interval=1, ping_timeout=1)

    @server.on("join")
    def join(socket: ServerSocket, room: str) -> None:
        socket.join(room)
        socket.data["room"] = room
        socket.emit("joined", room)

    return server


def without_offsets(calls: list[list[Any]]) -> list[list[Any]]:
    """Event arguments without the trailing offset string each one carries."""
    for args in calls:
        assert isinstance(args[-1], str), args
    return [args[:-1] for args in calls]


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]], ids=["websocket", "polling"])
async def test_the_js_client_recovers_and_gets_missed_events_once(
    start: Start, transports: list[str]
) -> None:
    server = news_server(RecoveryOptions())
    middleware_calls: list[str] = []
    reasons: list[str] = []

    @server.on("disconnect")
    def on_disconnect(socket: ServerSocket, reason: str) -> None:
        reasons.append(reason)

    @server.use
    def middleware(socket: ServerSocket) -> None:
        middleware_calls.append(socket.id)

    client = await start(server)
    await client.command("open", transports=transports, auth={"token": "t"})
    first = await client.expect("connect")
    assert first["recovered"] is False
    await client.command("emit", event="join", args=["room"])
    await client.expect("recv", name="joined")
    server.to("room").emit("news", 1)
    await client.expect("recv", name="news")

    await client.command("close_engine")
    await client.expect("disconnect")
    await eventually(lambda: not server.sockets.sockets)
    assert reasons == ["transport close"]

    # while it is away
    server.to("room").emit("news", 2)
    server.emit("news", 3)
    server.to("elsewhere").emit("news", "not for it")
    server.except_("room").emit("news", "not for it either")
    server.volatile.emit("news", "volatile, never kept")

    await client.command("connect")
    again = await client.expect("connect")
    assert again["recovered"] is True
    assert again["sid"] == first["sid"]
    server.to("room").emit("news", 4)  # live again, still in its room
    for _ in range(3):
        await client.expect("recv", name="news")

    assert without_offsets(client.received("news")) == [[1], [2], [3], [4]]
    assert without_offsets(client.received("joined")) == [["room"]]
    (socket,) = server.sockets.sockets.values()
    assert socket.recovered and socket.id == first["sid"]
    assert socket.rooms == {first["sid"], "room"}
    assert socket.data == {"room": "room"}
    assert socket.handshake.auth == {"token": "t"}
    assert middleware_calls == [first["sid"]]  # skipped on recovery
    await client.exit()


async def test_no_recovery_when_the_server_has_it_off(start: Start) -> None:
    server = news_server(None)
    client = await start(server)
    await client.command("open", transports=["websocket"])
    first = await client.expect("connect")
    await client.command("emit", event="join", args=["room"])
    await client.expect("recv", name="joined")
    server.to("room").emit("news", 1)
    await client.expect("recv", name="news")

    await client.command("close_engine")
    await client.expect("disconnect")
    await eventually(lambda: not server.sockets.sockets)
    server.to("room").emit("news", 2)

    await client.command("connect")
    again = await client.expect("connect")
    assert again["recovered"] is False
    assert again["sid"] != first["sid"]
    server.emit("news", 3)
    await client.expect("recv", name="news")
    assert client.received("news") == [[1], [3]]  # no offsets, nothing replayed
    (socket,) = server.sockets.sockets.values()
    assert socket.rooms == {again["sid"]}
    await client.exit()


async def test_no_recovery_after_the_session_expired(start: Start) -> None:
    server = news_server(RecoveryOptions(max_disconnection_duration=0.2))
    client = await start(server)
    await client.command("open", transports=["websocket"])
    first = await client.expect("connect")
    server.emit("news", 1)
    await client.expect("recv", name="news")

    await client.command("close_engine")
    await client.expect("disconnect")
    await eventually(lambda: not server.sockets.sockets)
    server.emit("news", 2)
    await asyncio.sleep(0.3)  # past the duration

    await client.command("connect")
    again = await client.expect("connect")
    assert again["recovered"] is False
    assert again["sid"] != first["sid"]
    server.emit("news", 3)
    await client.expect("recv", name="news")
    assert without_offsets(client.received("news")) == [[1], [3]]
    await client.exit()
