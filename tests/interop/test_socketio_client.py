"""The official npm socket.io-client 4.8 (under Node) against plexio's Socket.IO server.

plexio's :class:`~plexio.Server` runs under uvicorn in the test's event loop, so every
test can look at server state while ``tests/interop/js/sio_client.js`` drives the JS
client (managers = Engine.IO connections, sockets = namespaces) and reports each
event as a JSON line. Covers PROTOCOL.md sections G-I end to end: namespaces (static,
regex, callable), auth and middleware refusals, events and acks in both directions,
binary, rooms and broadcasts, broadcast acks with timeouts, the msgpack parser,
polling only / websocket only / upgrade, and the JS disconnect reasons.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from tests.helpers.node import NodeProcess, NodeScriptError, node_process
from tests.helpers.servers import RunningServer
from tests.server.raw import assert_clean, eventually

import plexio
from plexio import AckTimeoutError, ConnectRefusedError
from plexio.server.socket import ServerSocket
from plexio.socketio.msgpack import MsgPackParser

pytestmark = pytest.mark.interop

SCRIPT = "sio_client.js"

#: name -> (manager options, transport once settled)
MODES: dict[str, tuple[dict[str, Any], str]] = {
    "polling": ({"transports": ["polling"], "upgrade": False}, "polling"),
    "websocket": ({"transports": ["websocket"]}, "websocket"),
    "upgrade": ({"transports": ["polling", "websocket"]}, "websocket"),
}


def to_js(value: Any) -> Any:
    """Python value → JSON-lines value (bytes become ``{"$b64": ...}``)."""
    if isinstance(value, bytes | bytearray):
        return {"$b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, list | tuple):
        return [to_js(v) for v in value]
    if isinstance(value, dict):
        return {k: to_js(v) for k, v in value.items()}
    return value


def from_js(value: Any) -> Any:
    """JSON-lines value → Python value (``{"$b64": ...}`` becomes bytes)."""
    if isinstance(value, list):
        return [from_js(v) for v in value]
    if isinstance(value, dict):
        if list(value) == ["$b64"]:
            return base64.b64decode(value["$b64"])
        return {k: from_js(v) for k, v in value.items()}
    return value


class JsClient:
    """Commands for ``sio_client.js`` and a buffer of the events it reported."""

    def __init__(self, proc: NodeProcess) -> None:
        self.proc = proc
        self.events: list[dict[str, Any]] = []
        self._used: set[int] = set()

    async def command(self, cmd: str, **fields: Any) -> None:
        """Send a command and wait until the script has run it."""
        await self.proc.send_json({"cmd": cmd, **fields})
        await self.expect("done", cmd=cmd)

    async def expect(self, event: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        """The first unconsumed event named ``event`` whose fields equal ``match``."""

        def fits(index: int, line: dict[str, Any]) -> bool:
            return (
                index not in self._used
                and line.get("event") == event
                and all(line.get(k) == v for k, v in match.items())
            )

        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        checked = 0
        while True:
            for index in range(checked, len(self.events)):
                if fits(index, self.events[index]):
                    self._used.add(index)
                    return self.events[index]
            checked = len(self.events)
            line = await self.proc.read_json(max(0.0, end - loop.time()))
            if isinstance(line, dict):
                self.events.append(line)

    def seen(self, event: str, **match: Any) -> list[dict[str, Any]]:
        """Every event read so far (consumed or not) matching."""
        return [
            e
            for e in self.events
            if e.get("event") == event and all(e.get(k) == v for k, v in match.items())
        ]

    async def drain(self, seconds: float) -> None:
        """Reads whatever arrives for ``seconds`` (to check that nothing more comes)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (left := end - loop.time()) > 0:
            try:
                line = await self.proc.read_json(left)
            except NodeScriptError:
                if self.proc.returncode is not None:
                    raise
                return
            if isinstance(line, dict):
                self.events.append(line)

    async def exit(self) -> None:
        """Closes every connection of the script, which then ends."""
        await self.proc.send_json({"cmd": "exit"})
        await self.proc.read_rest()

    async def manager(self, mid: str, mode: str = "websocket", **opts: Any) -> None:
        """A new Engine.IO connection (created lazily by its first socket)."""
        await self.command("manager", mid=mid, **{**MODES[mode][0], **opts})

    async def socket(
        self, sid: str, mid: str, nsp: str = "/", auth: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Opens a socket and returns its ``connect`` event."""
        fields: dict[str, Any] = {"id": sid, "mid": mid, "nsp": nsp}
        if auth is not None:
            fields["auth"] = auth
        await self.command("socket", **fields)
        return await self.expect("connect", id=sid)

    async def refused(
        self, sid: str, mid: str, nsp: str, auth: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Opens a socket that must be refused; returns its ``connect_error`` event."""
        fields: dict[str, Any] = {"id": sid, "mid": mid, "nsp": nsp}
        if auth is not None:
            fields["auth"] = auth
        await self.command("socket", **fields)
        return await self.expect("connect_error", id=sid)

    async def emit(self, sid: str, event: str, *args: Any, **extra: Any) -> None:
        """``socket.emit(event, *args)`` on the JS side."""
        await self.command("emit", id=sid, event=event, args=to_js(list(args)), **extra)

    async def call(
        self, sid: str, event: str, *args: Any, timeout_ms: int | None = None
    ) -> list[Any]:
        """``socket.emit(event, *args, ack)`` on the JS side; returns the ack arguments."""
        tag = f"{sid}:{event}:{len(self.events)}"
        extra: dict[str, Any] = {"ack": True, "tag": tag}
        if timeout_ms is not None:
            extra["timeout"] = timeout_ms
        await self.emit(sid, event, *args, **extra)
        line = await self.expect("ack", id=sid, tag=tag)
        result: list[Any] = from_js(line["args"])
        return result

    async def recv(self, sid: str, name: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next event ``name`` the JS socket ``sid`` received (args decoded)."""
        line = await self.expect("recv", timeout=timeout, id=sid, name=name)
        return {**line, "args": from_js(line["args"])}


Start = Callable[..., Awaitable[tuple[plexio.Server, JsClient]]]


@pytest.fixture
async def start(serve_uvicorn: Any) -> AsyncIterator[Start]:
    """``server, js = await start(server)`` serves ``server`` and starts the JS driver."""
    procs: list[Any] = []

    async def run(server: plexio.Server) -> tuple[plexio.Server, JsClient]:
        running: RunningServer = await serve_uvicorn(plexio.ASGIApp(server))
        ctx = node_process(SCRIPT, env={"SERVER_URL": running.http_url}, timeout=90)
        proc = await ctx.__aenter__()
        procs.append(ctx)
        return server, JsClient(proc)

    yield run
    for ctx in reversed(procs):
        await ctx.__aexit__(None, None, None)


def quick_server(**kwargs: Any) -> plexio.Server:
    kwargs.setdefault("ping_interval", 0.5)
    kwargs.setdefault("ping_timeout", 0.5)
    return plexio.Server(**kwargs)


# ---------------------------------------------------------------- basics in every mode


@pytest.mark.parametrize("mode", list(MODES))
async def test_events_and_acks_both_ways(start: Start, mode: str) -> None:
    server = quick_server()
    hello: list[Any] = []

    @server.on("connection")
    def on_connection(socket: ServerSocket) -> None:
        socket.emit("hello", "world", {"n": 1})

    @server.on("echo")
    async def echo(socket: ServerSocket, *args: Any) -> tuple[Any, ...]:
        return args

    @server.on("note")
    def note(socket: ServerSocket, value: Any) -> None:
        hello.append(value)

    server, js = await start(server)
    await js.manager("m", mode)
    connected = await js.socket("a", "m")
    assert connected["transport"] in ("polling", "websocket")
    got = await js.recv("a", "hello")
    assert got["args"] == ["world", {"n": 1}]
    assert got["acked"] is False
    assert await js.call("a", "echo", 1, "2", {"3": [True]}) == [1, "2", {"3": [True]}]
    await js.emit("a", "note", "x")
    await eventually(lambda: hello == ["x"])
    (socket,) = server.sockets.sockets.values()
    assert socket.id == connected["sid"]
    assert socket.conn.engine.sid != socket.id
    if MODES[mode][1] == "websocket":
        await eventually(lambda: socket.transport == "websocket")
    else:
        assert socket.transport == "polling"
    # server → client ack, with a callback and with emit_with_ack
    replies: list[tuple[Any, ...]] = []
    socket.emit("question", 41, callback=lambda *a: replies.append(a))
    assert await socket.emit_with_ack("question", "why") == "why"
    await eventually(lambda: replies == [(41,)])
    assert (await js.recv("a", "question"))["acked"] is True
    await js.command("disconnect", id="a")
    line = await js.expect("disconnect", id="a")
    assert line["reason"] == "io client disconnect"
    await eventually(lambda: not server.sockets.sockets)


# ---------------------------------------------------------------- namespaces and auth


@pytest.mark.parametrize("mode", ["polling", "websocket"])
async def test_namespaces_dynamic_auth_and_refusals(start: Start, mode: str) -> None:
    server = quick_server()
    server.of("/chat").on("where", lambda socket: socket.nsp.name)
    commu = server.of(re.compile(r"/socket/commu-\d+"))

    @commu.use
    def auth(socket: ServerSocket) -> None:
        if socket.handshake.auth.get("token") != "good":
            raise ConnectRefusedError("unauthorized", {"why": "bad token", "code": 4})

    @commu.on("connection")
    def on_commu(socket: ServerSocket) -> None:
        socket.emit("welcome", socket.nsp.name, socket.handshake.auth)

    commu.on("where", lambda socket: socket.nsp.name)
    server, js = await start(server)
    await js.manager("m", mode)
    await js.socket("main", "m")
    await js.socket("chat", "m", "/chat")
    assert await js.call("chat", "where") == ["/chat"]
    # (a JS manager keeps one socket per namespace: the refused one gets its own)
    await js.manager("other", mode)
    refused = await js.refused("bad", "other", "/socket/commu-42", {"token": "nope"})
    assert refused["message"] == "unauthorized"
    assert refused["data"] == {"why": "bad token", "code": 4}
    unknown = await js.refused("nowhere", "m", "/random")
    assert unknown["message"] == "Invalid namespace"
    assert unknown["data"] is None
    ok = await js.socket("commu", "m", "/socket/commu-42", {"token": "good"})
    welcome = await js.recv("commu", "welcome")
    assert welcome["args"] == ["/socket/commu-42", {"token": "good"}]
    assert await js.call("commu", "where") == ["/socket/commu-42"]
    child = server.namespaces["/socket/commu-42"]
    assert set(child.sockets) == {ok["sid"]}
    # every namespace shares one Engine.IO connection (the manager multiplexes)
    joined = [sorted(s.state.sockets) for s in server.engine.sockets.values() if s.state.sockets]
    assert joined == [["/", "/chat", "/socket/commu-42"]]


async def test_callable_namespaces_sync_and_async(start: Start) -> None:
    server = quick_server()
    server.of(lambda name, auth: name.startswith("/sync-") and auth.get("ok") is True)

    async def allowed(name: str, auth: dict[str, Any]) -> bool:
        await asyncio.sleep(0.01)
        return name.startswith("/async-")

    server.of(allowed).on("hello", lambda socket: f"hello from {socket.nsp.name}")
    server, js = await start(server)
    await js.manager("m")
    await js.socket("s", "m", "/sync-1", {"ok": True})
    assert (await js.refused("s2", "m", "/sync-2", {"ok": False}))["message"] == (
        "Invalid namespace"
    )
    await js.socket("a", "m", "/async-9")
    assert await js.call("a", "hello") == ["hello from /async-9"]
    assert {"/sync-1", "/async-9"} <= set(server.namespaces)


async def test_cleanup_empty_child_namespaces(start: Start) -> None:
    server = quick_server(cleanup_empty_child_namespaces=True)
    server.of(re.compile(r"/room-\d+"))
    server, js = await start(server)
    await js.manager("m")
    await js.socket("main", "m")
    await js.socket("r", "m", "/room-1")
    assert "/room-1" in server.namespaces
    await js.command("disconnect", id="r")
    await eventually(lambda: "/room-1" not in server.namespaces)
    await js.command("connect", id="r")
    await js.expect("connect", id="r")
    assert "/room-1" in server.namespaces


# ---------------------------------------------------------------- payloads


@pytest.mark.parametrize("mode", list(MODES))
async def test_binary_payloads_nested_both_ways(start: Start, mode: str) -> None:
    server = quick_server()
    received: list[Any] = []

    @server.on("upload")
    def upload(socket: ServerSocket, *args: Any) -> tuple[Any, ...]:
        received.append(args)
        return ({"got": args[0]["files"][1], "n": len(args)}, b"\x00ack")

    server, js = await start(server)
    await js.manager("m", mode)
    await js.socket("a", "m")
    files = {"files": [b"\x00\x01\x02", b"\xff" * 300, {"deep": [b"x"]}], "name": "f"}
    reply = await js.call("a", "upload", files, b"tail")
    assert reply == [{"got": b"\xff" * 300, "n": 2}, b"\x00ack"]
    assert received == [(files, b"tail")]
    socket = next(iter(server.sockets.sockets.values()))
    socket.emit("download", {"list": [b"a", {"b": b"bb"}]}, b"\x01")
    got = await js.recv("a", "download")
    assert got["args"] == [{"list": [b"a", {"b": b"bb"}]}, b"\x01"]
    # a binary server → client ack
    answer = await socket.emit_with_ack("binary-question", b"\x10\x20")
    assert answer == b"\x10\x20"


@pytest.mark.parametrize("mode", ["polling", "websocket", "upgrade"])
async def test_msgpack_parser_on_both_sides(start: Start, mode: str) -> None:
    server = quick_server(parser=MsgPackParser())
    server.on("echo", lambda socket, *args: args)

    @server.of("/private").use
    def refuse(socket: ServerSocket) -> None:
        raise ConnectRefusedError("no entry", {"n": 1})

    @server.on("connection")
    def on_connection(socket: ServerSocket) -> None:
        socket.emit("hello", {"bin": b"\x00\xff", "list": [1, 2.5, None, True]})

    server, js = await start(server)
    await js.manager("m", mode, parser="msgpack")
    await js.socket("a", "m")
    hello = await js.recv("a", "hello")
    assert hello["args"] == [{"bin": b"\x00\xff", "list": [1, 2.5, None, True]}]
    assert await js.call("a", "echo", "x", {"b": b"\x01"}, 3) == ["x", {"b": b"\x01"}, 3]
    refused = await js.refused("p", "m", "/private")
    assert (refused["message"], refused["data"]) == ("no entry", {"n": 1})
    socket = next(iter(server.sockets.sockets.values()))
    assert await socket.emit_with_ack("q", [b"z"]) == [b"z"]
    server.emit("broadcast", b"\x02")
    assert (await js.recv("a", "broadcast"))["args"] == [b"\x02"]


# ---------------------------------------------------------------- rooms and broadcasts


async def test_rooms_and_broadcast_with_except(start: Start) -> None:
    server = quick_server()

    @server.on("join")
    def join(socket: ServerSocket, room: str) -> list[str]:
        socket.join(room)
        return sorted(socket.rooms - {socket.id})

    @server.on("leave")
    def leave(socket: ServerSocket, room: str) -> None:
        socket.leave(room)

    @server.on("shout")
    def shout(socket: ServerSocket, room: str, text: str) -> None:
        socket.to(room).emit("heard", socket.id, text)

    server, js = await start(server)
    sids = {}
    for name in ("a", "b", "c"):
        await js.manager(name)
        sids[name] = (await js.socket(name, name))["sid"]
    assert await js.call("a", "join", "red") == [["red"]]
    assert await js.call("b", "join", "red") == [["red"]]
    assert await js.call("b", "join", "blue") == [["blue", "red"]]
    assert await js.call("c", "join", "blue") == [["blue"]]
    await js.emit("a", "shout", "red", "hi reds")
    heard = await js.recv("b", "heard")
    assert heard["args"] == [sids["a"], "hi reds"]
    server.to("red").except_("blue").emit("only-a")
    server.to(["red", "blue"]).emit("everyone-once")
    server.except_("red").emit("only-c")
    assert (await js.recv("a", "only-a"))["args"] == []
    for name in ("a", "b", "c"):
        await js.recv(name, "everyone-once")
    await js.recv("c", "only-c")
    await js.call("b", "leave", "red")
    server.to("red").emit("reds-now")
    await js.recv("a", "reds-now")
    await js.drain(0.2)
    assert js.seen("recv", name="only-a", id="b") == []
    assert js.seen("recv", name="only-a", id="c") == []
    assert js.seen("recv", name="only-c", id="a") == []
    assert js.seen("recv", name="reds-now", id="b") == []
    assert len(js.seen("recv", name="everyone-once", id="b")) == 1
    assert js.seen("recv", name="heard", id="a") == []


async def test_broadcast_acks_with_timeout(start: Start) -> None:
    server = quick_server()
    server, js = await start(server)
    for name in ("a", "b", "c"):
        await js.manager(name)
        await js.socket(name, name)
        await js.command("reply", id=name, event="vote", mode="value", value=[f"vote-{name}"])
    replies = await server.timeout(5).emit_with_ack("vote", "question")
    assert sorted(replies) == ["vote-a", "vote-b", "vote-c"]
    await js.command("reply", id="c", event="vote", mode="none")
    with pytest.raises(AckTimeoutError) as caught:
        await server.timeout(0.5).emit_with_ack("vote", "again")
    assert sorted(caught.value.responses) == ["vote-a", "vote-b"]
    for socket in server.sockets.sockets.values():
        assert socket.pending_acks == 0


# ---------------------------------------------------------------- acks and timeouts


async def test_socket_timeout_and_client_side_timeouts(start: Start) -> None:
    server = quick_server()
    server.on("slow", lambda socket: None)  # acknowledges with no arguments
    server, js = await start(server)
    await js.manager("m")
    await js.socket("a", "m")
    socket = next(iter(server.sockets.sockets.values()))
    await js.command("reply", id="a", event="ignored", mode="none")
    with pytest.raises(AckTimeoutError):
        await socket.timeout(0.3).emit_with_ack("ignored", 1)
    assert socket.pending_acks == 0
    results: list[tuple[Any, ...]] = []
    socket.timeout(5).emit("answered", 2, callback=lambda *a: results.append(a))
    await eventually(lambda: results == [(None, 2)])
    # the client's own ack timeout: an event nobody handles is never acknowledged
    await js.emit("a", "nobody-handles-this", ack=True, timeout=300, tag="t1")
    line = await js.expect("ack_error", id="a", tag="t1")
    assert "timed out" in line["message"]
    assert await js.call("a", "slow", timeout_ms=5000) == []


# ---------------------------------------------------------------- listeners and middleware


async def test_catch_all_listeners_and_packet_middleware(start: Start) -> None:
    server = quick_server()
    log: list[Any] = []

    @server.on("connection")
    def on_connection(socket: ServerSocket) -> None:
        socket.on_any(lambda event, *args: log.append(("any", event, list(args))))
        socket.prepend_any(lambda event, *args: log.append(("first", event)))
        socket.on_any_outgoing(lambda event, *args: log.append(("out", event, list(args))))

        def guard(args: list[Any]) -> None:
            if args[0] == "forbidden":
                raise PermissionError("forbidden event")

        socket.use(guard)
        socket.on("error", lambda exc: socket.emit("refused", str(exc)))

    server.on("ok", lambda socket, x: x * 2)
    server.on("forbidden", lambda socket: "should not run")
    server, js = await start(server)
    await js.manager("m")
    await js.socket("a", "m")
    assert await js.call("a", "ok", 21) == [42]
    await js.emit("a", "forbidden", ack=True, tag="f")
    refused = await js.recv("a", "refused")
    assert refused["args"] == ["forbidden event"]
    await js.drain(0.1)
    assert js.seen("ack", tag="f") == []
    # catch-all listeners see refused events too (before the middleware), as in JS
    assert log == [
        ("first", "ok"),
        ("any", "ok", [21]),
        ("first", "forbidden"),
        ("any", "forbidden", []),
        ("out", "refused", ["forbidden event"]),
    ]


# ---------------------------------------------------------------- disconnects


@pytest.mark.parametrize("mode", ["polling", "websocket"])
async def test_disconnect_reasons_on_both_sides(start: Start, mode: str) -> None:
    server = quick_server(ping_interval=0.2, ping_timeout=0.2)
    reasons: dict[str, str] = {}
    rooms_while_disconnecting: dict[str, set[str]] = {}

    @server.on("connection")
    def on_connection(socket: ServerSocket) -> None:
        name = socket.handshake.auth["name"]
        socket.join("room-" + name)
        socket.on(
            "disconnecting",
            lambda reason: rooms_while_disconnecting.__setitem__(name, set(socket.rooms)),
        )

    @server.on("disconnect")
    def on_disconnect(socket: ServerSocket, reason: str) -> None:
        reasons[socket.handshake.auth["name"]] = reason

    @server.on("kick")
    def kick(socket: ServerSocket, close: bool) -> None:
        socket.disconnect(close=close)

    server, js = await start(server)
    for name in ("client", "server", "close", "transport", "ping"):
        await js.manager(name, mode)
        await js.socket(name, name, auth={"name": name})
    socket_ids = {s.handshake.auth["name"]: s.id for s in server.sockets.sockets.values()}

    await js.command("disconnect", id="client")
    assert (await js.expect("disconnect", id="client"))["reason"] == "io client disconnect"
    await js.emit("server", "kick", False)
    assert (await js.expect("disconnect", id="server"))["reason"] == "io server disconnect"
    await js.emit("close", "kick", True)
    assert (await js.expect("disconnect", id="close"))["reason"] == "io server disconnect"
    await js.command("close_engine", mid="transport")
    await js.expect("disconnect", id="transport")
    await js.command("freeze_engine", mid="ping")
    await eventually(lambda: len(reasons) == 5, timeout=10)
    assert reasons == {
        "client": "client namespace disconnect",
        "server": "server namespace disconnect",
        "close": "server namespace disconnect",
        "transport": "transport close",
        "ping": "ping timeout",
    }
    for name, rooms in rooms_while_disconnecting.items():
        assert rooms == {socket_ids[name], "room-" + name}
    # a JS manager closes its Engine.IO connection once no socket is left on it
    await eventually(lambda: not server.engine.sockets)
    assert_clean(server)
    await js.command("connect", id="client")
    await js.expect("connect", id="client")
    await js.exit()
    await eventually(lambda: not server.engine.sockets, timeout=10)
    assert_clean(server)


@pytest.mark.parametrize("mode", list(MODES))
async def test_server_side_operations(start: Start, mode: str) -> None:
    server = quick_server()
    server, js = await start(server)
    for name in ("a", "b"):
        await js.manager(name, mode)
        await js.socket(name, name, auth={"name": name})
    for socket in await server.fetch_sockets():
        socket.data["name"] = socket.handshake.auth["name"]
    assert sorted(s.data["name"] for s in await server.fetch_sockets()) == ["a", "b"]
    server.sockets_join("all")
    # volatile packets are dropped unless the transport is ready (as in the reference
    # server): wait until every client is upgraded, or holds a GET when polling
    if mode == "upgrade":
        await eventually(
            lambda: all(s.transport == "websocket" for s in server.engine.sockets.values())
        )
    elif mode == "polling":
        await eventually(lambda: all(s.get_held for s in server.engine.sockets.values()))
    server.to("all").volatile.emit("v", 1)
    server.to("all").compress(False).emit("c", 2)
    server.local.emit("l", 3)
    for name in ("a", "b"):
        assert (await js.recv(name, "v"))["args"] == [1]
        assert (await js.recv(name, "c"))["args"] == [2]
        assert (await js.recv(name, "l"))["args"] == [3]
    server.sockets_leave("all")
    server.to("all").emit("nobody")
    server.disconnect_sockets()
    for name in ("a", "b"):
        assert (await js.expect("disconnect", id=name))["reason"] == "io server disconnect"
    assert js.seen("recv", name="nobody") == []
    await js.exit()
    await eventually(lambda: not server.engine.sockets, timeout=10)
    assert_clean(server)


async def test_upgrade_keeps_every_event_in_order(start: Start) -> None:
    server = quick_server()
    count = 200

    @server.on("connection")
    def on_connection(socket: ServerSocket) -> None:
        for n in range(count):
            socket.emit("seq", n)

    got: list[int] = []
    server.on("seq", lambda socket, n: got.append(n))
    server, js = await start(server)
    await js.manager("m", "upgrade")
    await js.socket("a", "m")
    for n in range(count):
        await js.proc.send_json({"cmd": "emit", "id": "a", "event": "seq", "args": [n]})
    await js.expect("upgrade", mid="m")
    received = [(await js.recv("a", "seq"))["args"][0] for _ in range(count)]
    assert received == list(range(count))
    await eventually(lambda: len(got) == count)
    assert got == list(range(count))
    (socket,) = server.sockets.sockets.values()
    assert socket.transport == "websocket"
