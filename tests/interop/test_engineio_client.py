"""The official npm engine.io-client 6.x (under Node) against plexio's Engine.IO server.

plexio's echo server runs in the test's event loop (under uvicorn, and again under
plexio's native listener), so each test can look at the server side (sessions,
transports, disconnect reasons) while ``tests/interop/js/eio_client.js`` drives the
JS client and reports its events.
Covers PROTOCOL.md items 19-21, 24, 25-27, 31, 34, 35-37, 38-41, 44 end to end.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from tests.helpers.apps import EchoEngine, make_echo_engine
from tests.helpers.node import NodeProcess, node_process, run_node_script
from tests.helpers.servers import RunningServer
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.interop

SCRIPT = "eio_client.js"

#: name -> (client env, transport after open, transport once settled)
MODES: dict[str, tuple[dict[str, str], str, str]] = {
    "polling": ({"TRANSPORTS": "polling", "UPGRADE": "0"}, "polling", "polling"),
    "websocket": ({"TRANSPORTS": "websocket"}, "websocket", "websocket"),
    "upgrade": ({"TRANSPORTS": "polling,websocket"}, "polling", "websocket"),
}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class Pair:
    """A started echo server plus helpers to start engine.io-client against it."""

    def __init__(self, echo: EchoEngine, server: RunningServer) -> None:
        self.echo = echo
        self.server = server

    def client(self, mode: str, **env: str) -> Any:
        base, _, _ = MODES[mode]
        return node_process(
            SCRIPT, env={"SERVER_URL": self.server.http_url, **base, **env}, timeout=60
        )


@pytest.fixture(params=["uvicorn", "native"])
async def start_pair(
    request: pytest.FixtureRequest, serve_uvicorn: Any, serve_native: Any
) -> AsyncIterator[Callable[..., Awaitable[Pair]]]:
    serve = serve_uvicorn if request.param == "uvicorn" else serve_native

    async def start(**options: Any) -> Pair:
        options.setdefault("ping_interval", 0.3)
        options.setdefault("ping_timeout", 0.2)
        echo = make_echo_engine(**options)
        server = await serve(echo.app)
        return Pair(echo, server)

    yield start


async def open_settled(pair: Pair, proc: NodeProcess, mode: str) -> str:
    """Wait for the open (and the upgrade when expected); return the sid."""
    _, first, settled = MODES[mode]
    opened = await proc.read_event("open")
    assert opened["transport"] == first
    sid = opened["sid"]
    assert isinstance(sid, str) and sid
    if settled != first:
        upgraded = await proc.read_event("upgrade")
        assert upgraded["transport"] == settled
    await pair.echo.handler.wait_for(lambda: sid in pair.echo.handler.connected)
    socket = pair.echo.engine.sockets[sid]
    # The server agrees on the transport once the client says it upgraded.
    await eventually(lambda: socket.transport == settled or socket.closed)
    assert socket.transport == settled
    return sid


async def echo_roundtrip(proc: NodeProcess, item: dict[str, str]) -> None:
    await proc.send_json({"cmd": "send", **item})
    message = await proc.read_event("message")
    message.pop("event")
    assert message == item


@pytest.mark.parametrize("mode", list(MODES))
async def test_text_and_binary_echo(start_pair, mode: str) -> None:
    pair = await start_pair()
    async with pair.client(mode) as proc:
        sid = await open_settled(pair, proc, mode)
        await echo_roundtrip(proc, {"text": "hello"})
        await echo_roundtrip(proc, {"text": "héllo wörld ✓ 🎉"})
        # (An empty text message is not sent: engine.io-parser turns "4" into undefined.)
        await echo_roundtrip(proc, {"binary": b64(b"\x00\x01\x02\xff\xfe")})
        await echo_roundtrip(proc, {"binary": b64(bytes(range(256)) * 40)})
        await echo_roundtrip(proc, {"binary": b64(b"")})
        # The server saw text as str and binary as bytes.
        received = [data for s, data in pair.echo.handler.messages if s == sid]
        assert received[0] == "hello"
        assert received[2] == b"\x00\x01\x02\xff\xfe"
        assert isinstance(received[4], bytes) and received[4] == b""


@pytest.mark.parametrize("mode", list(MODES))
async def test_server_initiated_text_and_binary_arrive_typed(start_pair, mode: str) -> None:
    pair = await start_pair()
    async with pair.client(mode) as proc:
        sid = await open_settled(pair, proc, mode)
        socket = pair.echo.engine.sockets[sid]
        assert socket.send("from server")
        assert socket.send(b"\x10\x20from server")
        first = await proc.read_event("message")
        second = await proc.read_event("message")
        assert first == {"event": "message", "text": "from server"}
        assert second == {"event": "message", "binary": b64(b"\x10\x20from server")}


@pytest.mark.parametrize("mode", list(MODES))
async def test_many_messages_keep_their_order(start_pair, mode: str) -> None:
    pair = await start_pair()
    async with pair.client(mode) as proc:
        await open_settled(pair, proc, mode)
        items = [
            {"text": f"m{i}"} if i % 3 else {"binary": b64(i.to_bytes(2, "big"))} for i in range(60)
        ]
        for item in items:
            await proc.send_json({"cmd": "send", **item})
        got = []
        for _ in items:
            message = await proc.read_event("message")
            message.pop("event")
            got.append(message)
        assert got == items


@pytest.mark.parametrize("mode", list(MODES))
async def test_survives_several_heartbeats(start_pair, mode: str) -> None:
    pair = await start_pair(ping_interval=0.3, ping_timeout=0.2)
    async with pair.client(mode) as proc:
        sid = await open_settled(pair, proc, mode)
        for _ in range(4):
            ping = await proc.read_event("ping", timeout=5)
            assert ping["transport"] == MODES[mode][2]
        await echo_roundtrip(proc, {"text": "still here"})
        assert pair.echo.handler.reason_for(sid) is None
        assert sid in pair.echo.engine.sockets


@pytest.mark.parametrize("mode", list(MODES))
async def test_client_close_is_seen_by_the_server(start_pair, mode: str) -> None:
    pair = await start_pair()
    async with pair.client(mode) as proc:
        sid = await open_settled(pair, proc, mode)
        await echo_roundtrip(proc, {"text": "bye"})
        await proc.send_json({"cmd": "close"})
        closed = await proc.read_event("close")
        assert closed["reason"] == "forced close"  # engine.io-client's name for close()
        assert await proc.wait() == 0
    reason = await pair.echo.handler.wait_disconnected(sid)
    assert reason == "transport close"
    assert sid not in pair.echo.engine.sockets


@pytest.mark.parametrize("mode", list(MODES))
async def test_server_close_reaches_the_client(start_pair, mode: str) -> None:
    pair = await start_pair()
    async with pair.client(mode) as proc:
        sid = await open_settled(pair, proc, mode)
        pair.echo.engine.sockets[sid].close()
        closed = await proc.read_event("close")
        # The client learns it from the close packet / closed transport, not a timeout.
        assert closed["reason"] in ("transport close", "transport error")
        assert closed["reason"] != "ping timeout"
    assert await pair.echo.handler.wait_disconnected(sid) == "forced close"


async def test_upgrade_is_advertised_and_used(start_pair) -> None:
    pair = await start_pair()
    async with pair.client("upgrade") as proc:
        opened = await proc.read_event("open")
        upgrading = await proc.read_event("upgrading")
        upgraded = await proc.read_event("upgrade")
        assert (opened["transport"], upgrading["transport"], upgraded["transport"]) == (
            "polling",
            "websocket",
            "websocket",
        )
        sid = opened["sid"]
        await echo_roundtrip(proc, {"text": "over websocket"})
        assert pair.echo.engine.sockets[sid].transport == "websocket"


async def test_no_upgrade_when_server_disallows_it(start_pair) -> None:
    pair = await start_pair(allow_upgrades=False)
    async with pair.client("upgrade") as proc:
        opened = await proc.read_event("open")
        assert opened["transport"] == "polling"
        await echo_roundtrip(proc, {"text": "polling only"})
        # Two heartbeats later the client is still on polling.
        for _ in range(2):
            assert (await proc.read_event("ping", timeout=5))["transport"] == "polling"
        assert pair.echo.engine.sockets[opened["sid"]].transport == "polling"


async def test_several_clients_at_once(start_pair) -> None:
    pair = await start_pair()
    async with (
        pair.client("polling") as a,
        pair.client("websocket") as b,
        pair.client("upgrade") as c,
    ):
        sids = [
            await open_settled(pair, a, "polling"),
            await open_settled(pair, b, "websocket"),
            await open_settled(pair, c, "upgrade"),
        ]
        assert len(set(sids)) == 3
        for i, proc in enumerate((a, b, c)):
            await echo_roundtrip(proc, {"text": f"client {i}"})
        await a.send_json({"cmd": "close"})
        await pair.echo.handler.wait_disconnected(sids[0])
        # The others are unaffected.
        await echo_roundtrip(b, {"binary": b64(b"b")})
        await echo_roundtrip(c, {"binary": b64(b"c")})


async def test_client_splits_posts_under_a_small_max_payload(start_pair) -> None:
    # engine.io-client reads maxPayload from the handshake and keeps each POST under it
    # (PROTOCOL.md item 23); the server must take every one of those POSTs in order.
    pair = await start_pair(max_payload=2000)
    async with pair.client("polling") as proc:
        sid = await open_settled(pair, proc, "polling")
        items = [{"text": f"{i:03d}" + "x" * 297} for i in range(20)]
        items += [{"binary": b64(bytes([i]) * 300)} for i in range(5)]
        for item in items:
            await proc.send_json({"cmd": "send", **item})
        got = []
        for _ in items:
            message = await proc.read_event("message")
            message.pop("event")
            got.append(message)
        assert got == items
        assert pair.echo.handler.reason_for(sid) is None


async def test_many_clients_at_once_keep_their_own_streams(start_pair) -> None:
    pair = await start_pair(ping_interval=1.0, ping_timeout=2.0)
    clients, messages = 24, 40
    env = {"SERVER_URL": pair.server.http_url, "CLIENTS": str(clients), "MESSAGES": str(messages)}
    lines = await run_node_script("eio_many.js", env=env, timeout=60)
    results = [line for line in lines if "client" in line]
    assert len(results) == clients
    failed = [r for r in results if not r["ok"]]
    assert not failed, failed
    assert lines[-1] == {"done": True, "ok": True}
    sids = {r["sid"] for r in results}
    assert len(sids) == clients
    # The server saw each client's messages, in order, and every client leave.
    for sid in sids:
        assert len([d for s, d in pair.echo.handler.messages if s == sid]) == messages
    await pair.echo.handler.wait_for(lambda: sids <= {s for s, _ in pair.echo.handler.disconnected})
    await eventually(lambda: not pair.echo.engine.sockets)


@pytest.mark.parametrize("mode", list(MODES))
async def test_killed_client_leaves_nothing_behind(start_pair, mode: str) -> None:
    pair = await start_pair(ping_interval=0.3, ping_timeout=0.2)
    async with pair.client(mode) as proc:
        sid = await open_settled(pair, proc, mode)
        await echo_roundtrip(proc, {"text": "before the crash"})
        await proc.kill()  # SIGKILL-like end: no close packet, sockets just die
    reason = await pair.echo.handler.wait_disconnected(sid)
    # A dead WebSocket is seen at once; a dead poller only by the missed pong.
    assert reason in ("transport close", "transport error", "ping timeout")
    await eventually(lambda: sid not in pair.echo.engine.sockets)
