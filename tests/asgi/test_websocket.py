"""The ASGI WebSocket sink: what it counts as unsent, when it is paused, its close deadline."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from plexio.asgi.websocket import ASGIWebSocketSink
from plexio.server.engine import EngineServer
from plexio.transports.base import HttpRequest
from tests.helpers.sinks import Quiet


async def test_unsent_bytes_are_counted_and_a_stuck_send_is_cut_at_close() -> None:
    sent: list[dict[str, Any]] = []
    stuck = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send" and sent:
            await stuck.wait()  # the ASGI server's backpressure: the peer stopped reading
        sent.append(message)

    sink = ASGIWebSocketSink(send, close_timeout=0.05)
    writer = asyncio.create_task(sink.run())
    sink.write(["4first", "4" + "x" * 999, b"\x01\x02"])
    assert sink.buffered_size == 6 + 1000 + 2
    for _ in range(5):
        await asyncio.sleep(0)
    # the first frame was accepted; nothing waits behind the batch: not paused
    assert not sink.paused and sink.buffered_size == 1002
    sink.write(["4behind"])  # waits behind the stuck batch: paused now
    assert sink.paused and sink.buffered_size == 1002 + 7
    sink.close(1000)
    await asyncio.wait_for(writer, 5)  # cut after close_timeout, not waiting for ever
    assert [m["type"] for m in sent] == ["websocket.send", "websocket.close"]
    assert sink.buffered_size == 0


async def test_a_writer_cancelled_from_outside_stays_cancelled() -> None:
    async def send(message: dict[str, Any]) -> None:
        await asyncio.Event().wait()

    sink = ASGIWebSocketSink(send, close_timeout=10)
    writer = asyncio.create_task(sink.run())
    sink.write(["4a"])
    await asyncio.sleep(0)
    writer.cancel()
    try:
        await writer
    except asyncio.CancelledError:
        pass
    assert writer.cancelled()


async def test_volatile_frames_are_kept_while_send_keeps_up_and_dropped_once_it_does_not() -> None:
    # The community gateway's lost typing hint: a volatile frame that came while the
    # client's previous frames were handed to ASGI ``send`` (a loop turn or two, the
    # client not behind at all) was dropped.
    sent: list[str] = []
    release = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        await asyncio.sleep(0)  # an ASGI server's send takes a loop turn
        if message.get("text") == "4stuck":
            await release.wait()  # the ASGI server's backpressure
        sent.append(message.get("text", message["type"]))

    engine = EngineServer(Quiet())
    sink = ASGIWebSocketSink(send)
    writer = asyncio.create_task(sink.run())
    request = HttpRequest("GET", "/engine.io/", {"EIO": "4", "transport": "websocket"}, {})
    socket = await engine.open_websocket(request, sink)
    for _ in range(5):
        await asyncio.sleep(0)  # the open packet is sent
    assert socket.send("reliable")
    assert socket.send("same turn", volatile=True)
    await asyncio.sleep(0)  # the end-of-turn flush: the batch goes to the writer
    assert socket.send("next turn", volatile=True)  # while it is being sent
    for _ in range(10):
        await asyncio.sleep(0)
    assert sent[1:] == ["4reliable", "4same turn", "4next turn"]
    # a send that does not keep up: one more batch waits behind it, then volatile
    # frames are dropped (reliable ones wait in the session)
    assert socket.send("stuck")
    for _ in range(5):
        await asyncio.sleep(0)
    assert not sink.paused  # "stuck" is being sent, nothing waits behind it
    assert socket.send("behind", volatile=True)
    await asyncio.sleep(0)
    assert sink.paused and not socket.writable
    assert not socket.send("dropped", volatile=True)
    assert socket.send("kept")
    release.set()
    for _ in range(10):
        await asyncio.sleep(0)
    assert sent[4:] == ["4stuck", "4behind", "4kept"]
    sink.stop()
    await asyncio.wait_for(writer, 5)


async def test_a_send_that_does_not_wait_is_done_before_write_returns() -> None:
    sent: list[dict[str, Any]] = []
    current: list[asyncio.Task[Any] | None] = []

    async def send(message: dict[str, Any]) -> None:
        current.append(asyncio.current_task())
        sent.append(message)

    sink = ASGIWebSocketSink(send, close_timeout=1)
    writer = asyncio.create_task(sink.run())
    await asyncio.sleep(0)  # the writer is waiting for frames

    class Uncompressed(str):  # how compress(False) marks a frame
        pass

    sink.write(["4a", b"\x01", Uncompressed("4u")])
    assert sent == [
        {"type": "websocket.send", "text": "4a"},
        {"type": "websocket.send", "bytes": b"\x01"},
        {"type": "websocket.send", "text": "4u"},
    ]
    assert current == [writer] * 3  # each send ran as the writer task would run it
    assert not sink.paused and sink.buffered_size == 0
    sink.close(1000)
    await asyncio.wait_for(writer, 5)
    assert sent[-1] == {"type": "websocket.close", "code": 1000}


async def test_a_send_that_waits_is_finished_by_the_writer_then_the_rest_in_order() -> None:
    sent: list[str] = []
    gate = asyncio.Event()
    drained: list[bool] = []

    async def send(message: dict[str, Any]) -> None:
        if message.get("text") == "4b":
            await gate.wait()  # the ASGI server pushes back
        sent.append(message.get("text") or message["type"])

    sink = ASGIWebSocketSink(send, close_timeout=5)
    sink.on_drain = lambda: drained.append(True)
    writer = asyncio.create_task(sink.run())
    await asyncio.sleep(0)
    sink.write(["4a", "4b", "4c"])
    assert sent == ["4a"]
    # "4b" waits, "4c" goes after it: the batch in flight; nothing behind it yet
    assert not sink.paused and sink.buffered_size == 4
    sink.write(["4d"])  # queued behind them, not sent eagerly: paused
    assert sink.paused and sink.buffered_size == 6
    await asyncio.sleep(0)
    assert sent == ["4a"]
    gate.set()
    for _ in range(10):
        await asyncio.sleep(0)
    assert sent == ["4a", "4b", "4c", "4d"]
    assert not sink.paused and sink.buffered_size == 0 and drained
    sink.write(["4e"])  # eager again
    assert sent[-1] == "4e"
    sink.close(1000)
    await asyncio.wait_for(writer, 5)
    assert sent[-1] == "websocket.close"


async def test_a_waiting_send_is_cancelled_with_the_writer() -> None:
    cancelled: list[bool] = []

    async def send(message: dict[str, Any]) -> None:
        if message.get("text") == "4b":
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(True)
                raise

    sink = ASGIWebSocketSink(send, close_timeout=10)
    writer = asyncio.create_task(sink.run())
    await asyncio.sleep(0)
    sink.write(["4a", "4b"])
    await asyncio.sleep(0)
    writer.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await writer
    assert writer.cancelled() and cancelled == [True]


async def test_a_send_that_fails_ends_the_writer() -> None:
    async def send(message: dict[str, Any]) -> None:
        raise OSError("gone")

    sink = ASGIWebSocketSink(send, close_timeout=1)
    writer = asyncio.create_task(sink.run())
    await asyncio.sleep(0)
    sink.write(["4a"])
    await asyncio.wait_for(writer, 5)
    sink.write(["4b"])  # ignored: the peer is gone
    assert sink.buffered_size == 0
