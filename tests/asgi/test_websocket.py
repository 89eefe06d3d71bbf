"""The ASGI WebSocket sink: what it counts as unsent, when it is paused, its close deadline."""

from __future__ import annotations

import asyncio
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
