"""plexio.workers.forward: session ids that name their worker, and polling requests
answered by the worker holding the session, over real unix sockets (two Engine.IO servers
in this process stand for two workers)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from plexio.exceptions import HandshakeError
from plexio.server.engine import EngineServer, WebSocketVerdict
from plexio.transports.base import HttpRequest, HttpResponse
from plexio.workers import MAX_WORKERS, WorkerForwarder, worker_of
from tests.helpers.apps import RecordingEcho
from tests.helpers.sinks import RecordingSink
from tests.helpers.waiting import eventually


def test_session_ids_name_their_worker() -> None:
    forwarders = [WorkerForwarder(i, 3, "/nowhere") for i in range(3)]
    for index, forwarder in enumerate(forwarders):
        sids = {forwarder.new_sid() for _ in range(50)}
        assert len(sids) == 50
        for sid in sids:
            assert len(sid) == 20 and worker_of(sid) == index
            assert not forwarder.elsewhere(sid)
            assert all(other.elsewhere(sid) for other in forwarders if other is not forwarder)
    # an id of a 4th worker, or not of this scheme, is nobody's here
    assert not forwarders[0].elsewhere("D" + "x" * 19)
    assert not forwarders[0].elsewhere("short")
    assert worker_of("!" + "x" * 19) is None
    with pytest.raises(ValueError):
        WorkerForwarder(3, 3, "/nowhere")
    with pytest.raises(ValueError):
        WorkerForwarder(0, MAX_WORKERS + 1, "/nowhere")


def _request(method: str, sid: str | None = None) -> HttpRequest:
    query = {"EIO": "4", "transport": "polling"}
    if sid is not None:
        query["sid"] = sid
    return HttpRequest(method, "/engine.io/", query, {"host": "x"}, ("127.0.0.1", 5))


def _body(data: bytes = b"") -> object:
    async def read(limit: int) -> bytes | None:
        return data if len(data) <= limit else None

    return read


Pair = tuple[EngineServer, EngineServer, RecordingEcho]


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[Pair]:
    """Worker 0 (the owner, echoing) and worker 1 (where requests land)."""
    handler = RecordingEcho()
    owner, other = EngineServer(handler), EngineServer(RecordingEcho())
    async with contextlib.AsyncExitStack() as stack:
        for index, engine in enumerate((owner, other)):
            forwarder = WorkerForwarder(index, 2, tmp_path)
            await stack.enter_async_context(forwarder.serving(engine))
        yield owner, other, handler


async def _ask(engine: EngineServer, method: str, sid: str, data: bytes = b"") -> HttpResponse:
    return await engine.handle_request(_request(method, sid), _body(data))  # type: ignore[arg-type]


async def test_a_request_for_another_workers_session_is_answered_by_it(pair: Pair) -> None:
    owner, other, handler = pair
    opened = await owner.handle_request(_request("GET"), _body())  # type: ignore[arg-type]
    sid = next(iter(owner.sockets))
    assert worker_of(sid) == 0 and opened.status == 200
    assert (await _ask(other, "POST", sid, b"4hello")).body == b"ok"
    await handler.wait_for(lambda: handler.messages == [(sid, "hello")])
    answer = await _ask(other, "GET", sid)
    assert (answer.status, answer.body) == (200, b"4hello")
    assert ("Content-Type", "text/plain; charset=UTF-8") in answer.headers
    assert not other.sockets  # worker 1 holds nothing


async def test_a_forwarded_post_over_the_limit_is_refused_where_it_landed(pair: Pair) -> None:
    owner, other, handler = pair
    await owner.handle_request(_request("GET"), _body())  # type: ignore[arg-type]
    sid = next(iter(owner.sockets))
    big = b"4" + b"x" * other.options.limits.max_http_buffer_size
    assert (await _ask(other, "POST", sid, big)).status == 413
    assert handler.messages == []


async def test_a_client_leaving_a_forwarded_held_get_ends_the_session(pair: Pair) -> None:
    owner, other, handler = pair
    await owner.handle_request(_request("GET"), _body())  # type: ignore[arg-type]
    sid = next(iter(owner.sockets))
    held = asyncio.ensure_future(_ask(other, "GET", sid))
    await asyncio.sleep(0.1)
    assert not held.done()
    held.cancel()  # what the listener does when the client goes away
    with contextlib.suppress(asyncio.CancelledError):
        await held
    assert await handler.wait_disconnected(sid) == "transport error"


async def test_a_session_of_a_worker_that_is_gone_is_unknown(tmp_path: Path) -> None:
    other = EngineServer(RecordingEcho())
    async with WorkerForwarder(1, 2, tmp_path).serving(other):
        sid = WorkerForwarder(0, 2, tmp_path).new_sid()  # worker 0 never listened
        refused = await _ask(other, "GET", sid)
    assert refused.status == 400
    assert refused.body == b'{"code":1,"message":"Session ID unknown"}'


def _ws_request(sid: str) -> HttpRequest:
    query = {"EIO": "4", "transport": "websocket", "sid": sid}
    return HttpRequest("GET", "/engine.io/", query, {"host": "x"}, ("127.0.0.1", 5), "ws")


async def test_an_upgrade_reaching_another_worker_is_relayed_to_the_owner(pair: Pair) -> None:
    owner, other, handler = pair
    await owner.handle_request(_request("GET"), _body())  # type: ignore[arg-type]
    sid = next(iter(owner.sockets))
    target = await other.prepare_websocket(_ws_request(sid))
    assert target is not None and not isinstance(target, WebSocketVerdict)
    assert owner.sockets[sid].session.upgrading  # the owner took the probe
    sink = RecordingSink()
    other.attach_probe(target, sink)
    target.ws_received(sink, ["2probe"])
    await eventually(lambda: sink.frames == ["3probe"])
    target.ws_received(sink, ["5", "4hello", b"\x01\x02"])
    await handler.wait_for(lambda: len(handler.messages) == 2)
    assert handler.messages == [(sid, "hello"), (sid, b"\x01\x02")]
    await eventually(lambda: sink.frames[1:] == ["4hello", b"\x01\x02"])
    assert owner.sockets[sid].transport == "websocket"
    target.ws_closed(sink)  # the client went away
    assert await handler.wait_disconnected(sid) == "transport close"


async def test_an_upgrade_for_a_session_the_owner_does_not_hold_is_refused(pair: Pair) -> None:
    _owner, other, _handler = pair
    with pytest.raises(HandshakeError) as refused:
        await other.prepare_websocket(_ws_request(WorkerForwarder(0, 2, "/x").new_sid()))
    assert (refused.value.status, refused.value.message) == (400, "Session ID unknown")


async def test_a_backed_up_client_stops_the_relay_reading_from_the_owner(pair: Pair) -> None:
    owner, other, _handler = pair
    await owner.handle_request(_request("GET"), _body())  # type: ignore[arg-type]
    sid = next(iter(owner.sockets))
    target = await other.prepare_websocket(_ws_request(sid))
    assert target is not None and not isinstance(target, WebSocketVerdict)
    sink = RecordingSink()
    other.attach_probe(target, sink)
    target.ws_received(sink, ["2probe", "5"])
    await eventually(lambda: owner.sockets[sid].transport == "websocket")
    sink.paused = True  # the client's WebSocket is backed up
    socket = owner.sockets[sid]
    socket.send("first")
    await eventually(lambda: sink.frames[-1:] == ["4first"])
    for n in range(5):
        socket.send(f"m{n}")
    await asyncio.sleep(0.2)
    assert sink.frames[-1] == "4first"  # nothing more was taken from the owner
    sink.paused = False
    assert sink.on_drain is not None
    sink.on_drain()
    await eventually(lambda: sink.frames[-5:] == [f"4m{n}" for n in range(5)])
    target.ws_closed(sink)
