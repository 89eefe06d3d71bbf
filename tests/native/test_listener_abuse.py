"""The native listener under hostile clients: oversized bodies, slowloris, bad frames."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal

import httpx
import pytest
from tests.helpers.apps import RecordingEcho
from tests.helpers.eio import RawEngineIO
from tests.helpers.servers import running_native
from tests.helpers.wsframes import client_frame
from tests.server.raw import eventually

from plexio.config import EngineOptions, Limits
from plexio.native import serve
from plexio.server.engine import EngineServer

#: Which HTTP parser the listener uses in this module's tests (both are checked).
_PARSER: list[Literal["httptools", "h11"]] = ["httptools"]


@pytest.fixture(autouse=True, params=["httptools", "h11"])
def http_parser(request: pytest.FixtureRequest) -> Iterator[None]:
    _PARSER[0] = request.param
    yield
    _PARSER[0] = "httptools"


@contextlib.asynccontextmanager
async def served(
    **options: object,
) -> AsyncIterator[tuple[int, RawEngineIO, RecordingEcho]]:
    handler = RecordingEcho()
    opts = EngineOptions(limits=Limits(max_http_buffer_size=10_000), **options)  # type: ignore[arg-type]
    engine = EngineServer(handler, opts)
    async with (
        running_native(engine, http=_PARSER[0]) as running,
        httpx.AsyncClient(base_url=running.http_url) as h,
    ):
        yield running.port, RawEngineIO(h, running.ws_url), handler


async def _read_until_eof(reader: asyncio.StreamReader) -> bytes:
    chunks = []
    with contextlib.suppress(ConnectionError):
        while chunk := await reader.read(65536):
            chunks.append(chunk)
    return b"".join(chunks)


async def test_post_announcing_a_huge_body_is_refused_from_its_headers() -> None:
    async with served() as (port, eio, handler):
        hs = await eio.handshake()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"POST /engine.io/?EIO=4&transport=polling&sid={hs.sid} HTTP/1.1\r\n"
            f"Host: x\r\nContent-Length: {100 * 1024 * 1024}\r\n\r\n".encode()
            + b"4" * 8192
        )
        # The answer comes without the body: the client never sends the other 100 MiB.
        answer = await asyncio.wait_for(_read_until_eof(reader), 10)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:100]
        assert answer.endswith(b'{"code":3,"message":"Payload too large"}')
        assert await handler.wait_disconnected(hs.sid) == "payload too large"
        await eio.assert_echoes()


async def test_post_counted_over_the_limit_is_refused_before_its_end() -> None:
    async with served() as (port, eio, handler):
        hs = await eio.handshake()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"POST /engine.io/?EIO=4&transport=polling&sid={hs.sid} HTTP/1.1\r\n"
            "Host: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
            + b"3000\r\n"
            + b"4" * 0x3000
            + b"\r\n"
        )
        answer = await asyncio.wait_for(_read_until_eof(reader), 10)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:100]
        assert await handler.wait_disconnected(hs.sid) == "payload too large"


async def test_oversized_body_elsewhere_is_refused_too() -> None:
    async with served() as (port, _, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /other HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\nxx")
        answer = await asyncio.wait_for(_read_until_eof(reader), 10)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 413 ")


async def test_connection_sending_no_complete_request_is_closed() -> None:
    async with served(handshake_timeout=0.2) as (port, eio, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n")
        assert await asyncio.wait_for(_read_until_eof(reader), 10) == b""
        writer.close()
        idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(_read_until_eof(idle_reader), 10) == b""
        idle_writer.close()
        await eio.assert_echoes()


async def test_idle_keep_alive_connection_is_closed() -> None:
    async with served(handshake_timeout=0.2) as (port, _, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = await asyncio.wait_for(_read_until_eof(reader), 10)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 404 ")


async def test_held_get_is_not_timed_out() -> None:
    async with served(handshake_timeout=0.1, ping_interval=0.6) as (_, eio, handler):
        hs = await eio.handshake()
        response = await eio.get(hs.sid)  # held until the ping, past handshake_timeout
        assert response.text == "2"
        assert handler.disconnected == []


async def test_too_many_connections_without_a_request_drop_the_oldest() -> None:
    async with served(max_pending_connections=3) as (port, eio, _):
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
        await asyncio.sleep(0.05)
        newcomer = await asyncio.open_connection("127.0.0.1", port)
        first_reader, _ = idle[0]
        assert await asyncio.wait_for(_read_until_eof(first_reader), 10) == b""
        # The others are still open, and a client completing its request is served.
        await eio.assert_echoes()
        for _, writer in [*idle, newcomer]:
            writer.close()


async def test_oversized_frame_ends_the_session_with_its_reason_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="plexio")
    async with served() as (_, eio, handler):
        async with eio.ws_connect() as ws:
            info = await eio.ws_handshake(ws)
            await ws.send("4" + "x" * 20_000)
            assert await handler.wait_disconnected(info["sid"]) == "payload too large"
        assert f"session {info['sid']} closed: payload too large" in caplog.text
        await eio.assert_echoes()


@pytest.mark.parametrize(
    ("frame", "detail"),
    [("9nine", "unknown packet type '9'"), ("", "empty packet"), ("0{}", "unexpected OPEN")],
)
async def test_engineio_parse_errors_are_logged(
    caplog: pytest.LogCaptureFixture, frame: str, detail: str
) -> None:
    caplog.set_level(logging.INFO, logger="plexio")
    async with served() as (_, eio, handler):
        async with eio.ws_connect() as ws:
            info = await eio.ws_handshake(ws)
            await ws.send(frame)
            assert await handler.wait_disconnected(info["sid"]) == "parse error"
        assert f"session {info['sid']} closed: parse error ({detail}" in caplog.text


async def test_bad_base64_in_a_polling_body_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="plexio")
    async with served() as (_, eio, handler):
        hs = await eio.handshake()
        response = await eio.post(hs.sid, "b!!not base64")
        assert response.status_code == 400
        assert await handler.wait_disconnected(hs.sid) == "parse error"
        assert "closed: parse error (invalid base64" in caplog.text


async def _raw_ws(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    await reader.readuntil(b"\r\n\r\n")
    return reader, writer


async def test_a_reader_that_stops_is_dropped_and_its_connection_aborted() -> None:
    handler = RecordingEcho()
    options = EngineOptions(
        max_buffered_bytes=20_000, max_buffered_bytes_hard=100_000, close_timeout=0.2
    )
    engine = EngineServer(handler, options)
    async with running_native(engine, http=_PARSER[0]) as running, httpx.AsyncClient() as http:
        port = running.port
        eio = RawEngineIO(http, f"ws://127.0.0.1:{port}")
        reader, writer = await _raw_ws(port)  # this client never reads
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        async with eio.ws_connect() as ws:
            await eio.ws_handshake(ws)
            while len(handler.connected) < 2:
                await asyncio.sleep(0.01)
            slow_sid, healthy_sid = handler.connected
            received: list[str | bytes] = []

            async def read_healthy() -> None:
                while len(received) < 1000:
                    received.append(await eio.ws_recv(ws))

            reading = asyncio.create_task(read_healthy())
            sockets = [engine.sockets[slow_sid], engine.sockets[healthy_sid]]
            for n in range(1000):
                for sock in sockets:
                    sock.send(f"{n}:" + "x" * 10_000)
                await asyncio.sleep(0)  # let the server flush (one write per tick)
            assert await handler.wait_disconnected(slow_sid) == "slow client"
            await asyncio.wait_for(reading, 10)
            assert received == [f"4{n}:" + "x" * 10_000 for n in range(1000)]
            assert handler.reason_for(healthy_sid) is None
        # close_timeout after the drop, the server gave up on the unread bytes and reset
        # the connection (a graceful close would wait for this reader for ever).
        await asyncio.sleep(0.5)
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(_read_until_eof_or_reset(reader), 10)
        writer.close()


async def _read_until_eof_or_reset(reader: asyncio.StreamReader) -> None:
    while await reader.read(65536):
        pass


async def test_a_flooder_is_closed_and_only_the_flooder() -> None:
    from plexio.config import RateLimit

    async with served(rate_limit=RateLimit(packets_per_second=50, bytes_per_second=100_000)) as (
        _,
        eio,
        handler,
    ):
        async with eio.ws_connect() as calm, eio.ws_connect() as flood:
            calm_sid = (await eio.ws_handshake(calm))["sid"]
            flood_sid = (await eio.ws_handshake(flood))["sid"]
            for n in range(500):
                await flood.send(f"4flood{n}")
            assert await handler.wait_disconnected(flood_sid) == "rate limited"
            await calm.send("4still here")
            assert await eio.ws_recv(calm) == "4still here"
            assert handler.reason_for(calm_sid) is None


async def test_handlers_in_flight_limit_stops_reading_that_client_only() -> None:
    from tests.server.raw import eventually, raw_socketio

    import plexio

    sio = plexio.Server(max_handlers_in_flight=2)
    release = asyncio.Event()
    started: list[int] = []

    @sio.on("work")
    async def work(sock: plexio.ServerSocket, n: int) -> int:
        started.append(n)
        await release.wait()
        return n

    loop = asyncio.get_running_loop()
    ready: asyncio.Future[int] = loop.create_future()
    task = loop.create_task(serve(sio, "127.0.0.1", 0, ready=ready.set_result, http=_PARSER[0]))
    try:
        port = await asyncio.wait_for(ready, 5)
        root = f"ws://127.0.0.1:{port}"
        async with raw_socketio(root) as busy, raw_socketio(root) as other:
            await busy.connect()
            await other.connect()
            for n in range(6):
                await busy.send(f'42{n}["work",{n}]')
            await eventually(lambda: len(started) == 2)
            await other.send('429["work",9]')
            await eventually(lambda: 9 in started)
            await asyncio.sleep(0.1)
            assert sorted(started) == [0, 1, 9]
            release.set()
            acks = sorted([await busy.recv() for _ in range(6)])
            assert acks == sorted(f"43{n}[{n}]" for n in range(6))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class _Sizes:
    """An EngineHandler that keeps only the length of each message it gets; with
    ``pause_at``, it pauses the socket's input at that message for ``pause_for`` s,
    counting what arrives meanwhile."""

    def __init__(self, pause_at: int | None = None, pause_for: float = 0.3) -> None:
        self.sizes: list[int] = []
        self.pause_at = pause_at
        self.pause_for = pause_for
        self.paused = False
        self.while_paused = 0

    async def on_connect(self, socket: object) -> None:
        pass

    def on_message(self, socket: Any, data: str | bytes) -> None:
        self.sizes.append(len(data))
        if self.paused:
            self.while_paused += 1
        if len(self.sizes) == self.pause_at:
            self.paused = True
            socket.pause_input()
            asyncio.get_running_loop().call_later(self.pause_for, self._resume, socket)

    def _resume(self, socket: Any) -> None:
        self.paused = False
        socket.resume_input()

    def on_disconnect(self, socket: object, reason: object) -> None:
        pass


@pytest.mark.parametrize("pause_at", [None, 10])
async def test_a_read_of_deflate_bombs_is_inflated_max_size_at_a_time(
    pause_at: int | None,
) -> None:
    # 1 MiB of one letter deflates to ~1 KB: one read of 200 such frames would be 200 MiB
    # of messages at once. The listener inflates max_http_buffer_size of a read at a
    # time, hands those on, and reads the rest in a later pass; every message arrives.
    # While the Engine.IO socket pauses its input (backpressure), the rest waits.
    size = 2**20
    handler = _Sizes(pause_at)
    engine = EngineServer(
        handler,  # type: ignore[arg-type]
        EngineOptions(limits=Limits(max_http_buffer_size=size), per_message_deflate=True),
    )
    async with running_native(engine, http=_PARSER[0]) as running:
        reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
        writer.write(
            b"GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert b"101" in head and b"permessage-deflate" in head
        encoder = zlib.compressobj(9, zlib.DEFLATED, -15)
        body = encoder.compress(b"4" + b"a" * (size - 1)) + encoder.flush(zlib.Z_SYNC_FLUSH)
        bomb = client_frame(1, body[:-4], rsv=0x40)  # RFC 7692: without the 00 00 ff ff
        count = 200
        tracemalloc.start()
        try:
            writer.write(bomb * count)
            await eventually(lambda: len(handler.sizes) == count, timeout=60)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        writer.close()
    assert handler.sizes == [size - 1] * count
    assert handler.while_paused == 0
    assert peak < 16 * size, f"{peak >> 20} MiB at the peak for {count} bombs of {len(bomb)} B"
