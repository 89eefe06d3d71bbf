"""Manager and socket behaviour against plexio's server in the test's loop (and a silent one)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import parse_qs

import pytest

from plexio.client import ClientSocket, Manager, ManagerCache, ManagerOptions, connect, split_url
from plexio.exceptions import (
    ClientConnectionError,
    DisconnectedError,
    LocalProtocolError,
)
from tests.client.apps import ClientTestServer, make_client_test_server
from tests.client.scenarios import Recorder
from tests.client.targets import PlexioTarget
from tests.helpers.servers import RunningServer


@pytest.fixture
async def app() -> ClientTestServer:
    return make_client_test_server(ping_interval=1.0, ping_timeout=1.0)


@pytest.fixture
async def server(serve_uvicorn: Any, app: ClientTestServer) -> RunningServer:
    result: RunningServer = await serve_uvicorn(app.app)
    return result


def test_split_url() -> None:
    assert split_url("http://h:1/chat") == ("http://h:1", "/chat")
    assert split_url("ws://h:1") == ("ws://h:1", "/")
    with pytest.raises(ValueError):
        split_url("h:1/chat")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"transports": ()},
        {"transports": ("smoke",)},
        {"reconnection_attempts": -1},
        {"handshake_timeout": 0},
    ],
)
def test_bad_options_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ManagerOptions(**kwargs)


def test_options_or_keywords_not_both() -> None:
    with pytest.raises(TypeError):
        Manager("http://127.0.0.1:1", options=ManagerOptions(), handshake_timeout=3.0)


async def test_connect_shares_a_manager_per_origin(
    server: RunningServer, app: ClientTestServer
) -> None:
    cache = ManagerCache()
    a = await connect(server.http_url + "/a", cache=cache, timeout=10)
    b = await connect(server.http_url + "/b", cache=cache, timeout=10)
    assert a.io is b.io and len(cache) == 1
    again = await connect(server.http_url + "/a", cache=cache, timeout=10)
    assert again.io is not a.io  # a second socket on the same namespace needs its own
    alone = await connect(server.http_url + "/b", cache=cache, force_new=True, timeout=10)
    assert alone.io not in (a.io, again.io)
    engines = {c["engine"] for c in app.connections}
    assert len(engines) == 3
    assert a.io.engine_id == b.io.engine_id
    for sock in (a, b, again, alone):
        await sock.disconnect()
    assert a.io.closed and again.io.closed and alone.io.closed
    assert len(cache) == 0  # closed managers leave the cache


async def test_disconnect_of_last_socket_closes_the_connection(
    server: RunningServer, app: ClientTestServer
) -> None:
    io = Manager(server.http_url)
    a, b = io.socket("/a"), io.socket("/b")
    rec = Recorder()
    a.on("disconnect", rec.handler("a"))
    await a.connect(timeout=10)
    await b.connect(timeout=10)
    await a.disconnect()
    assert rec.of("a") == [("io client disconnect",)]
    assert not io.closed and b.connected
    assert await b.emit_with_ack("echo", 1, timeout=5) == 1
    await b.disconnect()
    assert io.closed and io.engine is None
    with pytest.raises(ClientConnectionError):
        await b.connect()


async def test_volatile_is_dropped_while_disconnected(
    server: RunningServer, app: ClientTestServer
) -> None:
    async with Manager(server.http_url) as io:
        sock = io.socket("/")
        sock.volatile.emit("record", "lost")  # not connected: dropped
        sock.emit("record", "kept")  # buffered
        await sock.connect(timeout=10)
        sock.volatile.emit("record", "sent")
        got: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        sock.volatile.emit("echo", "v", callback=lambda *a: got.set_result(a))
        assert await asyncio.wait_for(got, 5) == ("v",)
        assert await sock.emit_with_ack("records", timeout=5) == ["kept", "sent"]


async def test_listeners(
    server: RunningServer, app: ClientTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with Manager(server.http_url, transports=["websocket"]) as io:
        sock = io.socket("/")
        rec = Recorder()
        sock.on_any(rec.handler("any"))
        sock.on_any_outgoing(rec.handler("out"))
        sock.once("answer", rec.handler("once"))
        sock.on("answer", rec.handler("answer"))

        @sock.on("answer")
        def broken(*args: Any) -> None:
            raise RuntimeError("handler bug")

        @sock.on("question")
        async def question(x: int) -> tuple[int, str]:
            await asyncio.sleep(0)
            return x + 1, "async"

        @sock.on("question")
        def second_question_handler(x: int) -> str:
            return "ignored: only the first handler acknowledges"

        await sock.connect(timeout=10)
        with caplog.at_level(logging.ERROR, logger="plexio.aio.handlers"):
            sock.emit("ask", "question", 1)
            sock.emit("ask", "question", 2)
            await rec.wait_count("answer", 2)
        assert rec.of("answer") == [([2, "async"],), ([3, "async"],)]
        assert rec.of("once") == [([2, "async"],)]
        assert "handler bug" in caplog.text  # logged, contained
        assert ("ask", "question", 1) in rec.of("out")
        assert ("answer", [2, "async"]) in rec.of("any")
        seen_any = len(rec.of("any"))
        sock.off("answer")
        sock.off_any()
        sock.off_any_outgoing()
        sock.emit("ask", "question", 3)
        assert await sock.emit_with_ack("echo", "sync", timeout=5) == "sync"
        await asyncio.sleep(0.05)
        assert len(rec.of("answer")) == 2 and len(rec.of("any")) == seen_any
        assert ("echo", "sync") not in rec.of("out")


async def test_bad_emits_raise_at_once(server: RunningServer) -> None:
    async with Manager(server.http_url) as io:
        sock = io.socket("/")
        await sock.connect(timeout=10)
        with pytest.raises(LocalProtocolError):
            sock.emit("disconnect")  # reserved name
        queued = io.socket("/a", retries=1, ack_timeout=1)
        with pytest.raises(LocalProtocolError):
            queued.emit("connect")
        with pytest.raises(ValueError):
            sock.timeout(0)
        with pytest.raises(ValueError):
            io.socket("/b", retries=-1)


async def test_an_unencodable_emit_with_ack_raises_and_leaves_no_stray_future(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    import gc

    async with Manager(server.http_url) as io:
        sock = io.socket("/")
        await sock.connect(timeout=10)
        with pytest.raises(LocalProtocolError):
            await sock.emit_with_ack("echo", 2**70)  # beyond 64-bit: cannot be encoded
        assert sock.pending_acks == 0  # nothing waits for an ack of an emit that never left
        assert await sock.emit_with_ack("echo", "still fine") is not None
    gc.collect()
    await asyncio.sleep(0)
    assert "never retrieved" not in caplog.text


async def test_bad_auth_is_a_connect_error(server: RunningServer) -> None:
    async with Manager(server.http_url) as io:
        rec = Recorder()
        sock = io.socket("/a", auth=lambda: ["not", "a", "dict"])
        sock.on("connect_error", rec.handler("err"))
        with pytest.raises(TypeError):
            await sock.connect(timeout=10)
        (err,) = rec.of("err")[0]
        assert isinstance(err, TypeError)

        def failing() -> dict[str, Any]:
            raise RuntimeError("no token")

        sock2 = io.socket("/b", auth=failing)
        with pytest.raises(RuntimeError):
            await sock2.connect(timeout=10)


async def test_giving_up_after_reconnection_attempts(unused_tcp_port: int) -> None:
    io = Manager(
        f"http://127.0.0.1:{unused_tcp_port}",
        reconnection_attempts=2,
        reconnection_delay=0.01,
        reconnection_delay_max=0.02,
    )
    rec = Recorder()
    io.on("reconnect_attempt", rec.handler("attempt"))
    io.on("reconnect_failed", rec.handler("failed"))
    io.on("error", rec.handler("error"))
    sock = io.socket("/")
    sock.on("connect_error", rec.handler("connect_error"))
    with pytest.raises(ClientConnectionError, match="gave up after 2"):
        await sock.connect(timeout=20)
    assert rec.of("attempt") == [(1,), (2,)]
    assert rec.of("failed") == [()]
    assert len(rec.of("error")) == 3 == len(rec.of("connect_error"))
    assert all(isinstance(args[0], ClientConnectionError) for args in rec.of("connect_error"))
    await io.close()


async def test_pending_ack_fails_when_the_connection_drops() -> None:
    target = PlexioTarget()
    await target.start()
    try:
        async with Manager(target.url, reconnection=False) as io:
            sock = io.socket("/")
            await sock.connect(timeout=10)
            pending = asyncio.ensure_future(sock.emit_with_ack("noack"))
            await asyncio.sleep(0.1)
            await target.kill()
            with pytest.raises(DisconnectedError):
                await asyncio.wait_for(pending, 10)
            assert not sock.connected
            with pytest.raises(ClientConnectionError):
                await sock.connect(timeout=5)  # reconnection is off: the manager is done
    finally:
        await target.stop()


# ---------------------------------------------------------------- a server that never pings

SILENT_OPEN = (
    b'0{"sid":"silent","upgrades":[],"pingInterval":200,"pingTimeout":100,"maxPayload":100000}'
)


async def silent_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Engine.IO that opens a session, answers CONNECT, then never pings."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    assert scope["type"] == "http"
    query = parse_qs(scope["query_string"].decode())
    body = b"ok"
    if scope["method"] == "GET":
        if "sid" not in query:
            body = SILENT_OPEN
        else:
            await asyncio.sleep(0.05)
            body = b'40{"sid":"nsp-sid"}' if not scope.get("state") else b"6"
            scope.setdefault("state", {})
    else:
        while (await receive()).get("more_body"):
            pass
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain; charset=UTF-8")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def test_no_ping_means_ping_timeout(serve_uvicorn: Any) -> None:
    server = await serve_uvicorn(silent_app)
    async with Manager(server.http_url, reconnection=False, transports=["polling"]) as io:
        sock: ClientSocket = io.socket("/")
        rec = Recorder()
        sock.on("disconnect", rec.handler("disconnect"))
        await sock.connect(timeout=10)
        assert sock.id == "nsp-sid"
        # pingInterval + pingTimeout = 0.3 s without a ping: the server is considered gone.
        await rec.wait_count("disconnect", 1, timeout=10)
        assert rec.of("disconnect") == [("ping timeout",)]


async def test_failed_upgrade_falls_back_to_polling(
    serve_uvicorn: Any, app: ClientTestServer
) -> None:
    """The server offers WebSocket but every WebSocket is refused: polling goes on."""
    refused: list[str] = []

    async def no_websocket(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            refused.append(scope["path"])
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008})
            return
        await app.app(scope, receive, send)

    server = await serve_uvicorn(no_websocket)
    async with Manager(server.http_url, upgrade_timeout=2.0) as io:
        sock = io.socket("/a")
        await sock.connect(timeout=10)
        engine = io.engine_id
        async with asyncio.timeout(10):
            while not refused:
                await asyncio.sleep(0.01)
        for i in range(3):
            assert await sock.emit_with_ack("echo", i, timeout=5) == i
        assert io.transport == "polling" and io.engine_id == engine
        assert sock.connected
