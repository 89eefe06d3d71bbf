"""Volatile frames leave only through a transport that keeps up (EngineSocket.writable)."""

from __future__ import annotations

import asyncio

from plexio.server.engine import EngineServer, EngineSocket
from plexio.transports.base import HttpRequest
from tests.helpers.sinks import Quiet, RecordingSink


def request(**query: str) -> HttpRequest:
    return HttpRequest("GET", "/engine.io/", {"EIO": "4", **query}, {})


async def test_volatile_over_websocket_needs_an_unpaused_sink() -> None:
    engine = EngineServer(Quiet())
    sink = RecordingSink()
    socket = await engine.open_websocket(request(transport="websocket"), sink)
    await asyncio.sleep(0)  # the engine flushes at the end of this loop tick
    assert socket.writable
    assert socket.send("a", volatile=True)
    await asyncio.sleep(0)  # the engine flushes at the end of this loop tick
    sink.paused = True
    assert not socket.writable
    assert not socket.send("dropped", volatile=True)
    assert socket.send("kept")  # reliable frames queue in the session while paused
    sink.paused = False
    socket.flush()
    assert sink.frames[1:] == ["4a", "4kept"]


async def test_volatile_right_after_other_frames_of_the_same_turn_is_kept() -> None:
    engine = EngineServer(Quiet())
    sink = RecordingSink()
    socket = await engine.open_websocket(request(transport="websocket"), sink)
    await asyncio.sleep(0)  # the engine flushes at the end of this loop tick
    assert socket.send("reliable")  # queued: it leaves at the end of this loop turn
    assert socket.writable  # the client is not behind
    assert socket.send("volatile", volatile=True)
    await asyncio.sleep(0)
    assert sink.frames[1:] == ["4reliable", "4volatile"]


async def test_volatile_over_polling_needs_a_waiting_get() -> None:
    engine = EngineServer(Quiet())

    async def no_body(limit: int) -> bytes | None:
        return b""

    opened = await engine.handle_request(request(transport="polling"), no_body)
    sid = opened.body.decode().split('"sid":"')[1].split('"')[0]
    socket = engine.sockets[sid]
    assert not socket.writable
    assert not socket.send("dropped", volatile=True)
    get = asyncio.create_task(engine.handle_request(request(transport="polling", sid=sid), no_body))
    await asyncio.sleep(0.01)
    assert socket.writable
    assert socket.send("delivered", volatile=True)
    response = await get
    assert response.body == b"4delivered"


async def test_a_client_that_stays_behind_is_closed_after_the_grace_period() -> None:
    from plexio.config import EngineOptions

    closed: list[str] = []

    class Recorder(Quiet):
        def on_disconnect(self, socket: EngineSocket, reason: str) -> None:
            closed.append(reason)

    options = EngineOptions(max_buffered_bytes=100, slow_client_grace=0.2)
    engine = EngineServer(Recorder(), options)
    stuck, healthy = RecordingSink(), RecordingSink()
    slow = await engine.open_websocket(request(transport="websocket"), stuck)
    fine = await engine.open_websocket(request(transport="websocket"), healthy)
    await asyncio.sleep(0)  # the engine flushes at the end of this loop tick
    stuck.paused = True  # this client stopped reading
    for _ in range(20):
        slow.send("x" * 20)
        fine.send("y" * 20)
    await asyncio.sleep(0.35)
    assert closed == ["slow client"] and slow.closed and not fine.closed
    assert len(healthy.frames) == 21  # open packet + every message, never held up


async def test_a_client_ping_over_websocket_is_answered_at_once() -> None:
    engine = EngineServer(Quiet())
    sink = RecordingSink()
    socket = await engine.open_websocket(request(transport="websocket"), sink)
    await asyncio.sleep(0)  # the engine flushes at the end of this loop tick
    socket.ws_received(sink, ["2hello"])
    await asyncio.sleep(0)  # the engine flushes at the end of this loop tick
    assert sink.frames[-1] == "3hello"


async def test_a_reader_whose_transport_holds_too_much_is_dropped_others_get_everything() -> None:
    from plexio.config import EngineOptions

    closed: list[tuple[str, str]] = []

    class Recorder(Quiet):
        def on_disconnect(self, socket: EngineSocket, reason: str) -> None:
            closed.append((socket.sid, reason))

    options = EngineOptions(max_buffered_bytes=1_000, max_buffered_bytes_hard=5_000)
    engine = EngineServer(Recorder(), options)
    stuck, healthy = RecordingSink(), RecordingSink()
    slow = await engine.open_websocket(request(transport="websocket"), stuck)
    fine = await engine.open_websocket(request(transport="websocket"), healthy)
    await asyncio.sleep(0)  # the engine flushes at the end of this loop tick
    frame = "4" + "z" * 999
    for _ in range(20):
        # the stuck sink's transport keeps everything written to it
        stuck.buffered_size = sum(len(f) for f in stuck.frames[1:])
        assert fine.send_frames([frame])
        before = list(closed)
        slow.send_frames([frame])
        assert closed == before  # never inside the send: the disconnect comes on the next step
        await asyncio.sleep(0)  # the engine flushes at the end of this loop tick
        await asyncio.sleep(0)
    assert closed == [(slow.sid, "slow client")] and slow.closed and not fine.closed
    assert healthy.frames[1:] == [frame] * 20
    # the open packet and about hard/1000 frames (+1: the sink's size is read at flush)
    assert len(stuck.frames) <= 1 + 7
    assert stuck.closed_with == 1000


async def test_paused_input_holds_the_rest_of_a_polling_body_and_the_next_post() -> None:
    got: list[str | bytes] = []

    class Pausing(Quiet):
        def on_message(self, socket: EngineSocket, data: str | bytes) -> None:
            got.append(data)
            if data == "a":
                socket.pause_input()

    engine = EngineServer(Pausing())

    async def no_body(limit: int) -> bytes | None:
        return b""

    opened = await engine.handle_request(request(transport="polling"), no_body)
    sid = opened.body.decode().split('"sid":"')[1].split('"')[0]
    socket = engine.sockets[sid]

    def post(body: bytes) -> asyncio.Task[object]:
        async def read(limit: int) -> bytes | None:
            return body

        req = HttpRequest(
            "POST", "/engine.io/", {"EIO": "4", "transport": "polling", "sid": sid}, {}
        )
        return asyncio.create_task(engine.handle_request(req, read))

    first = await post(b"4a\x1e4b")
    assert got == ["a"]  # "b" waits behind the pause, in order
    second = post(b"4c")
    await asyncio.sleep(0.05)
    assert not second.done() and got == ["a"]  # the next POST waits too
    socket.resume_input()
    await asyncio.wait_for(second, 5)
    assert got == ["a", "b", "c"]
    assert first is not None
