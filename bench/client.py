"""A thin Engine.IO v4 / Socket.IO v5 client over raw WebSocket (picows), for load generation.

It speaks just enough protocol to drive the benchmark: the Engine.IO open packet, pings (answered
with pongs), namespace CONNECT, events with and without ack ids, binary attachments. Frames it
sends in the hot paths are built once per client; replies are recognised by their first bytes,
never parsed as JSON, so the load generator spends as little CPU as possible per operation.

One `Stats` object per load-generator process collects counts and latencies; the clients write
into it directly from their frame callbacks.
"""

from __future__ import annotations

import asyncio
import zlib
from array import array
from collections.abc import Callable
from time import monotonic, monotonic_ns

from picows import WSFrame, WSListener, WSMsgType, WSTransport

__all__ = [
    "DEFLATE_OFFER",
    "FanoutSender",
    "SioClient",
    "STALL_AFTER",
    "Stats",
    "event_frame",
]

_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
_CLOSE = WSMsgType.CLOSE
_PONG = b"3"
_DEFLATE_TAIL = b"\x00\x00\xff\xff"  # RFC 7692 section 7.2.2
#: What a permessage-deflate scenario offers: every message compressed on its own.
DEFLATE_OFFER = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
#: Fan-out padding: English-like text (compressible, as chat messages are; not one letter).
_PADDING_TEXT = "the quick brown fox jumps over the lazy dog while plexio counts deliveries "
_DIGIT_4 = 0x34  # '4': Engine.IO message
_DIGIT_2 = 0x32  # '2': Engine.IO ping / Socket.IO EVENT
_DIGIT_0 = 0x30  # '0': Engine.IO open / Socket.IO CONNECT
_DIGIT_3 = 0x33  # '3': Socket.IO ACK
_DIGIT_6 = 0x36  # '6': Socket.IO BINARY_ACK
_DIGIT_1 = 0x31  # '1': Engine.IO close / Socket.IO DISCONNECT

#: Seconds without any fan-out delivery before the sender assumes one was lost.
STALL_AFTER = 10.0


class Stats:
    """Counters shared by all the clients of one load-generator process.

    Attributes:
        running: clients issue new requests only while this is true.
        recording: operations are counted and timed only while this is true.
        ops: operations completed while recording.
        latencies_ns: one latency per recorded operation, in nanoseconds.
        errors: protocol errors, refused connections, unexpected closes.
        delivered: fan-out deliveries received, recording or not (paces the sender).
        compressed: frames received compressed (permessage-deflate), recording or not.
        pings: Engine.IO pings received (and answered), always.
    """

    __slots__ = (
        "compressed",
        "pings",
        "delivered",
        "errors",
        "latencies_ns",
        "ops",
        "recording",
        "running",
        "sender",
    )

    def __init__(self) -> None:
        self.running = False
        self.recording = False
        self.ops = 0
        self.latencies_ns: array[int] = array("q")
        self.errors = 0
        self.delivered = 0
        self.compressed = 0
        self.pings = 0
        self.sender: FanoutSender | None = None

    def reset(self) -> None:
        """Start a new measured window: zero the counts and latencies."""
        self.ops = 0
        self.latencies_ns = array("q")


def _ns_prefix(namespace: str) -> str:
    return "" if namespace == "/" else namespace + ","


def event_frame(namespace: str, ack_id: int | None, json_array: str, attachments: int = 0) -> bytes:
    """Build one Engine.IO message frame carrying a Socket.IO EVENT (or BINARY_EVENT).

    Args:
        namespace: the Socket.IO namespace, `/` for the main one.
        ack_id: the ack id to ask for, or None for no ack.
        json_array: the JSON array text `["event", arg, ...]`.
        attachments: number of binary attachments (0 for a plain EVENT).

    Returns:
        The text frame's bytes, e.g. `421["echo","hi"]`.
    """
    head = f"45{attachments}-" if attachments else "42"
    ack = "" if ack_id is None else str(ack_id)
    return f"{head}{_ns_prefix(namespace)}{ack}{json_array}".encode()


class SioClient(WSListener):
    """One Engine.IO connection joined to one or more Socket.IO namespaces.

    Args:
        stats: the process-wide counters.
        namespaces: namespaces to CONNECT to once the Engine.IO session is open.
        raw: bare WebSocket mode (the ceiling server): no Engine.IO at all, ready at once.
    """

    def __init__(self, stats: Stats, namespaces: tuple[str, ...], raw: bool = False) -> None:
        super().__init__()
        self.stats = stats
        self.namespaces = namespaces
        self.raw = raw
        self.transport: WSTransport | None = None
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self._pending_ns = len(namespaces)
        self._on_message: Callable[[bytes], None] = self._on_handshake
        self._on_binary: Callable[[bytes], None] = self._unexpected
        # Echo state: one request in flight per client.
        self._request: bytes = b""
        self._attachment: bytes = b""
        self._sent_at = 0
        # Join state.
        self._join_reply: asyncio.Future[None] | None = None
        # Fan-out state: where the timestamp starts in a delivery frame.
        self._ts_offset = 0

    # -- picows callbacks -------------------------------------------------------------------

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        if self.raw and not self.ready.done():
            self.ready.set_result(None)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        msg_type = frame.msg_type
        if msg_type == _TEXT:
            data = frame.get_payload_as_bytes()
            if frame.rsv1:  # permessage-deflate, each message on its own (no context takeover)
                data = zlib.decompressobj(-15).decompress(data + _DEFLATE_TAIL)
                self.stats.compressed += 1
            if self.raw:
                self._on_message(data)
                return
            first = data[0]
            if first == _DIGIT_4:
                self._on_message(data)
            elif first == _DIGIT_2:
                transport.send(_TEXT, _PONG)
                self.stats.pings += 1
            elif first == _DIGIT_0:
                for namespace in self.namespaces:
                    transport.send(_TEXT, f"40{_ns_prefix(namespace)}".encode())
            elif first == _DIGIT_1:
                self._fail("server closed the Engine.IO session")
        elif msg_type == _BINARY:
            self._on_binary(frame.get_payload_as_bytes())
        elif msg_type == _CLOSE:
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._fail("connection closed")
        if not self.closed.done():
            self.closed.set_result(None)

    # -- handshake --------------------------------------------------------------------------

    def _fail(self, reason: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(reason))
        elif self._join_reply is not None and not self._join_reply.done():
            self._join_reply.set_exception(ConnectionError(reason))
        elif self.stats.running:
            self.stats.errors += 1

    def _unexpected(self, data: bytes) -> None:
        self.stats.errors += 1

    def _on_handshake(self, data: bytes) -> None:
        kind = data[1] if len(data) > 1 else 0
        if kind == _DIGIT_0:
            self._pending_ns -= 1
            if self._pending_ns == 0 and not self.ready.done():
                self._on_message = self._unexpected
                self.ready.set_result(None)
        elif kind == 0x34:  # '4' CONNECT_ERROR
            self._fail("namespace refused: " + data.decode(errors="replace")[:80])

    def disconnect(self) -> None:
        """Close the connection without waiting."""
        if self.transport is not None:
            self.transport.disconnect(graceful=False)

    # -- join -------------------------------------------------------------------------------

    async def join(self, room: str, timeout: float) -> None:
        """Ask the server to join the room (event `join` with an ack) and wait for the ack.

        Args:
            room: the room name.
            timeout: seconds to wait for the ack.

        Raises:
            TimeoutError: no ack in time.
            ConnectionError: the connection ended first.
        """
        assert self.transport is not None
        self._join_reply = asyncio.get_running_loop().create_future()
        self._on_message = self._on_join_ack
        self.transport.send(_TEXT, event_frame(self.namespaces[0], 1, f'["join","{room}"]'))
        async with asyncio.timeout(timeout):
            await self._join_reply

    def _on_join_ack(self, data: bytes) -> None:
        if data[1] == _DIGIT_3 and self._join_reply is not None and not self._join_reply.done():
            self._on_message = self._unexpected
            self._join_reply.set_result(None)

    # -- echo -------------------------------------------------------------------------------

    def prepare_echo(self, request: bytes, attachment: bytes = b"") -> None:
        """Arm the echo loop: `request` is the frame to send (with ack id), `attachment` the
        binary frame that follows it (BINARY_EVENT), if any."""
        self._request = request
        self._attachment = attachment
        if self.raw:
            self._on_message = self._on_raw_echo
            self._on_binary = self._on_raw_echo
        elif attachment:
            self._on_message = self._on_binary_ack_head
            self._on_binary = self._on_binary_ack_body
        else:
            self._on_message = self._on_echo_ack

    def send_request(self) -> None:
        """Send one echo request (the first of the closed loop; the replies send the next)."""
        assert self.transport is not None
        self._sent_at = monotonic_ns()
        if self.raw and self._attachment:
            self.transport.send(_BINARY, self._attachment)
            return
        self.transport.send(_TEXT, self._request)
        if self._attachment:
            self.transport.send(_BINARY, self._attachment)

    def _complete(self) -> None:
        now = monotonic_ns()
        stats = self.stats
        if stats.recording:
            stats.ops += 1
            stats.latencies_ns.append(now - self._sent_at)
        if stats.running:
            self._sent_at = now
            transport = self.transport
            if self.raw and self._attachment:
                transport.send(_BINARY, self._attachment)  # type: ignore[union-attr]
                return
            transport.send(_TEXT, self._request)  # type: ignore[union-attr]
            if self._attachment:
                transport.send(_BINARY, self._attachment)  # type: ignore[union-attr]

    def _on_echo_ack(self, data: bytes) -> None:
        if data[1] == _DIGIT_3:
            self._complete()
        else:
            self.stats.errors += 1

    def _on_binary_ack_head(self, data: bytes) -> None:
        if data[1] != _DIGIT_6:
            self.stats.errors += 1

    def _on_binary_ack_body(self, data: bytes) -> None:
        self._complete()

    def _on_raw_echo(self, data: bytes) -> None:
        self._complete()

    # -- fan-out ----------------------------------------------------------------------------

    def prepare_fanout_member(self) -> None:
        """Count and time every `msg` delivery from now on."""
        # A delivery is `42<ns,>["msg","<monotonic_ns>:<padding>"]`.
        self._ts_offset = len(f'42{_ns_prefix(self.namespaces[0])}["msg","')
        self._on_message = self._on_delivery

    def _on_delivery(self, data: bytes) -> None:
        stats = self.stats
        stats.delivered += 1
        if stats.recording:
            start = self._ts_offset
            try:
                sent = int(data[start : data.index(b":", start)])
            except ValueError:
                stats.errors += 1
                return
            stats.ops += 1
            stats.latencies_ns.append(monotonic_ns() - sent)
        sender = stats.sender
        if sender is not None and stats.delivered % sender.members == 0:
            sender.pump()


class FanoutSender:
    """Emits `fanout(room, payload)` with a window of messages in flight.

    The window counts messages not yet delivered to every room member of this process, so the
    server always has work queued but never an unbounded backlog.

    Args:
        client: the connected client that sends (it is not a member of the room).
        stats: the process-wide counters (their `delivered` paces the sender).
        room: the room to broadcast to.
        members: room members held by this process.
        window: messages allowed in flight.
        padding: characters appended to the timestamp in each payload.
    """

    def __init__(
        self,
        client: SioClient,
        stats: Stats,
        room: str,
        members: int,
        window: int,
        padding: int,
    ) -> None:
        self.client = client
        self.stats = stats
        self.members = max(1, members)
        self.window = max(1, window)
        self.sent = 0
        self.stalls = 0
        self._prefix = f'42{_ns_prefix(client.namespaces[0])}["fanout","{room}","'
        text = (_PADDING_TEXT * (padding // len(_PADDING_TEXT) + 1))[:padding]
        self._suffix = ":" + text + '"]'
        self._watch: asyncio.TimerHandle | None = None
        self._last_delivered = -1
        self._last_progress = monotonic()

    def start(self) -> None:
        """Begin sending, and watch for stalls (a lost delivery must not stop the run)."""
        self.sent = self.stats.delivered // self.members
        self._last_progress = monotonic()
        self.pump()
        self._watch = asyncio.get_running_loop().call_later(0.5, self._check)

    def stop(self) -> None:
        """Stop watching (the sender stops by itself once `stats.running` is false)."""
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None

    def pump(self) -> None:
        """Send as many messages as the window allows."""
        stats = self.stats
        transport = self.client.transport
        if transport is None:
            return
        members = self.members
        while stats.running and self.sent - stats.delivered // members < self.window:
            self.sent += 1
            frame = f"{self._prefix}{monotonic_ns()}{self._suffix}".encode()
            transport.send(_TEXT, frame)

    def _check(self) -> None:
        if not self.stats.running:
            return
        now = monotonic()
        if self.stats.delivered != self._last_delivered:
            self._last_delivered = self.stats.delivered
            self._last_progress = now
        elif now - self._last_progress > STALL_AFTER:
            # Nothing arrived for a long time (a slow server may legitimately take seconds to
            # start writing one broadcast to 10,000 sockets): resynchronise rather than hang.
            self.stalls += 1
            self._last_progress = now
            self.sent = self.stats.delivered // self.members
            self.pump()
        self._watch = asyncio.get_running_loop().call_later(0.5, self._check)
