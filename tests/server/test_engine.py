"""plexio.server.engine as the Socket.IO server drives it: polling, upgrade, heartbeat.

Engine.IO on its own is covered by ``tests/asgi`` and the engine.io-client interop;
here Socket.IO packets ride on it by hand (httpx for polling, ``websockets`` for the
upgrade), checking that nothing is lost, duplicated or reordered across an upgrade
and that binary attachments travel as ``b<base64>`` records on polling.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx

import plexio
from plexio.server.socket import ServerSocket
from tests.helpers.eio import SEP, RawEngineIO, split_payload
from tests.server.conftest import Serve
from tests.server.raw import assert_clean, eventually


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


async def test_polling_binary_events_both_ways(serve: Serve) -> None:
    server = plexio.Server()
    got: list[Any] = []

    @server.on("up")
    def up(socket: ServerSocket, blob: bytes) -> bytes:
        got.append(blob)
        return blob[::-1]

    running = await serve(server)
    async with httpx.AsyncClient(base_url=running.http_url, timeout=5) as http:
        eio = RawEngineIO(http, running.ws_url, "/socket.io/")
        sid = (await eio.handshake()).sid
        body = SEP.join(
            ["40", '451-3["up",{"_placeholder":true,"num":0}]', "b" + b64(b"\x01\x02\x03")]
        )
        assert (await eio.post(sid, body)).text == "ok"
        packets = await eio.receive_until(sid, lambda p: any(x.startswith("b") for x in p))
        assert packets[0].startswith('40{"sid":')
        assert packets[1:] == ['461-3[{"_placeholder":true,"num":0}]', "b" + b64(b"\x03\x02\x01")]
        assert got == [b"\x01\x02\x03"]


async def test_upgrade_keeps_socketio_traffic_in_order(serve: Serve) -> None:
    server = plexio.Server(ping_interval=5, ping_timeout=5)
    seen: list[int] = []
    server.on("n", lambda socket, n: seen.append(n))
    running = await serve(server)
    async with httpx.AsyncClient(base_url=running.http_url, timeout=5) as http:
        eio = RawEngineIO(http, running.ws_url, "/socket.io/")
        sid = (await eio.handshake()).sid
        await eio.post(sid, "40")
        packets = await eio.receive_until(sid, lambda p: any(x.startswith("40") for x in p))
        (socket,) = server.sockets.sockets.values()
        socket.emit("before", 1)
        assert (await eio.get(sid)).text == '42["before",1]'
        async with eio.ws_connect(sid) as ws:
            pending_get = asyncio.ensure_future(eio.get(sid))
            await ws.send("2probe")
            assert await eio.ws_recv(ws) == "3probe"
            # events emitted while the upgrade is in flight wait for the new transport
            socket.emit("during", 2)
            socket.emit("bin", b"\xaa")
            assert (await pending_get).text == "6"  # the held GET is released with a noop
            await eio.post(sid, '42["n",1]')
            await ws.send("5")
            await ws.send('42["n",2]')
            frames = [await eio.ws_recv(ws) for _ in range(3)]
            assert frames == [
                '42["during",2]',
                '451-["bin",{"_placeholder":true,"num":0}]',
                b"\xaa",
            ]
            await eventually(lambda: socket.transport == "websocket")
            socket.emit("after", 3)
            assert await eio.ws_recv(ws) == '42["after",3]'
            await eventually(lambda: seen == [1, 2])
            # polling is over for this session
            assert (await eio.get(sid)).status_code == 400
        await eventually(lambda: not server.engine.sockets)
        assert_clean(server)
        assert packets


async def test_polling_client_that_stops_polling_times_out(serve: Serve) -> None:
    server = plexio.Server(ping_interval=0.1, ping_timeout=0.1)
    reasons: list[str] = []
    server.on("disconnect", lambda socket, reason: reasons.append(reason))
    running = await serve(server)
    async with httpx.AsyncClient(base_url=running.http_url, timeout=5) as http:
        eio = RawEngineIO(http, running.ws_url, "/socket.io/")
        sid = (await eio.handshake()).sid
        await eio.post(sid, "40")
        await eio.receive_until(sid, lambda p: any(x.startswith("40") for x in p))
        await eventually(lambda: reasons == ["ping timeout"])
        assert sid not in server.engine.sockets
        assert_clean(server)


async def test_polling_multiplexes_namespaces_in_one_payload(serve: Serve) -> None:
    server = plexio.Server()
    server.of("/a").on("who", lambda socket: "a")
    server.of("/b").on("who", lambda socket: "b")
    running = await serve(server)
    async with httpx.AsyncClient(base_url=running.http_url, timeout=5) as http:
        eio = RawEngineIO(http, running.ws_url, "/socket.io/")
        sid = (await eio.handshake()).sid
        body = SEP.join(["40/a,", "40/b,", '42/a,1["who"]', '42/b,2["who"]'])
        assert (await eio.post(sid, body)).text == "ok"
        packets = await eio.receive_until(sid, lambda p: len(p) >= 4)
        assert [p[:5] for p in packets[:2]] == ["40/a,", "40/b,"]
        assert packets[2:] == ['43/a,1["a"]', '43/b,2["b"]']
        assert split_payload(SEP.join(packets)) == packets
        engine_socket = server.engine.sockets[sid]
        assert set(engine_socket.state.sockets) == {"/a", "/b"}


async def test_close_after_delivery_waits_for_the_next_get_then_closes_at_once() -> None:
    """The close is announced by the socket when the client's next GET arrives (no
    timer polling the socket's state); the grace is only a backstop."""
    from plexio.enums import DisconnectReason
    from plexio.server.engine import EngineServer, EngineSocket
    from plexio.transports.base import HttpRequest

    reasons: list[str] = []

    class Recorder:
        async def on_connect(self, socket: EngineSocket) -> None:
            pass

        def on_message(self, socket: EngineSocket, data: str | bytes) -> None:
            pass

        def on_disconnect(self, socket: EngineSocket, reason: str) -> None:
            reasons.append(reason)

    async def no_body(limit: int) -> bytes | None:
        return b""

    def get(**query: str) -> HttpRequest:
        return HttpRequest("GET", "/engine.io/", {"EIO": "4", "transport": "polling", **query}, {})

    engine = EngineServer(Recorder())
    opened = await engine.handle_request(get(), no_body)
    sid = opened.body.decode().split('"sid":"')[1].split('"')[0]
    socket = engine.sockets[sid]
    socket.send("bye")
    socket.close_after_delivery(DisconnectReason.FORCED_CLOSE, grace=60)
    assert not socket.closed  # "bye" is still queued
    first = await engine.handle_request(get(sid=sid), no_body)
    assert first.body == b"4bye" and not socket.closed  # no GET held yet for the close
    second = await asyncio.wait_for(engine.handle_request(get(sid=sid), no_body), 5)
    assert second.body == b"1" and socket.closed
    assert reasons == ["forced close"]


async def test_close_after_delivery_over_websocket_closes_once_flushed() -> None:
    from plexio.enums import DisconnectReason
    from plexio.server.engine import EngineServer
    from plexio.transports.base import HttpRequest
    from tests.helpers.sinks import RecordingSink

    class Quiet:
        async def on_connect(self, socket: object) -> None:
            pass

        def on_message(self, socket: object, data: str | bytes) -> None:
            pass

        def on_disconnect(self, socket: object, reason: str) -> None:
            pass

    engine = EngineServer(Quiet())
    sink = RecordingSink()
    request = HttpRequest("GET", "/engine.io/", {"EIO": "4", "transport": "websocket"}, {})
    socket = await engine.open_websocket(request, sink)
    socket.flush()
    sink.paused = True
    socket.send("bye")
    socket.close_after_delivery(DisconnectReason.FORCED_CLOSE, grace=60)
    socket.flush()
    assert not socket.closed  # the sink is backed up: "bye" has not left
    sink.paused = False
    socket.flush()
    assert socket.closed
    await asyncio.sleep(0)  # the close frame leaves with the server's next flush
    assert sink.frames[-2:] == ["4bye", "1"]
