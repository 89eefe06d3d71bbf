"""plexio.server.connection: Socket.IO connection rules against hand-written frames.

A raw WebSocket client (``tests/server/raw.py``) speaks Engine.IO/Socket.IO by hand
against a real server under uvicorn. Bad input closes only the session that sent it,
with a logged reason, and the server keeps serving others (PROTOCOL.md items 49-63);
an unknown namespace is refused without closing; an ack nobody waits for is ignored.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import httpx
import pytest

import plexio
from plexio.exceptions import DisconnectedError
from plexio.server.socket import ServerSocket
from tests.helpers.eio import SEP, RawEngineIO
from tests.helpers.timers import live_timers
from tests.server.conftest import Serve
from tests.server.raw import RawSocketIO, assert_clean, eventually, raw_socketio

LOGGER = "plexio.server.connection"


def echo_server(**kwargs: Any) -> plexio.Server:
    server = plexio.Server(**kwargs)

    @server.on("echo")
    def echo(socket: ServerSocket, *args: Any) -> tuple[Any, ...]:
        return args

    server.of("/chat")
    return server


async def assert_serves(ws_root: str) -> None:
    """A fresh client can join and get an ack: the server is healthy."""
    async with raw_socketio(ws_root) as raw:
        await raw.connect()
        await raw.send('4217["echo","still here",{"n":[1]}]')
        assert await raw.recv() == '4317["still here",{"n":[1]}]'


def logged(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and text in r.getMessage()]


async def test_unknown_namespace_is_refused_and_the_connection_stays(serve: Serve) -> None:
    server = echo_server()
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        await raw.send("40/random,")
        assert await raw.recv() == '44/random,{"message":"Invalid namespace"}'
        await raw.send("40/random")  # the name may end the message without a comma
        assert await raw.recv() == '44/random,{"message":"Invalid namespace"}'
        await raw.connect()
        await raw.send('421["echo",1]')
        assert await raw.recv() == "431[1]"
        # the refused name never became a namespace
        assert "/random" not in server.namespaces


BAD_FRAMES: dict[str, tuple[list[str | bytes], str]] = {
    "malformed JSON": (['42["echo",'], "malformed packet"),
    "bad ack id": (['42abc["echo"]'], "malformed packet"),
    "event is not an array": (["42{}"], "malformed packet"),
    "empty event array": (["42[]"], "malformed packet"),
    "reserved event name": (['42["disconnect"]'], "malformed packet"),
    "unknown packet type": (['47["echo"]'], "malformed packet"),
    "zero attachments": (['450-["echo"]'], "malformed packet"),
    "placeholder out of range": (
        ['451-["echo",{"_placeholder":true,"num":3}]', b"\x01"],
        "malformed packet",
    ),
    "text while attachments pending": (
        ['451-["echo",{"_placeholder":true,"num":0}]', '42["echo"]'],
        "malformed packet",
    ),
    "too many attachments": (
        ['452-["echo",{"_placeholder":true,"num":0}]', b"\x01", b"\x02"],
        "malformed packet",
    ),
    "binary without a header": ([b"\x01\x02"], "malformed packet"),
    "disconnect with data": (['41{"x":1}'], "malformed packet"),
    "namespace never joined": (['42/chat,["echo"]'], "has not joined"),
    "second CONNECT": (["40"], "second CONNECT"),
    "CONNECT_ERROR from a client": (['44{"message":"no"}'], "CONNECT_ERROR"),
}


@pytest.mark.parametrize("name", list(BAD_FRAMES))
async def test_bad_input_closes_only_that_connection(
    serve: Serve, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    frames, reason = BAD_FRAMES[name]
    server = echo_server()
    disconnects: list[str] = []
    server.on("disconnect", lambda socket, why: disconnects.append(why))
    running = await serve(server)
    caplog.set_level(logging.INFO, LOGGER)
    async with raw_socketio(running.ws_url) as bystander:
        await bystander.connect()
        async with raw_socketio(running.ws_url) as raw:
            await raw.connect()
            await raw.send(*frames)
            rest = await raw.closed()
            assert all(isinstance(f, str) and not f.startswith("42") for f in rest), rest
        assert logged(caplog, reason), [r.getMessage() for r in caplog.records]
        assert logged(caplog, "closing")
        await eventually(lambda: len(server.engine.sockets) == 1)
        assert disconnects and disconnects[0] in ("parse error", "protocol error")
        # the other client never noticed
        await bystander.send('425["echo","ok"]')
        assert await bystander.recv() == '435["ok"]'
    await assert_serves(running.ws_url)
    await eventually(lambda: not server.engine.sockets)
    assert_clean(server)


async def test_first_packet_must_be_connect(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    server = echo_server()
    running = await serve(server)
    caplog.set_level(logging.INFO, LOGGER)
    async with raw_socketio(running.ws_url) as raw:
        await raw.send('42["echo",1]')
        assert await raw.closed() == []
    assert logged(caplog, "first packet must be CONNECT")
    await assert_serves(running.ws_url)


async def test_ack_for_an_unknown_id_is_ignored_and_logged(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    server = echo_server()
    running = await serve(server)
    caplog.set_level(logging.DEBUG, "plexio.server.socket")
    async with raw_socketio(running.ws_url) as raw:
        await raw.connect()
        await raw.send('4399["nobody asked"]')
        await raw.send('427["echo","after"]')
        assert await raw.recv() == '437["after"]'
        assert [r for r in caplog.records if "ack 99 for no pending emit" in r.getMessage()]
        assert len(server.engine.sockets) == 1


async def test_packet_after_leaving_a_namespace_is_dropped(serve: Serve) -> None:
    """A server-side disconnect races the client's next packet: no reason to close."""
    server = echo_server()

    @server.of("/chat").on("bye")
    def bye(socket: ServerSocket) -> None:
        socket.disconnect()

    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        await raw.connect()
        await raw.connect("/chat")
        await raw.send('42/chat,["bye"]', '42/chat,["late"]')
        assert await raw.recv() == "41/chat,"
        await raw.send('428["echo","alive"]')
        assert await raw.recv() == '438["alive"]'
        assert not server.of("/chat").sockets


async def test_connect_timeout_closes_a_connection_without_namespace(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    server = echo_server(connect_timeout=0.2)
    running = await serve(server)
    caplog.set_level(logging.INFO, LOGGER)
    async with raw_socketio(running.ws_url) as idle, raw_socketio(running.ws_url) as active:
        await active.connect()
        assert await idle.closed() == []
        assert logged(caplog, "joined no namespace in time")
        # the one that joined in time is not affected
        assert await active.silent(0.3) == []
        await active.send('429["echo",9]')
        assert await active.recv() == "439[9]"


async def test_connect_timeouts_come_each_after_its_own_connection(serve: Serve) -> None:
    # one loop timer for every connection: after the first deadline it is armed again
    # for the next connection still waiting, which gets its full timeout
    server = echo_server(connect_timeout=0.3)
    running = await serve(server)
    loop = asyncio.get_running_loop()
    async with raw_socketio(running.ws_url) as first:
        await asyncio.sleep(0.2)
        async with raw_socketio(running.ws_url) as second:
            second_opened = loop.time()
            assert await first.closed() == []
            assert await second.silent(0.1) == []  # still open after the first's end
            assert await second.closed() == []
            assert loop.time() - second_opened >= 0.3


async def test_connect_timeout_after_leaving_every_namespace_does_not_fire(
    serve: Serve,
) -> None:
    server = echo_server(connect_timeout=0.2)
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        await raw.connect()
        await raw.send("41")
        assert await raw.silent(0.4) == []
        await raw.connect()


async def test_polling_bad_packet_closes_the_session(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    server = echo_server()
    running = await serve(server)
    caplog.set_level(logging.INFO, LOGGER)
    async with httpx.AsyncClient(base_url=running.http_url, timeout=5) as http:
        eio = RawEngineIO(http, running.ws_url, "/socket.io/")
        sid = (await eio.handshake()).sid
        assert (await eio.post(sid, "40")).text == "ok"
        packets = await eio.receive_until(sid, lambda p: any(x.startswith("40{") for x in p))
        assert any(p.startswith('40{"sid":') for p in packets)
        bad = await eio.post(sid, "42{}")
        assert bad.status_code == 400
        assert logged(caplog, "malformed packet")
        await eventually(lambda: sid not in server.engine.sockets)
        # a second polling client is served as usual
        other = (await eio.handshake()).sid
        assert (await eio.post(other, "40" + SEP + '421["echo","p"]')).text == "ok"
        packets = await eio.receive_until(other, lambda p: '431["p"]' in p)
        assert packets[0].startswith('40{"sid":')


async def test_every_session_end_leaves_nothing_behind(serve: Serve) -> None:
    server = echo_server()
    pending: list[Any] = []

    @server.on("connection")
    def on_connection(socket: ServerSocket) -> None:
        socket.join(["room-a", "room-b"])
        socket.timeout(30).emit("question", callback=lambda *a: pending.append(a))
        socket.emit("question2", callback=lambda *a: pending.append(a))

    @server.of("/chat").on("connection")
    def on_chat(socket: ServerSocket) -> None:
        socket.join("chat-room")

    running = await serve(server)
    sockets: list[ServerSocket] = []
    for how in ("client disconnect", "transport close", "bad input", "server close"):
        async with raw_socketio(running.ws_url) as raw:
            await raw.connect()
            assert re.fullmatch(r'42\d+\["question"\]', str(await raw.recv()))
            assert re.fullmatch(r'42\d+\["question2"\]', str(await raw.recv()))
            await raw.connect("/chat")
            (socket,) = server.sockets.sockets.values()
            sockets.append(socket)
            assert socket.pending_acks == 2
            if how == "client disconnect":
                await raw.send("41", "41/chat,")
                await eventually(lambda: not server.sockets.sockets)
            elif how == "bad input":
                await raw.send("4{")
                await raw.closed()
            elif how == "server close":
                socket.disconnect(close=True)
                await raw.closed()
        await eventually(lambda: not server.engine.sockets)
        assert_clean(server)
    # no timer is left: the 30 s ack timeouts, the 45 s connect timeouts and the
    # 25 s heartbeats of the ended sessions were all cancelled
    loop = asyncio.get_running_loop()
    await asyncio.sleep(0.05)  # let cancelled tasks (the test client's) unwind
    far = [h for h in live_timers(loop) if h.when() - loop.time() > 15]
    assert far == []
    for socket in sockets:
        assert not socket.connected
        assert socket.pending_acks == 0
        assert len(socket.conn.tasks) == 0
        assert socket.conn.closed or not socket.conn.sockets
    # each session's timed ack callback heard that its socket went away (the untimed
    # one is dropped with the socket, as in JS), and nothing else was called
    assert len(pending) == 4
    assert all(len(a) == 1 and isinstance(a[0], DisconnectedError) for a in pending)


async def test_raw_client_helper_sees_server_frames(serve: Serve) -> None:
    """The helper itself: frames arrive in order, pings are answered, not recorded."""
    server = echo_server(ping_interval=0.05, ping_timeout=0.5)

    @server.on("connection")
    def on_connection(socket: ServerSocket) -> None:
        socket.emit("one")
        socket.emit("two")

    running = await serve(server)
    raw: RawSocketIO
    async with raw_socketio(running.ws_url) as raw:
        await raw.connect()
        assert await raw.recv() == '42["one"]'
        assert await raw.recv() == '42["two"]'
        assert await raw.silent(0.2) == []  # several pings went by, answered
        assert len(server.engine.sockets) == 1
