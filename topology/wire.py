"""A counting Engine.IO v4 / Socket.IO v5 client: WebSocket and HTTP long-polling.

We speak the protocols ourselves so every byte the client writes to or reads from its
TCP sockets is counted (HTTP headers and WebSocket framing included; TCP/IP headers
and the TCP handshake are not). The WebSocket side drives ``websockets``' sans-I/O
``ClientProtocol`` over asyncio streams without compression (like the server, which
offers none). The polling side is a minimal HTTP/1.1 keep-alive client with two
connections, as browsers use: one for the held GET, one for POSTs.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, fields
from typing import Any, Protocol

import orjson
from websockets.client import ClientProtocol
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

__all__ = [
    "PollingTransport",
    "ProtocolError",
    "SioPacket",
    "Traffic",
    "Transport",
    "WebSocketTransport",
    "decode_packet",
    "encode_connect",
    "encode_event",
    "make_transport",
]

ENGINE_PATH = "/socket.io/"
#: Largest HTTP response header block / body the polling client accepts.
MAX_HTTP_HEADER = 64 * 1024
MAX_HTTP_BODY = 16 * 1024 * 1024


class ProtocolError(Exception):
    """The server answered something this client does not expect."""


@dataclass(slots=True)
class Traffic:
    """What one client sent and received.

    Attributes:
        bytes_tx: bytes written to TCP sockets (HTTP and WebSocket framing included).
        bytes_rx: bytes read from TCP sockets.
        frames_tx: WebSocket frames sent (WebSocket) or HTTP requests sent (polling).
        frames_rx: WebSocket frames received, or HTTP responses received.
        http_requests: HTTP requests (the upgrade request counts over WebSocket).
        packets_tx: Socket.IO packets sent.
        packets_rx: Socket.IO packets received.
        tcp_connections: TCP connections opened.
        round_trips: sequential request/response waits on the critical path to ready.
    """

    bytes_tx: int = 0
    bytes_rx: int = 0
    frames_tx: int = 0
    frames_rx: int = 0
    http_requests: int = 0
    packets_tx: int = 0
    packets_rx: int = 0
    tcp_connections: int = 0
    round_trips: int = 0

    def copy(self) -> Traffic:
        """A snapshot."""
        return Traffic(**{f.name: getattr(self, f.name) for f in fields(self)})

    def add(self, other: Traffic) -> None:
        """Adds ``other`` into this one."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def minus(self, other: Traffic) -> Traffic:
        """The difference ``self - other``."""
        return Traffic(
            **{f.name: getattr(self, f.name) - getattr(other, f.name) for f in fields(self)}
        )

    def as_dict(self) -> dict[str, int]:
        """The counters as a JSON object."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


# ------------------------------------------------------------------ Socket.IO codec


@dataclass(frozen=True, slots=True)
class SioPacket:
    """A decoded Socket.IO packet (text only: this client never sends binary).

    Attributes:
        type: 0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR.
        namespace: the namespace (``"/"`` when absent).
        ack_id: the ack id, if any.
        data: the decoded JSON payload, or ``None``.
    """

    type: int
    namespace: str
    ack_id: int | None
    data: Any


def _prefix(namespace: str) -> str:
    return "" if namespace == "/" else namespace + ","


def encode_connect(namespace: str, auth: dict[str, Any]) -> str:
    """A CONNECT packet (without the Engine.IO ``4``)."""
    return "0" + _prefix(namespace) + orjson.dumps(auth).decode()


def encode_event(namespace: str, args: list[Any], ack_id: int | None = None) -> str:
    """An EVENT packet (without the Engine.IO ``4``)."""
    ack = "" if ack_id is None else str(ack_id)
    return "2" + _prefix(namespace) + ack + orjson.dumps(args).decode()


def decode_packet(text: str) -> SioPacket:
    """Decodes one Socket.IO text packet (without the Engine.IO ``4``).

    Raises:
        ProtocolError: not a packet this client understands.
    """
    if not text or not text[0].isdigit():
        raise ProtocolError(f"bad Socket.IO packet {text[:40]!r}")
    kind = int(text[0])
    i = 1
    namespace = "/"
    if i < len(text) and text[i] == "/":
        comma = text.find(",", i)
        end = len(text) if comma < 0 else comma
        namespace = text[i:end]
        i = end + 1 if comma >= 0 else end
    start = i
    while i < len(text) and text[i].isdigit():
        i += 1
    ack_id = int(text[start:i]) if i > start else None
    try:
        data = orjson.loads(text[i:]) if i < len(text) else None
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"bad JSON in {text[:40]!r}") from exc
    return SioPacket(kind, namespace, ack_id, data)


# ------------------------------------------------------------------ transports


class Transport(Protocol):
    """An Engine.IO connection carrying Socket.IO packets (text, without the ``4``)."""

    traffic: Traffic
    name: str

    async def open(self) -> None:
        """Opens the Engine.IO session (one round trip)."""

    async def send(self, packets: list[str]) -> None:
        """Sends packets (one POST over polling; one frame each over WebSocket)."""

    async def receive(self) -> list[str]:
        """Waits for the next packets (one GET over polling; what has arrived over WebSocket).

        Engine.IO pings are answered here; ``[]`` means only control packets arrived.
        """

    async def close(self) -> None:
        """Closes the session and its TCP connections."""


class WebSocketTransport:
    """Engine.IO over one WebSocket (``transport=websocket``, no polling first).

    Args:
        host: server address.
        port: server port.
        timeout: bound on each network wait, in seconds.
    """

    name = "websocket"

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.traffic = Traffic()
        self.sid = ""
        uri = parse_uri(f"ws://{host}:{port}{ENGINE_PATH}?EIO=4&transport=websocket")
        self._proto = ClientProtocol(uri, max_size=MAX_HTTP_BODY)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._inbox: list[str] = []
        self._closed = False

    def _flush(self) -> None:
        assert self._writer is not None
        for chunk in self._proto.data_to_send():
            if chunk:
                self.traffic.bytes_tx += len(chunk)
                self._writer.write(chunk)

    async def _read_events(self) -> list[Any]:
        assert self._reader is not None
        while True:
            async with asyncio.timeout(self.timeout):
                data = await self._reader.read(65536)
            if not data:
                self._proto.receive_eof()
                raise ConnectionError("server closed the WebSocket")
            self.traffic.bytes_rx += len(data)
            self._proto.receive_data(data)
            events = self._proto.events_received()
            self._flush()  # pongs to WebSocket pings, close replies
            if events:
                return events

    async def open(self) -> None:
        """Connects, upgrades and reads the Engine.IO open packet."""
        async with asyncio.timeout(self.timeout):
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        self.traffic.tcp_connections += 1
        self._proto.send_request(self._proto.connect())
        self.traffic.http_requests += 1
        self._flush()
        self.traffic.round_trips += 1
        opened = False
        while not opened:
            for event in await self._read_events():
                if isinstance(event, Response):
                    if event.status_code != 101:
                        raise ProtocolError(f"upgrade refused: HTTP {event.status_code}")
                    continue
                for text in self._frame_texts(event):
                    if text.startswith("0"):
                        self.sid = orjson.loads(text[1:])["sid"]
                        opened = True
                    elif text.startswith("4"):
                        self._inbox.append(text[1:])

    def _frame_texts(self, frame: Any) -> list[str]:
        if frame.opcode == Opcode.TEXT:
            self.traffic.frames_rx += 1
            return [frame.data.decode()]
        if frame.opcode == Opcode.CLOSE:
            self.traffic.frames_rx += 1
            raise ConnectionError("server closed the WebSocket")
        if frame.opcode == Opcode.BINARY:
            self.traffic.frames_rx += 1
            raise ProtocolError("unexpected binary frame")
        return []

    async def send(self, packets: list[str]) -> None:
        """Sends each packet as one text frame."""
        for packet in packets:
            self._proto.send_text(("4" + packet).encode())
        self.traffic.frames_tx += len(packets)
        self.traffic.packets_tx += len(packets)
        self._flush()

    async def receive(self) -> list[str]:
        """The Socket.IO packets that arrived (waits for at least one frame)."""
        if self._inbox:
            queued, self._inbox = self._inbox, []
            self.traffic.packets_rx += len(queued)
            return queued
        out: list[str] = []
        for event in await self._read_events():
            for text in self._frame_texts(event):
                if text.startswith("4"):
                    out.append(text[1:])
                elif text == "2":
                    self._proto.send_text(b"3")
                    self.traffic.frames_tx += 1
                    self._flush()
                elif text.startswith("1"):
                    raise ConnectionError("server closed the Engine.IO session")
        self.traffic.packets_rx += len(out)
        return out

    async def close(self) -> None:
        """Sends a close frame and closes the TCP connection."""
        if self._closed or self._writer is None:
            return
        self._closed = True
        try:
            self._proto.send_close()
            self._flush()
            self._writer.close()
            async with asyncio.timeout(2):
                await self._writer.wait_closed()
        except (OSError, TimeoutError, ConnectionError, RuntimeError):
            pass


class _HttpConnection:
    """One HTTP/1.1 keep-alive connection that counts its bytes."""

    def __init__(self, host: str, port: int, traffic: Traffic, timeout: float) -> None:
        self.host = host
        self.port = port
        self.traffic = traffic
        self.timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()

    async def request(self, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
        async with self._lock:  # one request at a time per connection (and per session)
            return await self._request(method, target, body)

    async def _request(self, method: str, target: str, body: bytes) -> tuple[int, bytes]:
        if self._reader is not None and self._reader.at_eof():
            # The server closed the idle keep-alive connection (plexio closes those after
            # handshake_timeout): open a new one, as a browser does.
            await self.close()
        if self._writer is None:
            async with asyncio.timeout(self.timeout):
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            self.traffic.tcp_connections += 1
        assert self._reader is not None
        head = f"{method} {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        if method == "POST":
            head += f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {len(body)}\r\n"
        data = (head + "\r\n").encode() + body
        self._writer.write(data)
        self.traffic.bytes_tx += len(data)
        self.traffic.frames_tx += 1
        self.traffic.http_requests += 1
        async with asyncio.timeout(self.timeout):
            header = await self._reader.readuntil(b"\r\n\r\n")
            if len(header) > MAX_HTTP_HEADER:
                raise ProtocolError("HTTP response header too large")
            lines = header.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[1].isdigit():
                raise ProtocolError(f"bad status line {lines[0]!r}")
            status = int(parts[1])
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length > MAX_HTTP_BODY:
                raise ProtocolError("HTTP response body too large")
            payload = await self._reader.readexactly(length) if length else b""
        self.traffic.bytes_rx += len(header) + len(payload)
        self.traffic.frames_rx += 1
        return status, payload

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                async with asyncio.timeout(2):
                    await self._writer.wait_closed()
            except (OSError, TimeoutError, ConnectionError):
                pass
            self._writer = None


class PollingTransport:
    """Engine.IO over HTTP long-polling only (a client behind a proxy without WebSocket).

    Args:
        host: server address.
        port: server port.
        timeout: bound on each request, in seconds (above the ping interval).
    """

    name = "polling"

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.traffic = Traffic()
        self.sid = ""
        self._get = _HttpConnection(host, port, self.traffic, timeout)
        self._post = _HttpConnection(host, port, self.traffic, timeout)
        self._inbox: list[str] = []

    def _target(self) -> str:
        sid = f"&sid={self.sid}" if self.sid else ""
        return f"{ENGINE_PATH}?EIO=4&transport=polling{sid}"

    async def open(self) -> None:
        """The handshake GET."""
        self.traffic.round_trips += 1
        status, body = await self._get.request("GET", self._target())
        if status != 200:
            raise ProtocolError(f"handshake refused: HTTP {status}")
        for record in body.decode().split("\x1e"):
            if record.startswith("0"):
                self.sid = orjson.loads(record[1:])["sid"]
            elif record.startswith("4"):
                self._inbox.append(record[1:])
        if not self.sid:
            raise ProtocolError("no open packet in the handshake response")

    async def send(self, packets: list[str]) -> None:
        """One POST carrying every packet."""
        if not packets:
            return
        await self._post_body("\x1e".join("4" + p for p in packets))
        self.traffic.packets_tx += len(packets)

    async def _post_body(self, body: str) -> None:
        status, answer = await self._post.request("POST", self._target(), body.encode())
        if status != 200 or answer != b"ok":
            raise ProtocolError(f"POST refused: HTTP {status} {answer[:40]!r}")

    async def receive(self) -> list[str]:
        """One (held) GET; answers pings with a POST."""
        if self._inbox:
            queued, self._inbox = self._inbox, []
            self.traffic.packets_rx += len(queued)
            return queued
        status, body = await self._get.request("GET", self._target())
        if status != 200:
            raise ConnectionError(f"poll refused: HTTP {status}")
        out: list[str] = []
        pings = 0
        for record in body.decode().split("\x1e"):
            if record.startswith("4"):
                out.append(record[1:])
            elif record == "2":
                pings += 1
            elif record.startswith("1"):
                raise ConnectionError("server closed the Engine.IO session")
        if pings:
            await self._post_body("\x1e".join(["3"] * pings))
        self.traffic.packets_rx += len(out)
        return out

    async def close(self) -> None:
        """Sends the Engine.IO close packet and closes both connections."""
        try:
            if self.sid:
                await self._post_body("1")
        except (OSError, ConnectionError, ProtocolError, TimeoutError):
            pass
        await self._get.close()
        await self._post.close()


def make_transport(kind: str, host: str, port: int, timeout: float = 30.0) -> Transport:
    """A transport by name: ``"websocket"`` or ``"polling"``.

    Raises:
        ValueError: unknown transport name.
    """
    if kind == "websocket":
        return WebSocketTransport(host, port, timeout)
    if kind == "polling":
        return PollingTransport(host, port, timeout)
    raise ValueError(f"unknown transport {kind!r} (expected 'websocket' or 'polling')")
