"""The ASGI WebSocket sink: what it counts as unsent, and its close deadline."""

from __future__ import annotations

import asyncio
from typing import Any

from plexio.asgi.websocket import ASGIWebSocketSink


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
    assert sink.paused and sink.buffered_size == 1002  # the first frame was accepted
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
