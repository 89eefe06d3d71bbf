"""Dynamic child namespaces: refused CONNECTs leave none behind; of(name) finds the parent."""

from __future__ import annotations

import asyncio
import re

import plexio
from plexio import ConnectRefusedError
from plexio.server.engine import EngineSocket
from plexio.transports.base import HttpRequest
from tests.helpers.sinks import RecordingSink


async def connect(sio: plexio.Server) -> tuple[EngineSocket, RecordingSink]:
    sink = RecordingSink()
    request = HttpRequest("GET", "/socket.io/", {"EIO": "4", "transport": "websocket"}, {})
    socket = await sio.engine.open_websocket(request, sink)
    return socket, sink


async def settle(sio: plexio.Server) -> None:
    for _ in range(4):  # the last one: the engine's flush at the end of the tick
        await asyncio.sleep(0)


def regex_server() -> tuple[plexio.Server, plexio.ParentNamespace]:
    sio = plexio.Server()
    parent = sio.of(re.compile(r"/socket/commu-\d+"))

    @parent.use
    async def token(socket: plexio.ServerSocket) -> None:
        await asyncio.sleep(0)
        if socket.handshake.auth.get("token") != "ok":
            raise ConnectRefusedError("unauthorized")

    return sio, parent


async def test_refused_connects_leave_no_child_namespace_behind() -> None:
    sio, parent = regex_server()
    engine_socket, sink = await connect(sio)
    for n in range(50):
        engine_socket.ws_received(sink, [f"40/socket/commu-{n},{{}}"])
    await settle(sio)
    refusals = [f for f in sink.frames if isinstance(f, str) and f.startswith("44/socket/commu-")]
    assert len(refusals) == 50
    assert set(sio.namespaces) == {"/"} and parent.children == {}


async def test_a_child_with_a_socket_stays_and_refusals_do_not_drop_it() -> None:
    sio, parent = regex_server()
    good, good_sink = await connect(sio)
    good.ws_received(good_sink, ['40/socket/commu-1,{"token":"ok"}'])
    await settle(sio)
    assert "/socket/commu-1" in sio.namespaces
    bad, bad_sink = await connect(sio)
    bad.ws_received(bad_sink, ["40/socket/commu-1,{}"])
    await settle(sio)
    assert any(isinstance(f, str) and f.startswith("44/socket/commu-1,") for f in bad_sink.frames)
    assert len(sio.namespaces["/socket/commu-1"].sockets) == 1


async def test_of_a_name_matching_a_regex_parent_returns_its_child() -> None:
    sio, parent = regex_server()
    seen: list[str] = []

    @parent.on("connection")
    def joined(socket: plexio.ServerSocket) -> None:
        seen.append(socket.nsp.name)

    child = sio.of("/socket/commu-9")
    assert child.parent is parent and parent.children["/socket/commu-9"] is child
    assert sio.of("/socket/commu-9") is child
    assert sio.of("/elsewhere").parent is None
    # A refused client does not remove a namespace the application asked for.
    bad, bad_sink = await connect(sio)
    bad.ws_received(bad_sink, ["40/socket/commu-9,{}"])
    await settle(sio)
    assert sio.namespaces["/socket/commu-9"] is child
    # The parent's middleware and handlers apply to it.
    good, good_sink = await connect(sio)
    good.ws_received(good_sink, ['40/socket/commu-9,{"token":"ok"}'])
    await settle(sio)
    assert seen == ["/socket/commu-9"]
    child.emit("hello", 1)
    await asyncio.sleep(0)  # the engine's flush at the end of the tick
    assert '42/socket/commu-9,["hello",1]' in good_sink.frames
