"""The native listener serves the same protocol as the ASGI path (real sockets, no ASGI)."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator

import httpx
import pytest
from tests.helpers.apps import RecordingEcho
from tests.helpers.eio import RawEngineIO, split_payload
from tests.helpers.node import run_node_script
from tests.helpers.servers import running_native

import plexio
from plexio.config import EngineOptions, Limits
from plexio.native.listener import NativeWebSocket, encode_data_frame
from plexio.server.engine import EngineServer


@pytest.fixture
async def echo() -> AsyncIterator[tuple[RawEngineIO, RecordingEcho, EngineServer]]:
    handler = RecordingEcho()
    options = EngineOptions(
        ping_interval=0.3, ping_timeout=0.2, limits=Limits(max_http_buffer_size=1000)
    )
    engine = EngineServer(handler, options, cors_allowed_origins="*")
    async with (
        running_native(engine) as running,
        httpx.AsyncClient(base_url=running.http_url) as h,
    ):
        yield RawEngineIO(h, running.ws_url), handler, engine


def test_data_frame_encoding() -> None:
    assert encode_data_frame("4hi") == b"\x81\x034hi"
    assert encode_data_frame(b"\x01") == b"\x82\x01\x01"
    assert encode_data_frame("x" * 200)[:4] == b"\x81\x7e\x00\xc8"
    assert encode_data_frame(b"y" * 70000)[:10] == b"\x82\x7f" + (70000).to_bytes(8, "big")


async def test_polling_handshake_and_echo(
    echo: tuple[RawEngineIO, RecordingEcho, EngineServer],
) -> None:
    eio, handler, _ = echo
    hs = await eio.handshake()
    assert set(hs.info) == {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}
    assert (hs.info["pingInterval"], hs.info["maxPayload"]) == (300, 1000)
    assert hs.response.headers["access-control-allow-origin"] == "*"
    await eio.assert_echoes(hs.sid)
    assert handler.connected == [hs.sid]


async def test_error_responses(echo: tuple[RawEngineIO, RecordingEcho, EngineServer]) -> None:
    eio, _, _ = echo
    bad = await eio.request("GET", {"EIO": "3", "transport": "polling"})
    assert (bad.status_code, bad.json()) == (
        400,
        {"code": 5, "message": "Unsupported protocol version"},
    )
    bad = await eio.request("GET", {"EIO": "4", "transport": "polling", "sid": "nope"})
    assert (bad.status_code, bad.json()["code"]) == (400, 1)
    other = await eio.http.get("/elsewhere")
    assert other.status_code == 404


async def test_oversized_post_is_refused_and_others_keep_working(
    echo: tuple[RawEngineIO, RecordingEcho, EngineServer],
) -> None:
    eio, handler, _ = echo
    hs = await eio.handshake()
    response = await eio.post(hs.sid, "4" + "x" * 2000)
    assert response.status_code == 413
    assert await handler.wait_disconnected(hs.sid) == "payload too large"
    await eio.assert_echoes()


async def test_websocket_session_and_heartbeat(
    echo: tuple[RawEngineIO, RecordingEcho, EngineServer],
) -> None:
    eio, handler, engine = echo
    async with eio.ws_connect() as ws:
        info = await eio.ws_handshake(ws)
        assert info["upgrades"] == []
        await ws.send("4hello")
        assert await eio.ws_recv(ws) == "4hello"
        await ws.send(b"\x00\x01")
        assert await eio.ws_recv(ws) == b"\x00\x01"
        for _ in range(3):  # several heartbeats
            assert await eio.ws_recv(ws) == "2"
            await ws.send("3")
        assert info["sid"] in engine.sockets
    assert await handler.wait_disconnected(info["sid"]) == "transport close"
    assert info["sid"] not in engine.sockets


async def test_websocket_ping_timeout(
    echo: tuple[RawEngineIO, RecordingEcho, EngineServer],
) -> None:
    eio, handler, _ = echo
    async with eio.ws_connect() as ws:
        info = await eio.ws_handshake(ws)
        assert await eio.ws_recv(ws) == "2"
        assert await handler.wait_disconnected(info["sid"], timeout=2) == "ping timeout"


async def test_upgrade(echo: tuple[RawEngineIO, RecordingEcho, EngineServer]) -> None:
    eio, _, engine = echo
    hs = await eio.handshake()
    pending = asyncio.create_task(eio.get(hs.sid))
    await asyncio.sleep(0.05)
    async with eio.ws_connect(hs.sid) as ws:
        await ws.send("2probe")
        assert await eio.ws_recv(ws) == "3probe"
        assert split_payload((await pending).text) == ["6"]
        await ws.send("5")
        await ws.send("4after")
        assert await eio.ws_recv(ws) == "4after"
        assert engine.sockets[hs.sid].transport == "websocket"
        late = await eio.get(hs.sid)
        assert late.status_code == 400


async def test_oversized_frame_closes_only_that_session(
    echo: tuple[RawEngineIO, RecordingEcho, EngineServer],
) -> None:
    eio, handler, _ = echo
    async with eio.ws_connect() as ws:
        info = await eio.ws_handshake(ws)
        await ws.send("4" + "x" * 5000)
        assert await handler.wait_disconnected(info["sid"]) == "payload too large"
    await eio.assert_echoes()


async def test_socketio_with_official_client_over_native() -> None:
    import re

    sio = plexio.Server()

    @sio.on("echo")
    async def _echo(sock: plexio.ServerSocket, data: object) -> object:
        return data

    commu = sio.of(re.compile(r"/socket/commu-\d+"))

    @commu.on("shout")
    def _shout(sock: plexio.ServerSocket, text: str) -> str:
        sock.broadcast.emit("heard", text)
        return "sent"

    async with running_native(sio) as running:
        port = running.port
        for transports in ("polling", "websocket", "polling,websocket"):
            result = await run_node_script(
                "native_check.js",
                env={"SERVER_URL": f"http://127.0.0.1:{port}", "TRANSPORTS": transports},
                timeout=20,
            )
            assert result[-1] == {
                "echo": {"x": [1, 2]},
                "binary": [5, 6],
                "big": 70000,
                "heard": "hi",
                "ack": "sent",
            }, result


def _client_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    mask = b"\x11\x22\x33\x44"
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    first = (0x80 if fin else 0) | opcode
    size = len(payload)
    if size < 126:
        head = bytes((first, 0x80 | size))
    elif size < 65536:
        head = bytes((first, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((first, 0x80 | 127)) + size.to_bytes(8, "big")
    return head + mask + masked


async def _raw_ws(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert b"101" in head and b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head
    return reader, writer


async def _read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    b0, b1 = await reader.readexactly(2)
    size = b1 & 0x7F
    if size == 126:
        size = int.from_bytes(await reader.readexactly(2), "big")
    elif size == 127:
        size = int.from_bytes(await reader.readexactly(8), "big")
    return b0 & 0x0F, await reader.readexactly(size)


async def test_frame_parsing_edge_cases_over_raw_tcp() -> None:
    handler = RecordingEcho()
    engine = EngineServer(handler, EngineOptions(limits=Limits(max_http_buffer_size=100_000)))
    async with running_native(engine) as running:
        port = running.port
        reader, writer = await _raw_ws(port)
        opcode, data = await _read_frame(reader)
        assert opcode == 1 and data.startswith(b"0{")
        # Two frames in one write, then one frame split across two writes.
        writer.write(_client_frame(1, b"4one") + _client_frame(2, b"\x01\x02"))
        frame = _client_frame(1, "4zwei€".encode())
        writer.write(frame[:5])
        await writer.drain()
        await asyncio.sleep(0.02)
        writer.write(frame[5:])
        assert await _read_frame(reader) == (1, b"4one")
        assert await _read_frame(reader) == (2, b"\x01\x02")
        assert await _read_frame(reader) == (1, "4zwei€".encode())
        # A fragmented text message with a ping between its fragments.
        writer.write(_client_frame(1, b"4fr", fin=False) + _client_frame(9, b"hb"))
        writer.write(_client_frame(0, b"ag", fin=False) + _client_frame(0, b"ment"))
        assert await _read_frame(reader) == (10, b"hb")  # the pong
        assert await _read_frame(reader) == (1, b"4fragment")
        # Frames with 16-bit and 64-bit lengths.
        writer.write(_client_frame(1, b"4" + b"m" * 300) + _client_frame(2, b"z" * 70_000))
        assert await _read_frame(reader) == (1, b"4" + b"m" * 300)
        assert await _read_frame(reader) == (2, b"z" * 70_000)
        # Invalid UTF-8 in a text frame closes with 1007.
        writer.write(_client_frame(1, b"4\xff\xfe"))
        opcode, data = await _read_frame(reader)
        assert opcode == 8 and int.from_bytes(data[:2], "big") == 1007
        writer.close()
        sid = handler.connected[0]
        await handler.wait_disconnected(sid)
        assert [m for _, m in handler.messages][:3] == ["one", b"\x01\x02", "zwei€"]


async def test_idle_websocket_keeps_no_http_parser_nor_websockets_protocol() -> None:
    """An idle WebSocket holds little in the listener: the HTTP parser is released at
    the upgrade, and its frame reader keeps no state until a frame needs it."""
    engine = EngineServer(RecordingEcho(), EngineOptions())
    count = 100
    async with running_native(engine) as running:
        port = running.port
        held = [await _raw_ws(port)]  # warm-up: caches, first allocations
        await _read_frame(held[0][0])
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot()
            for _ in range(count):
                reader, writer = await _raw_ws(port)
                assert (await _read_frame(reader))[0] == 1  # the OPEN packet
                held.append((reader, writer))
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        mine = [
            tracemalloc.Filter(True, "*plexio/native/*"),
            tracemalloc.Filter(True, "*websockets*"),
        ]
        grown = sum(
            s.size_diff
            for s in after.filter_traces(mine).compare_to(before.filter_traces(mine), "filename")
        )
        # The listener's own share of a connection: the connection and WebSocket
        # objects, the request (path, query, headers). It was ~3.8 KB with the httptools
        # parser and the websockets protocol kept for the connection's life, ~1.2 KB
        # with each request's strings of its own.
        assert grown / count < 1000, f"{grown / count:.0f} bytes per idle connection"
        # repeated strings are shared by the requests, unique ones are not
        first, second = (socket.request for socket in list(engine.sockets.values())[:2])
        assert first.headers["upgrade"] is second.headers["upgrade"]
        assert first.query["transport"] is second.query["transport"]
        assert first.query_string is second.query_string
        assert first.query == second.query  # parsed once, a dict of its own each
        assert first.query is not second.query
        assert first.path is second.path
        # A ping is answered, a close too.
        reader, writer = held[1]
        writer.write(_client_frame(9, b"hb"))
        assert await _read_frame(reader) == (10, b"hb")
        writer.write(_client_frame(8, (1000).to_bytes(2, "big")))
        opcode, _ = await _read_frame(reader)
        assert opcode == 8
        for _, closing in held:
            closing.close()


async def test_close_handshake_and_protocol_errors_over_raw_tcp() -> None:
    handler = RecordingEcho()
    engine = EngineServer(handler, EngineOptions())
    async with running_native(engine) as running:
        # The peer's close is echoed with its code, then the server ends the connection.
        reader, writer = await _raw_ws(running.port)
        assert (await _read_frame(reader))[0] == 1
        writer.write(_client_frame(8, (4001).to_bytes(2, "big") + b"bye"))
        assert await _read_frame(reader) == (8, (4001).to_bytes(2, "big"))
        assert await asyncio.wait_for(reader.read(), 5) == b""  # EOF from the server
        writer.close()
        # A reserved opcode ends the session with a protocol error and close code 1002.
        reader, writer = await _raw_ws(running.port)
        assert (await _read_frame(reader))[0] == 1
        writer.write(_client_frame(1, b"4before") + _client_frame(3, b"x"))
        opcode, data = await _read_frame(reader)
        assert opcode == 8 and int.from_bytes(data[:2], "big") == 1002
        sid = handler.connected[1]
        assert await handler.wait_disconnected(sid) == "protocol error"
        assert (sid, "before") in handler.messages  # what came before it was delivered
        writer.close()
        # An unmasked frame is refused the same way.
        reader, writer = await _raw_ws(running.port)
        assert (await _read_frame(reader))[0] == 1
        writer.write(b"\x81\x024a")
        opcode, data = await _read_frame(reader)
        assert opcode == 8 and int.from_bytes(data[:2], "big") == 1002
        writer.close()


async def test_websocket_write_reports_the_transport_backlog_and_paused_follows_it() -> None:
    """``NativeWebSocket.write`` answers with the transport's unsent bytes (the server's
    flush then asks nothing more), and ``paused`` follows the transport's high-water
    mark through the connection's ``pause_writing``/``resume_writing``."""
    engine = EngineServer(RecordingEcho(), EngineOptions())
    async with running_native(engine) as running:
        reader, writer = await _raw_ws(running.port)
        assert (await _read_frame(reader))[0] == 1  # the OPEN packet
        (socket,) = engine.sockets.values()
        sink = socket._sink  # white box: the listener's sink of this session
        assert isinstance(sink, NativeWebSocket)
        assert sink.paused is False
        assert sink.write(["4hello"]) == sink.buffered_size == 0
        assert await _read_frame(reader) == (1, b"4hello")
        conn = sink._conn
        drained: list[bool] = []
        sink.on_drain = lambda: drained.append(True)
        conn.pause_writing()
        assert sink.paused is True
        assert socket.writable is False
        conn.resume_writing()
        assert sink.paused is False
        assert drained == [True]
        # once closing, nothing more is written after the close frame
        sink.close(1000)
        assert sink.write(["4late"]) == sink.buffered_size
        assert (await _read_frame(reader))[0] == 8
        writer.write(_client_frame(8, (1000).to_bytes(2, "big")))
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
