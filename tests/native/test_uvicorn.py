"""plexio's WebSocket protocol for uvicorn: ASGI to any app, RFC 6455 on the wire.

A small ASGI app runs under uvicorn (in the test's loop) with ``ws=WebSocketProtocol``;
raw TCP clients send hand-built frames, so framing edge cases, the close handshake,
flow control and the handshake's refusals are seen byte for byte. The official
socket.io-client then runs the Socket.IO interop tests against plexio on it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import hashlib
import os
import ssl
import struct
import tracemalloc
import weakref
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.node import node_process, run_node_script
from tests.helpers.servers import RunningServer, running_uvicorn
from tests.interop import test_socketio_client as sio_interop
from tests.interop.test_socketio_client import (  # noqa: F401  (run here on this protocol)
    JsClient,
    test_binary_payloads_nested_both_ways,
    test_disconnect_reasons_on_both_sides,
    test_events_and_acks_both_ways,
    test_upgrade_keeps_every_event_in_order,
)
from tests.server.raw import eventually

import plexio
from plexio.native.uvicorn import WebSocketProtocol

Message = dict[str, Any]
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class EchoApp:
    """Accepts (with the first offered subprotocol and a header), echoes every message;
    ``"close"`` makes it close with 4000; ``"deny"``/``"respond"`` paths refuse."""

    def __init__(self) -> None:
        self.disconnects: list[Message] = []
        self.received: list[str | bytes] = []
        self.reading = asyncio.Event()
        self.reading.set()
        self.sent_bytes = 0
        self.flood: int = 0  # bytes to send at once after accepting
        self.go = asyncio.Event()
        self.errors: list[BaseException | None] = []
        self.finished = asyncio.Event()
        self.again: list[Message] = []

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        try:
            await self.serve(scope, receive, send)
        finally:
            self.finished.set()

    async def serve(self, scope: Message, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        assert (await receive())["type"] == "websocket.connect"
        path = scope["path"]
        if path == "/deny":
            await send({"type": "websocket.close"})
            return
        if path == "/respond":
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": 401,
                    "headers": [(b"x-why", b"token")],
                }
            )
            await send({"type": "websocket.http.response.body", "body": b"no ", "more_body": True})
            await send({"type": "websocket.http.response.body", "body": b"entry"})
            return
        if path == "/crash":
            raise RuntimeError("the app fails before accepting")
        if path == "/late":  # accepts only when told to (after a shutdown, say)
            await self.go.wait()
            try:
                await send({"type": "websocket.accept"})
            except Exception as exc:
                self.errors.append(exc)
            return
        offered = scope["subprotocols"]
        await send(
            {
                "type": "websocket.accept",
                "subprotocol": offered[0] if offered else None,
                "headers": [(b"x-app", b"yes")],
            }
        )
        if path == "/fail":
            raise RuntimeError("the app fails after accepting")
        if path == "/return":
            return
        if self.flood:
            chunk = b"z" * 65536
            while self.sent_bytes < self.flood:
                await send({"type": "websocket.send", "bytes": chunk})
                self.sent_bytes += len(chunk)
        while True:
            await self.reading.wait()
            message = await receive()
            if message["type"] == "websocket.disconnect":
                self.disconnects.append(message)
                # asking again answers at once, with the same message (no hang)
                self.again.append(await asyncio.wait_for(receive(), 1))
                return
            data = message.get("text")
            if data is None:
                data = message["bytes"]
            self.received.append(data)
            if data == "wait":  # until the peer has closed, then send anyway
                self.disconnects.append(await receive())
                for late in (
                    {"type": "websocket.send", "text": "late"},
                    {"type": "websocket.close"},
                ):
                    try:
                        await send(late)
                        self.errors.append(None)
                    except Exception as exc:
                        self.errors.append(exc)
                return
            if isinstance(data, str) and data.startswith("close:"):  # a code of the app's
                await send({"type": "websocket.close", "code": int(data[6:])})
                continue
            if data == "close":
                await send({"type": "websocket.close", "code": 4000, "reason": "bye"})
                self.disconnects.append(await receive())
                return
            if isinstance(data, str):
                await send({"type": "websocket.send", "text": data})
            else:
                await send({"type": "websocket.send", "bytes": data})


def frame(
    opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True, rsv1: bool = False
) -> bytes:
    """A client frame (masked unless told otherwise)."""
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    size = len(payload)
    if size < 126:
        head = bytes((first, (0x80 if mask else 0) | size))
    elif size < 65536:
        head = struct.pack("!BBH", first, (0x80 if mask else 0) | 126, size)
    else:
        head = struct.pack("!BBQ", first, (0x80 if mask else 0) | 127, size)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


#: Connections the raw clients opened, closed after each test.
_OPENED: list[asyncio.StreamWriter] = []


@pytest.fixture(autouse=True)
async def _close_raw_clients() -> AsyncIterator[None]:
    yield
    while _OPENED:
        writer = _OPENED.pop()
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def connect(running: RunningServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(running.host, running.port)
    _OPENED.append(writer)
    return reader, writer


class Raw:
    """A raw WebSocket client over asyncio streams."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def read_frame(self, timeout: float = 5.0) -> tuple[int, bytes, int]:
        """(opcode, payload, first byte) of the next server frame."""
        async with asyncio.timeout(timeout):
            b0, b1 = await self.reader.readexactly(2)
            assert b1 & 0x80 == 0, "server frames are not masked"
            size = b1 & 0x7F
            if size == 126:
                size = struct.unpack("!H", await self.reader.readexactly(2))[0]
            elif size == 127:
                size = struct.unpack("!Q", await self.reader.readexactly(8))[0]
            return b0 & 0x0F, await self.reader.readexactly(size), b0

    async def read_close(self) -> tuple[int, str]:
        opcode, payload, _ = await self.read_frame()
        assert opcode == 8
        if not payload:
            return 1005, ""
        return int.from_bytes(payload[:2], "big"), payload[2:].decode()

    async def at_eof(self, timeout: float = 5.0) -> bool:
        async with asyncio.timeout(timeout):
            return await self.reader.read(65536) == b""

    def send(self, data: bytes) -> None:
        self.writer.write(data)


async def handshake(
    running: RunningServer, path: str = "/", extra: str = "", version: str = "13"
) -> tuple[Raw, bytes, bytes]:
    """Opens a connection and sends an upgrade request; returns the response head."""
    reader, writer = await connect(running)
    key = base64.b64encode(os.urandom(16))
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: {version}\r\n"
            f"{extra}\r\n"
        ).encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    return Raw(reader, writer), head, key


@contextlib.asynccontextmanager
async def serving(app: Any, **config: Any) -> AsyncIterator[RunningServer]:
    config.setdefault("ws_ping_interval", None)
    async with running_uvicorn(app, ws=WebSocketProtocol, lifespan="off", **config) as running:
        yield running


@pytest.fixture
async def echo_server() -> AsyncIterator[tuple[RunningServer, EchoApp]]:
    app = EchoApp()
    async with serving(app, ws_max_size=1000) as running:
        yield running, app


async def opened(running: RunningServer, extra: str = "", path: str = "/chat") -> tuple[Raw, bytes]:
    raw, head, key = await handshake(running, path, extra)
    assert head.startswith(b"HTTP/1.1 101 ")
    fields = dict(
        (name.strip().lower(), value.strip())
        for name, _, value in (line.partition(b":") for line in head.split(b"\r\n")[1:] if line)
    )
    assert fields[b"sec-websocket-accept"] == base64.b64encode(hashlib.sha1(key + GUID).digest())
    assert fields[b"upgrade"].lower() == b"websocket"
    return raw, head


async def test_handshake_subprotocol_headers_and_echo(
    echo_server: tuple[RunningServer, EchoApp],
) -> None:
    running, app = echo_server
    raw, head = await opened(running, "Sec-WebSocket-Protocol: chat.v2, chat.v1\r\n")
    lowered = head.lower()
    assert b"sec-websocket-protocol: chat.v2\r\n" in lowered
    assert b"x-app: yes\r\n" in lowered and b"server: uvicorn\r\n" in lowered
    raw.send(frame(1, "héllo".encode()) + frame(2, b"\x00\x01"))
    assert (await raw.read_frame())[:2] == (1, "héllo".encode())
    assert (await raw.read_frame())[:2] == (2, b"\x00\x01")
    assert app.received == ["héllo", b"\x00\x01"]


async def test_fragments_with_a_ping_between_and_the_peers_close(
    echo_server: tuple[RunningServer, EchoApp],
) -> None:
    running, app = echo_server
    raw, _ = await opened(running)
    raw.send(frame(1, b"ab", fin=False) + frame(9, b"p!") + frame(0, b"cd", fin=False))
    raw.send(frame(0, b"ef"))
    assert (await raw.read_frame())[:2] == (10, b"p!")  # the pong, payload echoed
    assert (await raw.read_frame())[:2] == (1, b"abcdef")
    raw.send(frame(8, struct.pack("!H", 1000) + b"done"))
    assert await raw.read_close() == (1000, "")  # answered with its code
    assert await raw.at_eof()
    await eventually(
        lambda: (
            app.disconnects == [{"type": "websocket.disconnect", "code": 1000, "reason": "done"}]
        )
    )


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (frame(2, b"x" * 1001), 1009),  # over ws_max_size
        (frame(1, b"x" * 600, fin=False) + frame(0, b"y" * 600), 1009),  # the message is
        (frame(1, b"hi", mask=False), 1002),  # client frames must be masked
        (frame(1, b"\xff\xfe"), 1007),  # not UTF-8
        (frame(9, b"p" * 126), 1002),  # control frame over 125 bytes
        (frame(0, b"orphan"), 1002),  # continuation without a message
        (frame(2, b"x", rsv1=True), 1002),  # no extension negotiated
        (frame(3, b""), 1002),  # reserved opcode
        (frame(11, b""), 1002),  # reserved control opcode
        (bytes((0xA2,)) + frame(2, b"x")[1:], 1002),  # RSV2
        (bytes((0x92,)) + frame(2, b"x")[1:], 1002),  # RSV3
        (frame(9, b"p", fin=False), 1002),  # fragmented control frame
        (frame(1, b"a", fin=False) + frame(1, b"b"), 1002),  # new message mid-message
        (frame(1, b"a", fin=False) + frame(0, b"b", rsv1=True), 1002),  # RSV1, continuation
        (frame(1, "é".encode()[:1], fin=False) + frame(0, b"\xff"), 1007),  # split, bad
        (frame(8, b"\x03"), 1002),  # a close frame's 1-byte payload
        (frame(8, struct.pack("!H", 1005)), 1002),  # codes never sent on the wire
        (frame(8, struct.pack("!H", 1006)), 1002),
        (frame(8, struct.pack("!H", 1015)), 1002),
        (frame(8, struct.pack("!H", 999)), 1002),
        (frame(8, struct.pack("!H", 2999)), 1002),  # reserved range
        (frame(8, struct.pack("!H", 5000)), 1002),
        (frame(8, struct.pack("!H", 1000) + b"\xc3"), 1007),  # reason not UTF-8
        # a ping whose header says 500 bytes: refused from the header, not after them
        (bytes((0x89, 0xFE)) + struct.pack("!H", 500) + b"mask", 1002),
        # a 64-bit length with its top bit set (RFC 6455 section 5.2)
        (bytes((0x82, 0xFF)) + struct.pack("!Q", 1 << 63) + b"mask", 1002),
    ],
    ids=[
        "too-big",
        "too-big-fragmented",
        "unmasked",
        "not-utf8",
        "long-ping",
        "orphan-continuation",
        "rsv1",
        "reserved-opcode",
        "reserved-control-opcode",
        "rsv2",
        "rsv3",
        "fragmented-ping",
        "new-message-mid-message",
        "rsv1-continuation",
        "not-utf8-split",
        "close-1-byte",
        "close-1005",
        "close-1006",
        "close-1015",
        "close-999",
        "close-2999",
        "close-5000",
        "close-reason-not-utf8",
        "ping-header-over-125",
        "length-top-bit",
    ],
)
async def test_bad_input_closes_with_its_code(
    echo_server: tuple[RunningServer, EchoApp], data: bytes, code: int
) -> None:
    running, app = echo_server
    raw, _ = await opened(running)
    raw.send(data)
    assert (await raw.read_close())[0] == code
    assert await raw.at_eof()
    await eventually(lambda: [d["code"] for d in app.disconnects] == [code])


async def test_the_apps_close_waits_for_the_peers_answer(
    echo_server: tuple[RunningServer, EchoApp],
) -> None:
    running, app = echo_server
    raw, _ = await opened(running)
    raw.send(frame(1, b"close"))
    assert await raw.read_close() == (4000, "bye")
    await asyncio.sleep(0.1)
    assert not raw.reader.at_eof()  # still open: the server waits for our close
    raw.send(frame(8, struct.pack("!H", 4000)))
    assert await raw.at_eof()
    assert app.disconnects == [{"type": "websocket.disconnect", "code": 4000, "reason": "bye"}]


async def test_refusals_before_accepting() -> None:
    app = EchoApp()
    async with serving(app) as running:
        _, head, _ = await handshake(running, "/deny")
        assert head.startswith(b"HTTP/1.1 403 ")
        raw, head, _ = await handshake(running, "/respond")
        assert head.startswith(b"HTTP/1.1 401 ")
        assert b"x-why: token\r\n" in head.lower() and b"content-length: 8\r\n" in head.lower()
        assert await raw.reader.readexactly(8) == b"no entry"
        _, head, _ = await handshake(running, "/crash")
        assert head.startswith(b"HTTP/1.1 500 ")
        _, head, _ = await handshake(running, "/chat", version="8")
        assert head.startswith(b"HTTP/1.1 426 ") and b"sec-websocket-version: 13" in head.lower()
        reader, writer = await connect(running)
        writer.write(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).startswith(
            b"HTTP/1.1 400 "
        )


async def send_until_stalled(raw: Raw, data: bytes) -> int | None:
    """Sends ``data`` again and again until the server stops reading (nothing taken
    from a 1 MiB client buffer for 0.5 s): how many times it was sent, or ``None`` if the
    server kept reading. Bounded: at most 64 MB, 20 s."""
    written = 0
    stalled_since: float | None = None
    loop = asyncio.get_running_loop()
    end = loop.time() + 20
    while written * len(data) < 64 * 2**20 and loop.time() < end:
        if raw.writer.transport.get_write_buffer_size() > 2**20:
            if stalled_since is None:
                stalled_since = loop.time()
            elif loop.time() - stalled_since > 0.5:
                return written
            await asyncio.sleep(0.02)
            continue
        stalled_since = None
        raw.send(data)
        written += 1
    return None


async def test_reading_pauses_while_the_app_does_not_receive(
    echo_server: tuple[RunningServer, EchoApp],
) -> None:
    running, app = echo_server
    raw, _ = await opened(running)
    app.reading.clear()
    sock = raw.writer.get_extra_info("socket")
    message = frame(2, b"m" * 900)
    written = await send_until_stalled(raw, message)
    assert written is not None, "the server kept reading for an app that did not"
    assert written * len(message) < 32 * 2**20
    assert sock is not None
    app.reading.set()  # the app reads again: every message arrives, in order
    for _ in range(written):
        assert (await raw.read_frame(10))[:2] == (2, b"m" * 900)
    assert len(app.received) == written


async def test_send_waits_while_the_client_does_not_read() -> None:
    app = EchoApp()
    app.flood = 64 * 2**20
    async with serving(app) as running:
        raw, _ = await opened(running)
        await asyncio.sleep(0.5)
        held = app.sent_bytes
        assert held < 32 * 2**20, "send did not wait for the write buffer to drain"
        got = 0
        while got < app.flood:
            opcode, payload, _ = await raw.read_frame(10)
            assert opcode == 2
            got += len(payload)
        assert got == app.sent_bytes == app.flood


async def test_permessage_deflate_both_ways() -> None:
    app = EchoApp()
    async with serving(app) as running:
        raw, head = await opened(
            running, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        )
        assert b"sec-websocket-extensions: permessage-deflate" in head.lower()
        text = ("compress me " * 100).encode()
        encoder = zlib.compressobj(wbits=-15)
        body = encoder.compress(text) + encoder.flush(zlib.Z_SYNC_FLUSH)
        raw.send(frame(1, body[:-4], rsv1=True))
        opcode, payload, first = await raw.read_frame()
        assert opcode == 1 and first & 0x40  # compressed
        assert len(payload) < len(text)
        assert zlib.decompressobj(wbits=-15).decompress(payload + b"\x00\x00\xff\xff") == text
        assert app.received == [text.decode()]


async def test_keepalive_closes_a_silent_peer_and_keeps_one_that_answers() -> None:
    app = EchoApp()
    async with serving(app, ws_ping_interval=0.1, ws_ping_timeout=0.2) as running:
        silent, _ = await opened(running)
        alive, _ = await opened(running)
        for _ in range(3):
            opcode, payload, _ = await alive.read_frame()
            assert opcode == 9 and len(payload) == 4
            alive.send(frame(10, payload))
        assert (await silent.read_frame())[0] == 9
        assert (await silent.read_close())[0] == 1011
        alive.send(frame(1, b"still here"))
        while (got := await alive.read_frame())[0] == 9:
            alive.send(frame(10, got[1]))
        assert got[:2] == (1, b"still here")


async def test_server_shutdown_closes_with_1012() -> None:
    app = EchoApp()
    async with serving(app) as running:
        raw, _ = await opened(running)
    assert await raw.read_close() == (1012, "")
    await eventually(lambda: [d["code"] for d in app.disconnects] == [1012])


async def test_permessage_deflate_with_the_official_client() -> None:
    sio = plexio.Server(per_message_deflate=True)

    @sio.on("data")
    def data(socket: plexio.ServerSocket, size: int) -> None:
        socket.emit("data", "x" * size)

    @sio.on("plain")
    def plain(socket: plexio.ServerSocket, size: int) -> None:
        socket.compress(False).emit("data", "x" * size)  # no such flag in ASGI

    async with serving(plexio.ASGIApp(sio), ws_per_message_deflate=True) as running:
        env = {"SERVER_URL": running.http_url, "TRANSPORT": "websocket"}
        lines = await run_node_script("compression_client.js", env=env, timeout=60)
    assert "permessage-deflate" in lines[0]["extensions"]
    got = {line["name"]: line for line in lines if line.get("event") == "got"}
    assert got["data"]["intact"] and got["plain"]["intact"]
    assert got["data"]["bytes_read"] < 500  # 5,000 characters arrived compressed
    assert got["plain"]["bytes_read"] < 500  # under ASGI the server compresses every message


# The official socket.io-client against plexio on this protocol: the interop tests of
# tests/interop/test_socketio_client.py imported above run with this fixture.


@pytest.fixture
async def start() -> AsyncIterator[Any]:
    async with contextlib.AsyncExitStack() as stack:

        async def run(server: plexio.Server) -> tuple[plexio.Server, JsClient]:
            running = await stack.enter_async_context(serving(plexio.ASGIApp(server)))
            proc = await stack.enter_async_context(
                node_process(sio_interop.SCRIPT, env={"SERVER_URL": running.http_url}, timeout=90)
            )
            return server, JsClient(proc)

        yield run


# A hostile review: lifecycle, flow control and resources at the edge.


class Tracked(WebSocketProtocol):
    """The protocol, remembering its instances (weakly) for the test to reach."""

    made: list[weakref.ref[WebSocketProtocol]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        Tracked.made.append(weakref.ref(self))
        super().connection_made(transport)


@pytest.fixture
async def tracked_server() -> AsyncIterator[tuple[RunningServer, EchoApp]]:
    Tracked.made.clear()
    app = EchoApp()
    async with running_uvicorn(
        app, ws=Tracked, lifespan="off", ws_ping_interval=None, ws_max_size=1000
    ) as running:
        yield running, app


@pytest.mark.parametrize(("path", "code"), [("/fail", 1011), ("/return", 1000)])
async def test_an_app_that_ends_after_accepting_closes_the_websocket(
    echo_server: tuple[RunningServer, EchoApp], path: str, code: int
) -> None:
    running, _ = echo_server
    raw, _ = await opened(running, path=path)
    assert (await raw.read_close())[0] == code  # not a bare TCP close (1006 to the peer)
    assert await raw.at_eof()


async def test_a_client_lost_mid_message_is_one_disconnect_with_1006(
    echo_server: tuple[RunningServer, EchoApp],
) -> None:
    running, app = echo_server
    raw, _ = await opened(running)
    raw.send(frame(2, b"x" * 100)[:50])  # half a frame, then the TCP connection goes
    await asyncio.sleep(0.05)
    raw.writer.transport.abort()
    await asyncio.wait_for(app.finished.wait(), 5)
    await asyncio.sleep(0.05)
    assert app.disconnects == [{"type": "websocket.disconnect", "code": 1006, "reason": ""}]
    assert app.again == app.disconnects


@pytest.mark.parametrize("code", [1005, 1006, 1015, 999, 2999, 5000])
async def test_an_invalid_close_code_from_the_app_never_reaches_the_wire(
    echo_server: tuple[RunningServer, EchoApp], code: int
) -> None:
    running, app = echo_server
    raw, _ = await opened(running)
    raw.send(frame(1, f"close:{code}".encode()))
    assert (await raw.read_close())[0] == 1011  # the app's error, not its bad code
    await asyncio.wait_for(app.finished.wait(), 5)


class ShortClose(WebSocketProtocol):
    close_timeout = 0.3


async def test_the_apps_close_gives_up_on_a_peer_that_does_not_answer() -> None:
    app = EchoApp()
    async with running_uvicorn(
        app, ws=ShortClose, lifespan="off", ws_ping_interval=None
    ) as running:
        raw, _ = await opened(running)
        raw.send(frame(1, b"close"))
        assert await raw.read_close() == (4000, "bye")
        assert await raw.at_eof(timeout=3)  # after close_timeout, without the answer
        await asyncio.wait_for(app.finished.wait(), 5)


async def test_sending_after_the_peers_close_is_a_closed_connection(
    echo_server: tuple[RunningServer, EchoApp],
) -> None:
    running, app = echo_server
    raw, _ = await opened(running)
    raw.send(frame(1, b"wait"))
    await asyncio.sleep(0.05)
    raw.send(frame(8, struct.pack("!H", 1001)))
    assert await raw.read_close() == (1001, "")
    await asyncio.wait_for(app.finished.wait(), 5)
    assert [d["code"] for d in app.disconnects] == [1001]
    sent, closed = app.errors
    assert isinstance(sent, OSError), sent  # ASGI: an OSError, not "after websocket.close"
    assert closed is None  # closing what the peer closed is no error


async def test_shutdown_while_the_app_decides_answers_500_and_its_accept_fails_quietly(
    tracked_server: tuple[RunningServer, EchoApp],
) -> None:
    running, app = tracked_server
    raw, head, _ = await handshake_after(running, "/late")
    assert head.startswith(b"HTTP/1.1 500 ")
    app.go.set()
    await asyncio.wait_for(app.finished.wait(), 5)
    assert len(app.errors) == 1 and isinstance(app.errors[0], OSError), app.errors


async def handshake_after(running: RunningServer, path: str) -> tuple[Raw, bytes, bytes]:
    """A handshake during which the server shuts the (only) connection down."""
    reader, writer = await connect(running)
    key = base64.b64encode(os.urandom(16))
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await eventually(lambda: bool(Tracked.made))
    protocol = Tracked.made[0]()
    assert protocol is not None
    await eventually(lambda: protocol.scope.get("path") == path)
    protocol.shutdown()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    return Raw(reader, writer), head, key


async def test_a_pending_send_ends_when_the_connection_is_lost() -> None:
    app = EchoApp()
    app.flood = 256 * 2**20
    async with serving(app) as running:
        raw, _ = await opened(running)
        await asyncio.sleep(0.3)  # the app's send waits for the buffer to drain
        assert not app.finished.is_set()
        raw.writer.transport.abort()
        await asyncio.wait_for(app.finished.wait(), 5)  # ClientDisconnected, not a hang
        assert app.sent_bytes < app.flood


async def test_reading_pauses_while_the_peer_pings_and_reads_no_pong(
    echo_server: tuple[RunningServer, EchoApp],
) -> None:
    running, _ = echo_server
    raw, _ = await opened(running)
    ping = frame(9, b"p" * 125)
    sent = await send_until_stalled(raw, ping * 64)
    assert sent is not None, "the server kept buffering pongs nobody read"
    written = sent * 64
    assert written * len(ping) < 32 * 2**20
    for _ in range(written):  # every ping is answered once the client reads
        opcode, payload, _ = await raw.read_frame(10)
        assert (opcode, payload) == (10, b"p" * 125)


async def test_many_connections_leave_no_task_or_protocol_behind(
    tracked_server: tuple[RunningServer, EchoApp],
) -> None:
    running, _ = tracked_server

    async def once(i: int) -> None:
        raw, _ = await opened(running)
        raw.send(frame(1, b"hi"))
        assert (await raw.read_frame())[:2] == (1, b"hi")
        if i % 2:
            raw.send(frame(8, struct.pack("!H", 1000)))
            assert await raw.read_close() == (1000, "")
            assert await raw.at_eof()
        raw.writer.close()
        _OPENED.remove(raw.writer)

    await once(0)
    await asyncio.sleep(0.2)
    tasks = len(asyncio.all_tasks())
    for i in range(200):
        await once(i)
    await eventually(lambda: len(asyncio.all_tasks()) <= tasks)
    await asyncio.sleep(0.2)
    gc.collect()
    assert len(Tracked.made) == 201
    assert [ref for ref in Tracked.made if ref() is not None] == []


async def test_a_small_deflated_message_that_inflates_past_the_limit_is_refused() -> None:
    app = EchoApp()
    async with serving(app, ws_max_size=1000) as running:
        raw, _ = await opened(running, "Sec-WebSocket-Extensions: permessage-deflate\r\n")
        encoder = zlib.compressobj(9, zlib.DEFLATED, -12)
        body = encoder.compress(b"\0" * 2**19) + encoder.flush(zlib.Z_SYNC_FLUSH)
        assert len(body) < 1000  # the frame itself is under ws_max_size
        raw.send(frame(2, body[:-4], rsv1=True))
        assert (await raw.read_close())[0] == 1009
        await eventually(lambda: [d["code"] for d in app.disconnects] == [1009])


class ScopeApp:
    """Keeps the scope of each WebSocket; sets lifespan state."""

    def __init__(self) -> None:
        self.scopes: list[Message] = []

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    scope["state"]["db"] = "ready"
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        self.scopes.append(scope)
        await receive()
        if scope["path"] != "/tls":
            await send({"type": "websocket.close"})
            return
        await send({"type": "websocket.accept"})  # echoes until the peer closes
        while (message := await receive())["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": message["text"]})


async def test_the_scope_the_app_sees() -> None:
    app = ScopeApp()
    async with running_uvicorn(
        app, ws=WebSocketProtocol, lifespan="on", root_path="/api", ws_ping_interval=None
    ) as running:
        _, head, _ = await handshake(
            running,
            "/a%20b/c?x=1&y=%20",
            "Sec-WebSocket-Protocol: one, two,\r\nSec-WebSocket-Protocol: three\r\n"
            "Sec-WebSocket-Protocol:\r\n"
            "X-Mixed-Case: V\r\n",
        )
        assert head.startswith(b"HTTP/1.1 403 ")
        # header names in any case, Connection with several tokens
        reader, writer = await connect(running)
        writer.write(
            b"GET /x HTTP/1.1\r\nHOST: x\r\nUPGRADE: WebSocket\r\n"
            b"CONNECTION: keep-alive, Upgrade\r\n"
            b"SEC-WEBSOCKET-KEY: " + base64.b64encode(os.urandom(16)) + b"\r\n"
            b"SEC-WEBSOCKET-VERSION: 13\r\n\r\n"
        )
        assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).startswith(
            b"HTTP/1.1 403 "
        )
    scope = app.scopes[0]
    assert scope["type"] == "websocket" and scope["scheme"] == "ws"
    assert scope["root_path"] == "/api"
    assert scope["path"] == "/api/a b/c"
    assert scope["raw_path"] == b"/api/a%20b/c"
    assert scope["query_string"] == b"x=1&y=%20"
    assert scope["subprotocols"] == ["one", "two", "three"]
    assert (b"x-mixed-case", b"V") in scope["headers"]
    assert scope["client"][0] == "127.0.0.1" and scope["server"] == ("127.0.0.1", running.port)
    assert scope["state"] == {"db": "ready"}
    assert scope["extensions"] == {"websocket.http.response": {}}
    assert app.scopes[1]["path"] == "/api/x"


async def test_handshakes_that_are_not_websocket_handshakes() -> None:
    app = EchoApp()
    async with serving(app) as running:
        for request in (
            b"POST /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + base64.b64encode(os.urandom(16)) + b"\r\n"
            b"Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n",
            b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n",  # no key
            b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + base64.b64encode(os.urandom(16)) + b"\r\n"
            b"Sec-WebSocket-Key: " + base64.b64encode(os.urandom(16)) + b"\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n",  # two keys
        ):
            reader, writer = await connect(running)
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.1 400 "), (request, head)
    assert app.received == [] and app.disconnects == []


async def test_tls_is_wss_in_the_scope_and_frames_go_through(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    app = ScopeApp()
    trust = ssl.create_default_context(cafile=str(cert))
    async with running_uvicorn(
        app,
        ws=WebSocketProtocol,
        lifespan="off",
        ws_ping_interval=None,
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
    ) as running:
        reader, writer = await asyncio.open_connection(running.host, running.port, ssl=trust)
        _OPENED.append(writer)
        writer.write(
            b"GET /tls HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + base64.b64encode(os.urandom(16)) + b"\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101 ")
        raw = Raw(reader, writer)
        raw.send(frame(1, "über TLS".encode()))
        assert (await raw.read_frame())[:2] == (1, "über TLS".encode())
        raw.send(frame(8, struct.pack("!H", 1000)))
        assert await raw.read_close() == (1000, "")
    assert app.scopes[0]["scheme"] == "wss"


@pytest.mark.parametrize("how", ["peer-close", "keepalive-timeout"])
async def test_a_connection_ends_even_when_the_peer_reads_nothing(how: str) -> None:
    # The app's send waits for a write buffer the peer never drains; the connection is
    # ending (the peer's close, or no pong): closing the transport would wait for the
    # buffer forever, so it is aborted after close_timeout and the send fails.
    app = EchoApp()
    app.flood = 64 * 2**20
    config: dict[str, Any] = {"ws_ping_interval": None}
    if how == "keepalive-timeout":
        config = {"ws_ping_interval": 0.2, "ws_ping_timeout": 0.2}
    async with running_uvicorn(app, ws=ShortClose, lifespan="off", **config) as running:
        raw, _ = await opened(running)
        await asyncio.sleep(0.3)
        assert not app.finished.is_set()  # waiting to send
        if how == "peer-close":
            raw.send(frame(8, struct.pack("!H", 1000)))
        await asyncio.wait_for(app.finished.wait(), 5)
        assert app.sent_bytes < app.flood


async def test_a_read_of_deflate_bombs_is_not_inflated_whole_for_an_app_that_waits() -> None:
    # 1 MiB of zeros deflates to ~1 KB: one 256 KiB read of such frames would be
    # ~250 MiB of messages at once; it is inflated ws_max_size at a time, as the app
    # takes them, and every message still arrives, in order.
    app = EchoApp()
    app.reading.clear()
    size = 2**20
    async with serving(app, ws_max_size=size) as running:
        raw, _ = await opened(running, "Sec-WebSocket-Extensions: permessage-deflate\r\n")
        encoder = zlib.compressobj(9, zlib.DEFLATED, -12)
        body = encoder.compress(b"\0" * size) + encoder.flush(zlib.Z_SYNC_FLUSH)
        bomb = frame(2, body[:-4], rsv1=True)
        count = 200
        tracemalloc.start()
        try:
            raw.send(bomb * count)
            await asyncio.sleep(1.0)
            held = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        assert held < 32 * size, f"{held >> 20} MiB held for an app that does not receive"
        app.reading.set()
        for _ in range(count):
            opcode, payload, _ = await raw.read_frame(20)
            assert opcode == 2
        await eventually(lambda: len(app.received) == count, timeout=20)
        assert all(message == b"\0" * size for message in app.received)
