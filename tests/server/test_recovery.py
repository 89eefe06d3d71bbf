"""Connection state recovery, frame by frame (``Server(connection_state_recovery=...)``).

A raw WebSocket client (``tests/server/raw.py``) plays the official JS client's part:
it keeps the ``pid`` of the CONNECT reply and the last argument of each event (the
offset), drops its transport, and reconnects with ``{pid, offset}`` in its auth.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import plexio
from plexio.exceptions import ConnectRefusedError
from plexio.server.adapters.memory import InMemoryAdapter
from plexio.server.recovery import RecoveryOptions
from plexio.server.socket import ServerSocket
from tests.server.conftest import Serve
from tests.server.raw import RawSocketIO, eventually, raw_socketio


def recovering_server(**options: Any) -> plexio.Server:
    return plexio.Server(connection_state_recovery=RecoveryOptions(**options))


async def event(raw: RawSocketIO) -> list[Any]:
    """The next frame, which must be a plain EVENT of ``/``; its JSON array."""
    data: list[Any] = await raw.recv_json("42")
    return data


async def hello(raw: RawSocketIO, auth: dict[str, Any] | None = None) -> dict[str, Any]:
    """Joins ``/`` and returns the whole CONNECT reply."""
    await raw.send("40" + (json.dumps(auth) if auth is not None else ""))
    reply: dict[str, Any] = await raw.recv_json("40")
    return reply


async def gone(server: plexio.Server) -> None:
    """Waits until ``/`` has no socket left (the dropped transport was noticed)."""
    await eventually(lambda: not server.sockets.sockets)


# ---------------------------------------------------------------- off / on


async def test_off_by_default_nothing_changes(serve: Serve) -> None:
    server = plexio.Server()
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        reply = await hello(raw, {"pid": "x", "offset": "y"})
        assert list(reply) == ["sid"]
        (socket,) = server.sockets.sockets.values()
        assert socket.pid is None and not socket.recovered
        assert socket.handshake.auth == {"pid": "x", "offset": "y"}  # untouched when off
        server.emit("news", 1)
        socket.emit("direct", 2)
        assert await event(raw) == ["news", 1]
        assert await event(raw) == ["direct", 2]
    assert server.sockets.adapter.buffered_packets() == []


async def test_reply_has_pid_and_events_get_offsets(serve: Serve) -> None:
    server = recovering_server()
    running = await serve(server)
    async with raw_socketio(running.ws_url) as one, raw_socketio(running.ws_url) as two:
        first = await hello(one)
        second = await hello(two)
        assert set(first) == {"sid", "pid"} and set(second) == {"sid", "pid"}
        assert first["pid"] != second["pid"] and first["pid"] != first["sid"]
        socket = server.sockets.sockets[first["sid"]]
        assert socket.pid == first["pid"] and not socket.recovered

        server.emit("news", {"a": 1})
        got_one, got_two = await event(one), await event(two)
        assert got_one[:2] == ["news", {"a": 1}] and len(got_one) == 3
        assert got_one == got_two  # one packet, encoded once, for both
        assert isinstance(got_one[2], str)

        socket.emit("direct", "x")  # a plain emit is kept by the adapter as well
        direct = await event(one)
        assert direct[:2] == ["direct", "x"] and len(direct) == 3
        assert direct[2] != got_one[2]
        assert await two.silent(0.1) == []  # the socket's own room only


async def test_binary_event_gets_an_offset(serve: Serve) -> None:
    server = recovering_server()
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        await hello(raw)
        server.emit("blob", b"\x01\x02")
        head = await raw.recv()
        assert isinstance(head, str) and head.startswith("451-")
        data = json.loads(head[len("451-") :])
        assert data[:2] == ["blob", {"_placeholder": True, "num": 0}]
        assert len(data) == 3 and isinstance(data[2], str)
        assert await raw.recv() == b"\x01\x02"


# ---------------------------------------------------------------- recovery


async def test_dropped_transport_is_recovered_with_missed_events(serve: Serve) -> None:
    server = recovering_server()
    middleware_calls: list[str] = []
    connections: list[ServerSocket] = []
    reasons: list[str] = []

    @server.use
    def middleware(socket: ServerSocket) -> None:
        middleware_calls.append(socket.id)

    @server.on("connection")
    def on_connection(socket: ServerSocket) -> None:
        connections.append(socket)
        if not socket.recovered:
            socket.join("news")
            socket.data["user"] = "ada"

    @server.on("disconnect")
    def on_disconnect(socket: ServerSocket, reason: str) -> None:
        reasons.append(reason)

    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        first = await hello(raw, {"token": "t"})
        server.to("news").emit("e", 1)
        offset = (await event(raw))[-1]
    await gone(server)
    assert reasons == ["transport close"]

    server.to("news").emit("e", 2)
    server.emit("e", 3)
    server.to(first["sid"]).emit("e", 4)  # its own room
    server.to("elsewhere").emit("not for it")
    server.except_("news").emit("not for it either")
    server.volatile.emit("volatile, never kept")
    assert await server.timeout(1).emit_with_ack("with ack, never kept") == []

    async with raw_socketio(running.ws_url) as raw:
        reply = await hello(raw, {"pid": first["pid"], "offset": offset, "token": "t"})
        assert reply == first  # same sid, same pid
        missed = [await event(raw) for _ in range(3)]
        assert [m[:2] for m in missed] == [["e", 2], ["e", 3], ["e", 4]]
        assert len({m[2] for m in missed}) == 3
        assert await raw.silent(0.1) == []  # nothing else: exactly once, in order

        (socket,) = server.sockets.sockets.values()
        assert socket.recovered and socket.id == first["sid"]
        assert socket.rooms == {first["sid"], "news"}
        assert socket.data == {"user": "ada"}
        assert socket.handshake.auth == {"token": "t"}  # pid/offset are the client's own
        assert len(middleware_calls) == 1  # skipped on recovery
        assert connections[-1] is socket and len(connections) == 2

        server.to("news").emit("e", 5)  # live again, still in its rooms
        assert (await event(raw))[:2] == ["e", 5]


async def test_a_session_is_recovered_once(serve: Serve) -> None:
    server = recovering_server()
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        first = await hello(raw)
        server.emit("e", 1)
        offset = (await event(raw))[-1]
    await gone(server)
    async with raw_socketio(running.ws_url) as raw:
        assert (await hello(raw, {"pid": first["pid"], "offset": offset}))["sid"] == first["sid"]
    await gone(server)
    # the second drop kept a new session; the first one cannot be used twice meanwhile
    async with raw_socketio(running.ws_url) as raw, raw_socketio(running.ws_url) as other:
        assert (await hello(raw, {"pid": first["pid"], "offset": offset}))["sid"] == first["sid"]
        again = await hello(other, {"pid": first["pid"], "offset": offset})
        assert again["sid"] != first["sid"] and again["pid"] != first["pid"]


@pytest.mark.parametrize(
    "auth",
    [
        {"pid": "no-such-pid", "offset": "?"},
        {"pid": "PID", "offset": "no-such-offset"},
        {"pid": "PID", "offset": 7},
        {"pid": "PID"},
    ],
    ids=["unknown pid", "unknown offset", "offset not a string", "no offset"],
)
async def test_no_recovery_without_a_kept_session_and_offset(
    serve: Serve, auth: dict[str, Any]
) -> None:
    server = recovering_server()
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        first = await hello(raw)
        server.emit("e", 1)
        await event(raw)
    await gone(server)
    auth = {k: first["pid"] if v == "PID" else v for k, v in auth.items()}
    async with raw_socketio(running.ws_url) as raw:
        reply = await hello(raw, auth)
        assert reply["sid"] != first["sid"] and reply["pid"] != first["pid"]
        (socket,) = server.sockets.sockets.values()
        assert not socket.recovered
        assert socket.handshake.auth == {}
        assert await raw.silent(0.1) == []


async def test_no_recovery_after_expiry(serve: Serve) -> None:
    server = recovering_server(max_disconnection_duration=0.2)
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        first = await hello(raw)
        server.emit("e", 1)
        offset = (await event(raw))[-1]
    await gone(server)
    adapter = server.sockets.adapter
    assert first["pid"] in adapter.kept_sessions()
    await asyncio.sleep(0.3)  # past the duration
    async with raw_socketio(running.ws_url) as raw:
        reply = await hello(raw, {"pid": first["pid"], "offset": offset})
        assert reply["sid"] != first["sid"]
        assert not server.sockets.sockets[reply["sid"]].recovered
    assert first["pid"] not in adapter.kept_sessions()


@pytest.mark.parametrize("how", ["client namespace disconnect", "server namespace disconnect"])
async def test_no_session_kept_after_a_deliberate_disconnect(serve: Serve, how: str) -> None:
    server = recovering_server()
    reasons: list[str] = []

    @server.on("disconnect")
    def on_disconnect(socket: ServerSocket, reason: str) -> None:
        reasons.append(reason)

    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        first = await hello(raw)
        server.emit("e", 1)
        offset = (await event(raw))[-1]
        if how == "client namespace disconnect":
            await raw.send("41")
        else:
            server.sockets.sockets[first["sid"]].disconnect()
            assert await raw.recv() == "41"
        await gone(server)
        assert reasons == [how]
        assert server.sockets.adapter.kept_sessions() == []
        reply = await hello(raw, {"pid": first["pid"], "offset": offset})
        assert reply["sid"] != first["sid"]
        assert not server.sockets.sockets[reply["sid"]].recovered


async def test_volatile_and_acked_emits_are_not_kept(serve: Serve) -> None:
    server = recovering_server()
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        first = await hello(raw)
        socket = server.sockets.sockets[first["sid"]]
        server.emit("kept", 0)
        offset = (await event(raw))[-1]
        server.volatile.emit("v", 1)
        assert await event(raw) == ["v", 1]
        socket.volatile.emit("v", 2)
        assert await event(raw) == ["v", 2]
        socket.emit("asks", 3, callback=lambda *a: None)
        frame = await raw.recv()
        assert isinstance(frame, str)
        assert frame.startswith("42") and frame.endswith('["asks",3]')
        timed = asyncio.create_task(socket.timeout(5).emit_with_ack("asks", 4))
        frame = await raw.recv()
        assert isinstance(frame, str) and frame.endswith('["asks",4]')
        await raw.send("43" + frame[2:].split("[")[0] + '["ok"]')
        assert await timed == "ok"
        assert len(server.sockets.adapter.buffered_packets()) == 1  # only "kept"
    await gone(server)
    server.volatile.emit("v", 5)
    async with raw_socketio(running.ws_url) as raw:
        reply = await hello(raw, {"pid": first["pid"], "offset": offset})
        assert reply["sid"] == first["sid"]
        assert await raw.silent(0.1) == []


async def test_the_buffer_is_bounded(serve: Serve) -> None:
    server = recovering_server(max_buffered_packets=3)
    adapter = server.sockets.adapter
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        first = await hello(raw)
        server.emit("e", 0)
        offset = (await event(raw))[-1]
    await gone(server)
    for n in range(1, 3):
        server.emit("e", n)
    assert len(adapter.buffered_packets()) == 3
    async with raw_socketio(running.ws_url) as raw:
        # the offset is still buffered: recovered
        assert (await hello(raw, {"pid": first["pid"], "offset": offset}))["sid"] == first["sid"]
        assert [(await event(raw))[1] for _ in range(2)] == [1, 2]
        server.emit("e", 3)
        offset = (await event(raw))[-1]
    await gone(server)
    for n in range(4, 8):
        server.emit("e", n)
    assert len(adapter.buffered_packets()) == 3
    async with raw_socketio(running.ws_url) as raw:
        # the offset fell out of the buffer: a fresh connection
        reply = await hello(raw, {"pid": first["pid"], "offset": offset})
        assert reply["sid"] != first["sid"]


async def test_sessions_are_bounded(serve: Serve) -> None:
    server = recovering_server(max_sessions=1)
    running = await serve(server)
    replies = []
    for _ in range(2):
        async with raw_socketio(running.ws_url) as raw:
            replies.append(await hello(raw))
        await gone(server)
    assert server.sockets.adapter.kept_sessions() == [replies[1]["pid"]]


async def test_middlewares_run_on_recovery_when_not_skipped(serve: Serve) -> None:
    server = recovering_server(skip_middlewares=False)
    seen: list[tuple[str, bool, dict[str, Any]]] = []

    @server.use
    def middleware(socket: ServerSocket) -> None:
        seen.append((socket.id, socket.recovered, dict(socket.data)))
        if socket.handshake.auth.get("refuse"):
            raise ConnectRefusedError("no")

    @server.on("connection")
    def on_connection(socket: ServerSocket) -> None:
        socket.data["n"] = socket.data.get("n", 0) + 1

    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        first = await hello(raw)
        server.emit("e", 1)
        offset = (await event(raw))[-1]
    await gone(server)
    async with raw_socketio(running.ws_url) as raw:
        reply = await hello(raw, {"pid": first["pid"], "offset": offset})
        assert reply == first
    assert seen == [(first["sid"], False, {}), (first["sid"], True, {"n": 1})]
    await gone(server)
    async with raw_socketio(running.ws_url) as raw:
        await raw.send("40" + json.dumps({"pid": first["pid"], "offset": offset, "refuse": 1}))
        assert (await raw.recv_json("44"))["message"] == "no"


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="max_disconnection_duration"):
        RecoveryOptions(max_disconnection_duration=0)
    with pytest.raises(ValueError, match="max_buffered_packets"):
        RecoveryOptions(max_buffered_packets=0)
    with pytest.raises(ValueError, match="max_sessions"):
        RecoveryOptions(max_sessions=0)


async def test_each_namespace_recovers_on_its_own(serve: Serve) -> None:
    server = recovering_server()
    chat = server.of("/chat")

    @chat.on("connection")
    def on_chat(socket: ServerSocket) -> None:
        if not socket.recovered:
            socket.join("lobby")

    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        await raw.send("40/chat,")
        first = await raw.recv_json("40/chat,")
        assert set(first) == {"sid", "pid"}
        chat.to("lobby").emit("hi", 1)
        data = await raw.recv_json("42/chat,")
        offset = data[-1]
    await eventually(lambda: not chat.sockets)
    chat.to("lobby").emit("hi", 2)
    server.emit("main only", 3)  # another namespace, another buffer
    async with raw_socketio(running.ws_url) as raw:
        await raw.send("40/chat," + json.dumps({"pid": first["pid"], "offset": offset}))
        assert await raw.recv_json("40/chat,") == first
        assert (await raw.recv_json("42/chat,"))[:2] == ["hi", 2]
        assert await raw.silent(0.1) == []
        # the main namespace kept nothing of it: a CONNECT there with its pid is fresh
        reply = await hello(raw, {"pid": first["pid"], "offset": offset})
        assert reply["sid"] != first["sid"]


async def test_a_ping_timeout_keeps_the_session(serve: Serve) -> None:
    server = plexio.Server(
        connection_state_recovery=RecoveryOptions(), ping_interval=0.2, ping_timeout=0.2
    )
    reasons: list[str] = []

    @server.on("disconnect")
    def on_disconnect(socket: ServerSocket, reason: str) -> None:
        reasons.append(reason)

    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        first = await hello(raw)
        server.emit("e", 1)
        offset = (await event(raw))[-1]
        await gone(server)  # nobody answers the pings now
    assert reasons == ["ping timeout"]
    server.emit("e", 2)
    async with raw_socketio(running.ws_url) as raw:
        assert await hello(raw, {"pid": first["pid"], "offset": offset}) == first
        assert (await event(raw))[:2] == ["e", 2]


async def test_a_unicast_is_kept_without_going_through_adapter_broadcast(serve: Serve) -> None:
    broadcasts: list[Any] = []

    class Watching(InMemoryAdapter):
        def broadcast(self, packet: Any, opts: Any) -> None:
            broadcasts.append(packet)
            super().broadcast(packet, opts)

    server = plexio.Server(adapter=Watching, connection_state_recovery=RecoveryOptions())
    running = await serve(server)
    async with raw_socketio(running.ws_url) as raw:
        reply = await hello(raw)
        socket = server.sockets.sockets[reply["sid"]]
        socket.emit("direct", 1)
        direct = await event(raw)
        assert direct[:2] == ["direct", 1] and isinstance(direct[2], str)
        assert broadcasts == []  # a unicast leaves through the socket's own connection
        (kept,) = server.sockets.adapter.buffered_packets()
        assert kept[0] == direct[2] and kept[2].rooms == {socket.id}
