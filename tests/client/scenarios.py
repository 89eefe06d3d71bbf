"""Client scenarios run against both servers (plexio's and Node's socket.io 4.8).

Each scenario takes a started :class:`~tests.client.targets.Target` and the client
transports to use; ``tests/client/test_client_vs_plexio.py`` and
``tests/interop/test_client_vs_node.py`` parametrize them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from plexio.client import ClientSocket, Manager
from plexio.exceptions import AckTimeoutError, ConnectRefusedError, PayloadTooLargeError
from tests.client.proxy import Proxy
from tests.client.targets import Target
from tests.helpers.node import NodeProcess, node_process

__all__ = [
    "EXPECTED_REASONS",
    "SITUATIONS",
    "OfficialProbe",
    "PlexioProbe",
    "Probe",
    "Recorder",
    "acks_both_ways",
    "ack_timeout",
    "auth_refused_then_accepted",
    "disconnect_reason",
    "recovery_after_a_network_cut",
    "binary_both_ways",
    "manager_for",
    "multi_namespace_one_engine",
    "payload_over_max_is_refused",
    "reconnect_after_restart",
    "retries_deliver_at_least_once",
    "server_disconnect",
]

TRANSPORTS: dict[str, tuple[str, ...]] = {
    "upgrade": ("polling", "websocket"),
    "polling": ("polling",),
    "websocket": ("websocket",),
}


class Recorder:
    """Collects ``(event, args)`` from socket handlers and waits for conditions."""

    def __init__(self) -> None:
        self.items: list[tuple[str, tuple[Any, ...]]] = []
        self._changed = asyncio.Event()

    def handler(self, name: str) -> Callable[..., None]:
        """A handler that records ``(name, args)``."""

        def record(*args: Any) -> None:
            self.items.append((name, args))
            self._changed.set()

        return record

    def of(self, name: str) -> list[tuple[Any, ...]]:
        """Arguments of every recorded ``name``."""
        return [args for n, args in self.items if n == name]

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Waits until ``condition()`` holds."""
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    async def wait_count(self, name: str, count: int, timeout: float = 10.0) -> None:
        """Waits until ``name`` was recorded at least ``count`` times."""
        await self.wait_for(lambda: len(self.of(name)) >= count, timeout)


def manager_for(target: Target, transports: str, **kwargs: Any) -> Manager:
    """A manager for ``target`` with quick reconnection and the target's parser."""
    if target.parser == "msgpack":
        from plexio.socketio.msgpack import MsgPackParser

        kwargs.setdefault("parser", MsgPackParser())
    kwargs.setdefault("reconnection_delay", 0.1)
    kwargs.setdefault("reconnection_delay_max", 0.5)
    kwargs.setdefault("handshake_timeout", 5.0)
    return Manager(target.url, transports=TRANSPORTS[transports], **kwargs)


async def multi_namespace_one_engine(target: Target, transports: str) -> None:
    """Three namespaces share one Engine.IO session; the server sees the same one."""
    async with manager_for(target, transports) as io:
        socks = [io.socket(ns) for ns in ("/", "/a", "/b")]
        rec = Recorder()
        for sock in socks:
            sock.on("welcome", rec.handler(f"welcome{sock.namespace}"))
        await asyncio.gather(*(s.connect(timeout=10) for s in socks))
        assert all(s.connected for s in socks)
        infos = [await s.emit_with_ack("whoami", timeout=5) for s in socks]
        engine = io.engine_id
        assert engine is not None
        assert [i["nsp"] for i in infos] == ["/", "/a", "/b"]
        assert {i["engine"] for i in infos} == {engine}
        assert len({i["sid"] for i in infos}) == 3
        assert [i["sid"] for i in infos] == [s.id for s in socks]
        for ns in ("/", "/a", "/b"):
            await rec.wait_count(f"welcome{ns}", 1)
            assert rec.of(f"welcome{ns}") == [({"nsp": ns},)]
        if transports == "upgrade":
            await _wait(lambda: io.transport == "websocket")
            assert io.engine_id == engine  # the upgrade keeps the session
            again = await socks[1].emit_with_ack("whoami", timeout=5)
            assert again["engine"] == engine


async def acks_both_ways(target: Target, transports: str) -> None:
    """Client→server acks (first argument, all arguments) and server→client acks."""
    async with manager_for(target, transports) as io:
        sock = io.socket("/a")
        rec = Recorder()
        sock.on("answer", rec.handler("answer"))

        @sock.on("question")
        def question(*args: Any) -> Any:
            return ("yes", *args)

        @sock.on("slow_question")
        async def slow_question(x: Any) -> Any:
            await asyncio.sleep(0.01)
            return x * 2

        await sock.connect(timeout=10)
        assert await sock.emit_with_ack("echo", 1, "two", {"3": [True]}, timeout=5) == 1
        got: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        sock.emit("echo", 1, "two", {"3": [True]}, callback=lambda *a: got.set_result(a))
        assert await asyncio.wait_for(got, 5) == (1, "two", {"3": [True]})
        assert await sock.emit_with_ack("echo", timeout=5) is None
        sock.emit("ask", "question", 42, "x")
        sock.emit("ask", "slow_question", 21)
        await rec.wait_count("answer", 2)
        assert rec.of("answer") == [(["yes", 42, "x"],), ([42],)]


async def binary_both_ways(target: Target, transports: str) -> None:
    """Bytes in emits, acks and server→client acks keep their place and type."""
    async with manager_for(target, transports) as io:
        sock = io.socket("/")
        rec = Recorder()
        sock.on("answer", rec.handler("answer"))
        sock.on("mirror", lambda *args: args)
        await sock.connect(timeout=10)
        blob = bytes(range(256)) * 4
        got: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        payload = {"x": [b"ab", {"y": b""}], "n": 1}
        sock.emit("echo", blob, payload, "text", callback=lambda *a: got.set_result(a))
        assert await asyncio.wait_for(got, 5) == (blob, payload, "text")
        first = await sock.emit_with_ack("binary", timeout=5)
        assert first == b"\x01\x02\x03"
        sock.emit("ask", "mirror", b"\x00\xff", {"k": b"\x01"})
        await rec.wait_count("answer", 1)
        assert rec.of("answer") == [([b"\x00\xff", {"k": b"\x01"}],)]


async def auth_refused_then_accepted(target: Target, transports: str) -> None:
    """A refused CONNECT raises with message and data; other namespaces are unharmed."""
    async with manager_for(target, transports) as io:
        main = io.socket("/")
        await main.connect(timeout=10)
        bad = io.socket("/auth", auth={"token": "bad"})
        rec = Recorder()
        bad.on("connect_error", rec.handler("connect_error"))
        with pytest.raises(ConnectRefusedError) as info:
            await bad.connect(timeout=10)
        assert info.value.message == "unauthorized"
        assert info.value.data == {"why": "bad token"}
        assert not bad.connected and not bad.active
        assert len(rec.of("connect_error")) == 1
        assert main.connected
        bad.auth = {"token": "good"}
        await bad.connect(timeout=10)
        who = await bad.emit_with_ack("whoami", timeout=5)
        assert who["auth"] == {"token": "good"}
        assert who["engine"] == io.engine_id


async def ack_timeout(target: Target, transports: str) -> None:
    """An unanswered event fails with AckTimeoutError, in both ack styles."""
    async with manager_for(target, transports) as io:
        sock = io.socket("/")
        await sock.connect(timeout=10)
        with pytest.raises(AckTimeoutError):
            await sock.timeout(0.2).emit_with_ack("noack", 1)
        got: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        sock.timeout(0.2).emit("noack", callback=lambda *a: got.set_result(a))
        (err,) = await asyncio.wait_for(got, 5)
        assert isinstance(err, AckTimeoutError)
        ok: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        sock.timeout(5).emit("echo", "fine", callback=lambda *a: ok.set_result(a))
        assert await asyncio.wait_for(ok, 5) == (None, "fine")
        assert sock.connected  # a timeout is not a disconnect


async def retries_deliver_at_least_once(target: Target, transports: str) -> None:
    """With retries, an event the server ignored once is sent again and acknowledged."""
    async with manager_for(target, transports) as io:
        sock = io.socket("/", retries=3, ack_timeout=0.3)
        await sock.connect(timeout=10)
        assert await sock.emit_with_ack("count", "k1") == 2
        done: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        sock.emit("count", "k2", callback=lambda *a: done.set_result(a))
        assert await asyncio.wait_for(done, 5) == (None, 2)
        giving_up = io.socket("/b", retries=1, ack_timeout=0.2)
        await giving_up.connect(timeout=10)
        with pytest.raises(AckTimeoutError):
            await giving_up.emit_with_ack("noack")


async def server_disconnect(target: Target, transports: str) -> None:
    """A server-side disconnect of one namespace leaves the others connected."""
    async with manager_for(target, transports) as io:
        a, b = io.socket("/a"), io.socket("/b")
        rec = Recorder()
        a.on("disconnect", rec.handler("disconnect"))
        await a.connect(timeout=10)
        await b.connect(timeout=10)
        a.emit("kick")
        await rec.wait_count("disconnect", 1)
        assert rec.of("disconnect") == [("io server disconnect",)]
        assert not a.connected and not a.active
        assert b.connected
        assert await b.emit_with_ack("echo", "still", timeout=5) == "still"


async def reconnect_after_restart(target: Target, transports: str) -> None:
    """Kill and restart the server: every namespace reconnects on one new session,
    the auth callable is asked again, and events emitted meanwhile are delivered."""
    tokens = (f"tok-{i}" for i in itertools.count(1))
    a_tokens = (f"a-{i}" for i in itertools.count(1))
    async with manager_for(target, transports) as io:
        rec = Recorder()
        io.on("reconnect", rec.handler("reconnect"))
        auth_sock = io.socket("/auth", auth=lambda: {"token": next(tokens)})
        main = io.socket("/")

        async def async_auth() -> dict[str, Any]:
            await asyncio.sleep(0)
            return {"token": next(a_tokens)}

        a = io.socket("/a", auth=async_auth)
        queued = io.socket("/b", retries=2, ack_timeout=3.0)
        socks: list[ClientSocket] = [auth_sock, main, a, queued]
        for sock in socks:
            sock.on("connect", rec.handler(f"connect{sock.namespace}"))
            sock.on("disconnect", rec.handler(f"disconnect{sock.namespace}"))
        for sock in socks:
            await sock.connect(timeout=10)
        first = await auth_sock.emit_with_ack("whoami", timeout=5)
        assert first["auth"] == {"token": "tok-1"}
        assert (await a.emit_with_ack("whoami", timeout=5))["auth"] == {"token": "a-1"}
        old_engine = io.engine_id

        await target.kill()
        for sock in socks:
            await rec.wait_count(f"disconnect{sock.namespace}", 1)
        reasons = {args[0] for sock in socks for args in rec.of(f"disconnect{sock.namespace}")}
        assert reasons <= {"transport close", "transport error"}
        assert not any(s.connected for s in socks)
        # Emitted while disconnected: buffered, sent after the namespace reconnects.
        for i in range(3):
            main.emit("record", f"buffered-{i}")
        pending = asyncio.ensure_future(a.emit_with_ack("echo", "after", timeout=30))
        # With retries, the emit waits in the queue and goes out once reconnected.
        at_least_once = asyncio.ensure_future(queued.emit_with_ack("echo", "queued"))

        await target.start()
        for sock in socks:
            await rec.wait_count(f"connect{sock.namespace}", 2, timeout=20)
        assert rec.of("reconnect")
        assert await asyncio.wait_for(pending, 10) == "after"
        assert await asyncio.wait_for(at_least_once, 10) == "queued"
        infos = [await s.emit_with_ack("whoami", timeout=5) for s in socks]
        engine = io.engine_id
        assert engine is not None and engine != old_engine
        assert {i["engine"] for i in infos} == {engine}
        assert infos[0]["auth"] == {"token": "tok-2"}  # auth asked again
        assert infos[2]["auth"] == {"token": "a-2"}
        assert infos[3]["nsp"] == "/b"
        records = await main.emit_with_ack("records", timeout=5)
        assert records == ["buffered-0", "buffered-1", "buffered-2"]


async def payload_over_max_is_refused(target: Target, transports: str) -> None:
    """An event larger than the server's maxPayload (2000 here) raises at once;
    nothing is sent and the connection goes on."""
    async with manager_for(target, transports) as io:
        sock = io.socket("/")
        out = Recorder()
        sock.on_any_outgoing(out.handler("out"))
        await sock.connect(timeout=10)
        assert io.engine is not None and io.engine.session.max_payload == 2000
        with pytest.raises(PayloadTooLargeError):
            sock.emit("echo", "x" * 3000)
        with pytest.raises(PayloadTooLargeError):
            await sock.emit_with_ack("echo", b"\x00" * 3000)
        assert out.of("out") == []
        assert await sock.emit_with_ack("echo", "x" * 500, timeout=5) == "x" * 500
        queued = io.socket("/a", retries=1, ack_timeout=1.0)
        await queued.connect(timeout=10)
        with pytest.raises(PayloadTooLargeError):
            await queued.emit_with_ack("echo", "y" * 3000)
        assert await queued.emit_with_ack("echo", "fine") == "fine"
        engine = io.engine_id
        assert engine is not None and sock.connected


async def _wait(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


#: Scenarios run once per transport mode, against every target.
PER_TRANSPORT: list[Callable[[Any, str], Awaitable[None]]] = [
    multi_namespace_one_engine,
    acks_both_ways,
    binary_both_ways,
    reconnect_after_restart,
]
#: Scenarios run over polling-then-upgrade only, against every target.
UPGRADE_ONLY: list[Callable[[Any, str], Awaitable[None]]] = [
    auth_refused_then_accepted,
    ack_timeout,
    retries_deliver_at_least_once,
    server_disconnect,
]


# -- disconnect reasons -----------------------------------------------------------------

#: Every situation in which a client loses a namespace.
SITUATIONS = [
    "crash",
    "clean close",
    "ping timeout",
    "server disconnect",
    "parse error",
    "client disconnect",
]


def _expected(situation: str, transport: str) -> str:
    if situation == "crash":
        # A dead server under WebSocket: the socket just closes. Under polling the held
        # GET fails: engine.io-client's "xhr poll error".
        return "transport close" if transport == "websocket" else "transport error"
    return {
        "clean close": "transport close",
        "ping timeout": "ping timeout",
        "server disconnect": "io server disconnect",
        "parse error": "parse error",
        "client disconnect": "io client disconnect",
    }[situation]


#: What the official socket.io-client 4.8 reports in each situation, per transport;
#: ``tests/interop/test_client_vs_node.py`` checks every entry with it, against both
#: servers, and both client test files check plexio's client against it.
EXPECTED_REASONS: dict[tuple[str, str], str] = {
    (situation, transport): _expected(situation, transport)
    for situation in SITUATIONS
    for transport in ("websocket", "polling")
}


class Probe:
    """One client socket on ``/`` whose first ``disconnect`` reason the test reads."""

    async def start(self, target: Target, transport: str) -> None:
        """Connects (no reconnection)."""
        raise NotImplementedError

    async def emit(self, event: str) -> None:
        """Emits ``event`` without arguments."""
        raise NotImplementedError

    async def disconnect(self) -> None:
        """Leaves the namespace."""
        raise NotImplementedError

    async def reason(self, timeout: float = 10.0) -> str:
        """The reason of the first ``disconnect``."""
        raise NotImplementedError

    async def close(self) -> None:
        """Releases everything."""
        raise NotImplementedError


class PlexioProbe(Probe):
    """plexio's client."""

    def __init__(self) -> None:
        self.rec = Recorder()
        self.io: Manager | None = None
        self.sock: ClientSocket | None = None

    async def start(self, target: Target, transport: str) -> None:
        self.io = manager_for(target, transport, reconnection=False)
        self.sock = self.io.socket("/")
        self.sock.on("disconnect", self.rec.handler("disconnect"))
        await self.sock.connect(timeout=10)

    async def emit(self, event: str) -> None:
        assert self.sock is not None
        self.sock.emit(event)

    async def disconnect(self) -> None:
        assert self.sock is not None
        await self.sock.disconnect()

    async def reason(self, timeout: float = 10.0) -> str:
        await self.rec.wait_count("disconnect", 1, timeout)
        (reason,) = self.rec.of("disconnect")[0]
        assert isinstance(reason, str)
        return str(reason)

    async def close(self) -> None:
        if self.io is not None:
            await self.io.close()


class OfficialProbe(Probe):
    """The official socket.io-client 4.8 under Node (``tests/interop/js/reason_client.js``)."""

    def __init__(self) -> None:
        self._stack = contextlib.AsyncExitStack()
        self.proc: NodeProcess | None = None

    async def start(self, target: Target, transport: str) -> None:
        env = {"SERVER_URL": target.url, "TRANSPORTS": transport}
        self.proc = await self._stack.enter_async_context(
            node_process("reason_client.js", env=env, timeout=60)
        )
        await self.proc.read_event("connect", 10)

    async def emit(self, event: str) -> None:
        assert self.proc is not None
        await self.proc.send_json({"cmd": "emit", "event": event})

    async def disconnect(self) -> None:
        assert self.proc is not None
        await self.proc.send_json({"cmd": "disconnect"})

    async def reason(self, timeout: float = 10.0) -> str:
        assert self.proc is not None
        line = await self.proc.read_event("disconnect", timeout)
        return str(line["reason"])

    async def close(self) -> None:
        await self._stack.aclose()


async def disconnect_reason(target: Target, transport: str, situation: str, probe: Probe) -> str:
    """Puts ``probe``'s socket in ``situation`` and returns the reason it reported."""
    await probe.start(target, transport)
    try:
        if situation == "crash":
            await target.kill()
        elif situation == "clean close":
            await probe.emit("close_transport")
        elif situation == "ping timeout":
            target.pause()  # connections stay open; no ping comes
            try:
                return await probe.reason(timeout=15)
            finally:
                target.resume()
        elif situation == "server disconnect":
            await probe.emit("kick")
        elif situation == "parse error":
            await probe.emit("garbage")
        else:
            await probe.disconnect()
        return await probe.reason()
    finally:
        await probe.close()


# -- connection state recovery ----------------------------------------------------------


async def recovery_after_a_network_cut(target: Target, transports: str) -> None:
    """The server has connection state recovery on. The client's network goes away (a
    proxy between them is cut) while the server broadcasts to its room; once back, the
    client has its id and room again, ``recovered`` is true and it gets the missed
    events once and in order, then the live ones."""
    proxy = Proxy(target.port)
    await proxy.start()
    try:
        async with (
            Manager(
                proxy.url,
                transports=TRANSPORTS[transports],
                reconnection_delay=0.1,
                reconnection_delay_max=0.3,
                handshake_timeout=5.0,
            ) as io,
            manager_for(target, "websocket") as control,
        ):
            sock = io.socket("/", auth={"token": "t"})
            rec = Recorder()
            sock.on("news", rec.handler("news"))
            sock.on("connect", rec.handler("connect"))
            sock.on("disconnect", rec.handler("disconnect"))
            await sock.connect(timeout=10)
            assert not sock.recovered
            first_id = sock.id
            assert first_id is not None
            # Acknowledged: an emit may wait for an upgrade in progress, and the
            # broadcast below must find the socket in its room.
            await sock.emit_with_ack("join", "room", timeout=5)
            ctl = control.socket("/")
            await ctl.connect(timeout=10)
            assert first_id in await ctl.emit_with_ack("sockets", timeout=5)
            ctl.emit("broadcast_to", "room", 1)
            await rec.wait_count("news", 1)

            await proxy.cut()
            await rec.wait_count("disconnect", 1)
            # The server notices at once (WebSocket) or after a ping timeout (polling).
            async with asyncio.timeout(10):
                while first_id in await ctl.emit_with_ack("sockets", timeout=5):
                    await asyncio.sleep(0.1)
            ctl.emit("broadcast_to", "room", 2)
            ctl.emit("broadcast_to", "elsewhere", "not for it")
            ctl.emit("broadcast_to", "room", 3)
            assert await ctl.emit_with_ack("echo", "flushed", timeout=5) == "flushed"

            await proxy.restore()
            await rec.wait_count("connect", 2, timeout=15)
            assert sock.recovered
            assert sock.id == first_id
            await rec.wait_count("news", 3)
            ctl.emit("broadcast_to", "room", 4)  # still in its room
            await rec.wait_count("news", 4)
            news = rec.of("news")
            assert [args[:-1] for args in news] == [(1,), (2,), (3,), (4,)]
            assert all(isinstance(args[-1], str) for args in news)  # each with its offset
            assert len({args[-1] for args in news}) == 4
            who = await sock.emit_with_ack("whoami", timeout=5)
            assert (who["sid"], who["engine"]) == (first_id, io.engine_id)
            # Node's server shows the recovery keys in handshake.auth, plexio's does not.
            assert who["auth"]["token"] == "t"
    finally:
        await proxy.cut()


async def no_recovery_without_it_on_the_server(target: Target, transports: str) -> None:
    """Same cut with recovery off on the server: a new id, ``recovered`` false, and the
    CONNECT carried no pid (the server never gave one)."""
    proxy = Proxy(target.port)
    await proxy.start()
    try:
        async with Manager(
            proxy.url,
            transports=TRANSPORTS[transports],
            reconnection_delay=0.1,
            reconnection_delay_max=0.3,
        ) as io:
            sock = io.socket("/")
            rec = Recorder()
            sock.on("connect", rec.handler("connect"))
            sock.on("disconnect", rec.handler("disconnect"))
            await sock.connect(timeout=10)
            first_id = sock.id
            await proxy.cut()
            await rec.wait_count("disconnect", 1)
            await proxy.restore()
            await rec.wait_count("connect", 2, timeout=15)
            assert not sock.recovered
            assert sock.id != first_id
            who = await sock.emit_with_ack("whoami", timeout=5)
            assert who["auth"] == {}  # no pid, no offset
    finally:
        await proxy.cut()
