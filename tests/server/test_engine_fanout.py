"""One broadcast's frames queued on many sessions at once (EngineServer.send_frames_to)."""

from __future__ import annotations

import asyncio

from plexio.config import EngineOptions
from plexio.server.engine import EngineServer, EngineSocket
from plexio.transports.base import HttpRequest, uncompressed
from tests.helpers.sinks import RecordingSink


class Recorder:
    def __init__(self) -> None:
        self.closed: list[tuple[str, str]] = []

    async def on_connect(self, socket: EngineSocket) -> None:
        pass

    def on_message(self, socket: EngineSocket, data: str | bytes) -> None:
        pass

    def on_disconnect(self, socket: EngineSocket, reason: str) -> None:
        self.closed.append((socket.sid, reason))


class CountingSink(RecordingSink):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, frames: list[str | bytes]) -> None:
        self.writes += 1
        super().write(frames)


def request(**query: str) -> HttpRequest:
    return HttpRequest("GET", "/engine.io/", {"EIO": "4", **query}, {})


async def test_each_socket_gets_the_frames_after_what_it_queued_before_in_one_write() -> None:
    engine = EngineServer(Recorder())
    sinks = [CountingSink() for _ in range(3)]
    sockets = [await engine.open_websocket(request(transport="websocket"), s) for s in sinks]
    await asyncio.sleep(0)  # the open packets leave
    writes = [s.writes for s in sinks]
    sockets[1].send("before")
    engine.send_frames_to(sockets, ["4news"])
    sockets[2].send("after")
    await asyncio.sleep(0)  # the end-of-tick flush
    assert [s.frames[1:] for s in sinks] == [["4news"], ["4before", "4news"], ["4news", "4after"]]
    assert [s.writes - w for s, w in zip(sinks, writes, strict=True)] == [1, 1, 1]


async def test_polling_sessions_get_it_in_their_next_response() -> None:
    engine = EngineServer(Recorder())

    async def no_body(limit: int) -> bytes | None:
        return b""

    opened = await engine.handle_request(request(transport="polling"), no_body)
    sid = opened.body.decode().split('"sid":"')[1].split('"')[0]
    polling = engine.sockets[sid]
    sink = RecordingSink()
    ws = await engine.open_websocket(request(transport="websocket"), sink)
    engine.send_frames_to([polling, ws], ["4a", "4b"])
    response = await engine.handle_request(request(transport="polling", sid=sid), no_body)
    assert response.body == b"4a\x1e4b"
    await asyncio.sleep(0)
    assert sink.frames[1:] == ["4a", "4b"]


async def test_uncompressed_frames_are_marked_once_for_every_socket() -> None:
    engine = EngineServer(Recorder())
    sinks = [RecordingSink() for _ in range(2)]
    sockets = [await engine.open_websocket(request(transport="websocket"), s) for s in sinks]
    engine.send_frames_to(sockets, ["4plain"], compress=False)
    await asyncio.sleep(0)
    sent = [s.frames[-1] for s in sinks]
    assert sent == ["4plain", "4plain"]
    assert type(sent[0]) is type(uncompressed("4plain")) and sent[0] is sent[1]


async def test_volatile_skips_the_sockets_that_are_behind() -> None:
    engine = EngineServer(Recorder())
    ready, stuck = RecordingSink(), RecordingSink()
    sockets = [
        await engine.open_websocket(request(transport="websocket"), s) for s in (ready, stuck)
    ]
    await asyncio.sleep(0)
    stuck.paused = True
    engine.send_frames_to(sockets, ["4v"], volatile=True)
    await asyncio.sleep(0)
    stuck.paused = False
    sockets[1].flush()
    assert ready.frames[1:] == ["4v"] and stuck.frames[1:] == []


async def test_a_socket_over_the_hard_limit_is_dropped_after_the_broadcast() -> None:
    recorder = Recorder()
    options = EngineOptions(max_buffered_bytes=1_000, max_buffered_bytes_hard=3_000)
    engine = EngineServer(recorder, options)
    stuck, healthy = RecordingSink(), RecordingSink()
    slow = await engine.open_websocket(request(transport="websocket"), stuck)
    fine = await engine.open_websocket(request(transport="websocket"), healthy)
    await asyncio.sleep(0)
    stuck.buffered_size = 4_000  # its transport holds more than the hard limit
    slow.flush()  # the session learns its transport's backlog
    engine.send_frames_to([slow, fine], ["4" + "z" * 99])
    assert recorder.closed == []  # never inside the broadcast
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert recorder.closed == [(slow.sid, "slow client")]
    assert healthy.frames[1:] == ["4" + "z" * 99] and stuck.frames[1:] == []


class ReportingSink(RecordingSink):
    """A sink whose ``write`` reports what it still holds (as the native listener's)."""

    def __init__(self, held: int) -> None:
        super().__init__()
        self.held = held
        self.asked = 0

    @property  # type: ignore[override]
    def buffered_size(self) -> int:
        self.asked += 1
        return self.held

    @buffered_size.setter
    def buffered_size(self, value: int) -> None:
        pass  # RecordingSink's __init__ sets it

    def write(self, frames: list[str | bytes]) -> int:  # type: ignore[override]
        super().write(frames)
        return self.held


async def test_a_sink_that_reports_its_backlog_from_write_is_not_asked_again() -> None:
    engine = EngineServer(Recorder(), EngineOptions(max_buffered_bytes=100))
    reporting = ReportingSink(held=150)
    plain = RecordingSink()
    plain.buffered_size = 150
    sockets = [
        await engine.open_websocket(request(transport="websocket"), s) for s in (reporting, plain)
    ]
    await asyncio.sleep(0)  # the open packets leave
    reporting.asked = 0
    engine.send_frames_to(sockets, ["4news"])
    await asyncio.sleep(0)  # the end-of-tick flush
    assert reporting.frames[-1] == plain.frames[-1] == "4news"
    assert reporting.asked == 0  # one call per delivery: write's answer was used
    # both backlogs were recorded, from write's answer and from buffered_size
    assert [s.session.transport_backlog for s in sockets] == [150, 150]
    assert [s.session.backlog for s in sockets] == [150, 150]
