"""Fuzz targets for every decoder plexio runs on untrusted input.

One input drives one target, picked by its first byte:

0. an Engine.IO frame (text, or binary when the next byte is odd) — ``decode_frame``;
1. an Engine.IO polling body — ``decode_payload`` under the default ``Limits``;
2. Socket.IO messages for the JSON and msgpack parsers, binary attachments included
   (:mod:`fuzz.socketio_parser`, which also checks that decoded packets round-trip);
3. bytes arriving on a native-listener connection — the HTTP request line, headers and
   body through the real ``HttpConnection`` (httptools or h11 by the next byte), the
   URL and query handling, the Engine.IO request handling behind it.

Invariant: the decoders raise nothing but :class:`~plexio.exceptions.DecodeError`
(the documented decode error), and the connection raises nothing at all (bad HTTP is
answered 400 and closed). Anything else is a bug; the input that found it is printed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fuzz.socketio_parser import test_one_input as socketio_input
from plexio.config import Limits
from plexio.engineio.packets import decode_frame
from plexio.engineio.payload import decode_payload
from plexio.exceptions import DecodeError
from plexio.native.listener import HttpConnection, _Listener
from plexio.server.engine import EngineServer, EngineSocket

__all__ = ["SEEDS", "http_input", "one_input"]

_LIMITS = Limits()

SEEDS: list[bytes] = [
    b"\x00\x004hello",
    b"\x00\x002probe",
    b'\x00\x000{"sid":"x","upgrades":[],"pingInterval":1,"pingTimeout":1,"maxPayload":1}',
    b"\x00\x01\x01\x02\x03",
    b"\x014hello\x1e4world\x1ebAQID\x1e2\x1e3",
    b"\x01bAAAA\x1e6",
    b"\x01" + b"4x\x1e" * 20,
    b'\x02\x002["message-back",1,"2",{"3":[true]}]',
    b'\x02\x0052-["m",{"_placeholder":true,"num":0}]\xffb\x01\x02',
    b"\x02\x01b\x84\xa4type\x02\xa4data\x92\xa5hello\x01\xa3nsp\xa1/\xa2id\x03",
    b"\x03\x00GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n",
    b"\x03\x01POST /engine.io/?EIO=4&transport=polling&sid=abc HTTP/1.1\r\nHost: x\r\n"
    b"Content-Length: 5\r\n\r\n4helo",
    b"\x03\x00GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
    b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    b"\x03\x01POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"\x03\x00OPTIONS /engine.io/ HTTP/1.1\r\nOrigin: http://a\r\n\r\nGET / HTTP/1.0\r\n\r\n",
]


def _engineio_frame(data: bytes) -> None:
    frame: str | bytes = (
        data[1:] if data[:1] and data[0] & 1 else data[1:].decode("utf-8", "replace")
    )
    try:
        decode_frame(frame)
    except DecodeError:
        pass


def _engineio_payload(data: bytes) -> None:
    try:
        decode_payload(data.decode("utf-8", "replace"), _LIMITS)
    except DecodeError:
        pass


class _Quiet:
    async def on_connect(self, socket: EngineSocket[None]) -> None:
        pass

    def on_message(self, socket: EngineSocket[None], data: str | bytes) -> None:
        socket.send(data)

    def on_disconnect(self, socket: EngineSocket[None], reason: str) -> None:
        pass


class _Transport:
    """Takes what the connection writes; the connection runs for real on top of it."""

    def __init__(self) -> None:
        self.written = 0
        self.closing = False

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def close(self) -> None:
        self.closing = True

    abort = close

    def is_closing(self) -> bool:
        return self.closing

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default


class _HttpHarness:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.engine = EngineServer(_Quiet())
        self.listeners = {
            name: self.loop.run_until_complete(self._listener(name))
            for name in ("httptools", "h11")
        }

    async def _listener(self, parser: Any) -> _Listener:
        return _Listener(self.engine, "/engine.io/", parser, "http")

    def feed(self, data: bytes) -> None:
        parser = "h11" if data[:1] and data[0] & 1 else "httptools"
        self.loop.run_until_complete(self._feed(self.listeners[parser], data[1:]))

    async def _feed(self, listener: _Listener, data: bytes) -> None:
        conn = HttpConnection(listener)
        conn.connection_made(_Transport())  # type: ignore[arg-type]
        third = max(1, len(data) // 3)
        for chunk in (data[:third], data[third : 2 * third], data[2 * third :]):
            if chunk:
                conn.data_received(chunk)
                await asyncio.sleep(0)
        await asyncio.sleep(0)
        conn.connection_lost(None)
        for socket in list(self.engine.sockets.values()):
            socket.close()
            self.engine.forget(socket)
        for _ in range(3):
            await asyncio.sleep(0)

    def close(self) -> None:
        self.loop.close()


_harness: _HttpHarness | None = None
_fed = 0


def http_input(data: bytes) -> None:
    """Feeds ``data`` (first byte: the parser) to a native-listener connection."""
    global _harness, _fed
    if _harness is None or _fed >= 5000:
        # a fresh loop now and then: refused connections leave linger timers behind
        if _harness is not None:
            _harness.close()
        _harness = _HttpHarness()
        _fed = 0
    _fed += 1
    _harness.feed(data)


def one_input(data: bytes) -> None:
    """One fuzz input: the first byte picks the target (see the module docstring)."""
    if not data:
        return
    target = data[0] % 4
    rest = data[1:]
    if target == 0:
        _engineio_frame(rest)
    elif target == 1:
        _engineio_payload(rest)
    elif target == 2:
        socketio_input(rest)
    else:
        http_input(rest)
