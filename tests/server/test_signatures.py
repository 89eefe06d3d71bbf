"""Handlers that take the Ack themselves, and handlers whose payload is validated.

Wire results are checked frame by frame (``43<id>[...]`` is an ACK packet).
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pydantic
import pytest
from typing_extensions import TypedDict  # pydantic needs it on Python 3.11

import plexio
from plexio.server.signatures import special_handlers
from tests.server.conftest import Serve
from tests.server.raw import eventually, raw_socketio


async def test_return_value_style_wire_results(serve: Serve) -> None:
    sio = plexio.Server()

    @sio.on("none")
    def none(socket: plexio.ServerSocket) -> None:
        return None

    @sio.on("pair")
    def pair(socket: plexio.ServerSocket) -> tuple[int, str]:
        return 1, "a"

    running = await serve(sio)
    async with raw_socketio(running.ws_url) as raw:
        await raw.connect()
        await raw.send('421["none"]', '422["pair"]')
        assert await raw.recv() == "431[]"  # return None: no argument (Node's ack() )
        assert await raw.recv() == '432[1,"a"]'


async def test_handler_takes_the_ack_function(serve: Serve) -> None:
    sio = plexio.Server()
    later: list[plexio.Ack] = []

    @sio.on("null")
    def null(socket: plexio.ServerSocket, ack: plexio.Ack) -> str:
        ack(None)  # as Node's ack(null)
        return "the return value no longer acks"

    @sio.on("several")
    def several(socket: plexio.ServerSocket, a: int, ack: plexio.Ack) -> None:
        ack(a, a + 1, {"x": a})
        ack("second call: ignored, as in Node")

    @sio.on("later")
    async def keep(socket: plexio.ServerSocket, ack: plexio.Ack) -> None:
        assert ack.requested
        later.append(ack)

    @sio.on("never")
    def never(socket: plexio.ServerSocket, ack: plexio.Ack) -> None:
        pass

    @sio.on("unasked")
    def unasked(socket: plexio.ServerSocket, ack: plexio.Ack) -> None:
        assert not ack.requested
        ack("goes nowhere")

    running = await serve(sio)
    async with raw_socketio(running.ws_url) as raw:
        await raw.connect()
        await raw.send('421["null"]', '422["several",5]', '423["later"]', '424["never"]')
        await raw.send('42["unasked"]')
        assert await raw.recv() == "431[null]"
        assert await raw.recv() == '432[5,6,{"x":5}]'

        async def from_another_task() -> None:
            later[0]("done")

        await asyncio.get_running_loop().create_task(from_another_task())
        assert await raw.recv() == '433["done"]'
        assert await raw.silent(0.3) == []  # "never" and "unasked" sent nothing


def test_ack_parameters_are_checked_at_registration() -> None:
    sio = plexio.Server()
    with pytest.raises(TypeError, match="two Ack parameters"):

        @sio.on("x")
        def two(socket: plexio.ServerSocket, a: plexio.Ack, b: plexio.Ack) -> None: ...

    with pytest.raises(TypeError, match="passed by keyword"):

        @sio.on("y")
        def positional(socket: plexio.ServerSocket, ack: plexio.Ack, /) -> None: ...


class Message(pydantic.BaseModel):
    channel_id: int
    body: str = pydantic.Field(min_length=1, max_length=100)


@dataclasses.dataclass
class Point:
    x: float
    y: float


class Typing(TypedDict):
    channel_id: int


async def test_validated_payloads(serve: Serve) -> None:
    sio = plexio.Server()
    seen: list[Any] = []

    @sio.on("message:send")
    def send(socket: plexio.ServerSocket, message: Message) -> dict[str, Any]:
        seen.append(message)
        return {"ok": True, "data": message.model_dump()}

    @sio.on("move")
    def move(socket: plexio.ServerSocket, room: str, to: Point) -> float:
        seen.append(to)
        return to.x + to.y

    @sio.on("typing")
    def typing(socket: plexio.ServerSocket, what: Typing, ack: plexio.Ack) -> None:
        seen.append(what)
        ack("typing")

    running = await serve(sio)
    async with raw_socketio(running.ws_url) as raw:
        await raw.connect()
        await raw.send('421["message:send",{"channel_id":"7","body":"hi"}]')
        assert await raw.recv_json("431") == [{"ok": True, "data": {"channel_id": 7, "body": "hi"}}]
        assert seen == [Message(channel_id=7, body="hi")]

        await raw.send('422["message:send",{"channel_id":1,"body":""}]')
        [error] = await raw.recv_json("432")
        assert error["ok"] is False
        assert error["error"]["code"] == "invalid_payload"
        assert error["error"]["details"][0]["loc"] == ["body"]
        assert "message:send" in error["error"]["message"]

        await raw.send('423["message:send"]')  # the payload is missing
        [error] = await raw.recv_json("433")
        assert error["error"]["details"][0]["type"] == "missing"

        await raw.send('424["move","r",{"x":1,"y":2.5}]', '425["move","r",{"x":1}]')
        assert await raw.recv() == "434[3.5]"
        [error] = await raw.recv_json("435")
        assert error["error"]["details"][0]["loc"] == ["y"]

        await raw.send('426["typing",{"channel_id":3}]', '427["typing",{}]')
        assert await raw.recv() == '436["typing"]'
        assert (await raw.recv_json("437"))[0]["error"]["code"] == "invalid_payload"

        await raw.send('42["message:send",{"body":1}]')  # no ack asked: dropped, logged
        assert await raw.silent(0.3) == []
    assert seen == [Message(channel_id=7, body="hi"), Point(1, 2.5), {"channel_id": 3}]


def test_unannotated_and_plainly_annotated_handlers_are_not_special() -> None:
    from plexio.server.signatures import special_handlers

    sio = plexio.Server()

    @sio.on("a")
    def plain(socket, text):  # type: ignore[no-untyped-def]
        return text

    @sio.on("b")
    def annotated(socket: plexio.ServerSocket, text: str, n: int) -> str:
        return text * n

    assert plain not in special_handlers() and annotated not in special_handlers()


async def test_the_error_ack_is_the_servers_choice(serve: Serve) -> None:
    def answer(error: plexio.PayloadValidationError) -> dict[str, Any]:
        return {"ok": False, "error": {"code": "invalid_input", "message": str(error)}}

    sio = plexio.Server(invalid_payload=answer)

    @sio.on("message:send")
    def send(socket: plexio.ServerSocket, message: Message) -> None: ...

    running = await serve(sio)
    async with raw_socketio(running.ws_url) as raw:
        await raw.connect()
        await raw.send('421["message:send",{"channel_id":"x"}]')
        [reply] = await raw.recv_json("431")
        assert reply["error"]["code"] == "invalid_input"
        assert "channel_id" in reply["error"]["message"]


class Posted(pydantic.BaseModel):
    id: int
    body: str


async def test_declared_outgoing_events(serve: Serve) -> None:
    sio = plexio.Server()
    sio.sockets.emits("message:new", Posted, int)
    failures: list[Exception] = []

    @sio.on("post")
    def post(socket: plexio.ServerSocket, body: str) -> None:
        socket.emit("message:new", Posted(id=1, body=body), 7)  # a model: sent as a dict
        sio.emit("message:new", {"id": "2", "body": body}, 8)  # a dict: checked (and fixed)
        for wrong in ((Posted(id=3, body="x"),), ({"id": "nope", "body": "x"}, 9)):
            try:
                sio.emit("message:new", *wrong)
            except plexio.PayloadValidationError as exc:
                failures.append(exc)
        socket.emit("undeclared", Point(1, 2))  # undeclared: as it is (orjson: a dict)

    running = await serve(sio)
    async with raw_socketio(running.ws_url) as raw:
        await raw.connect()
        await raw.send('42["post","hi"]')
        assert await raw.recv_json("42") == ["message:new", {"id": 1, "body": "hi"}, 7]
        assert await raw.recv_json("42") == ["message:new", {"id": 2, "body": "hi"}, 8]
        assert await raw.recv_json("42") == ["undeclared", {"x": 1.0, "y": 2.0}]
    assert [type(f) for f in failures] == [plexio.PayloadValidationError] * 2
    assert "declared with 2 argument(s), emitted with 1" in str(failures[0])
    assert "argument 0: id" in str(failures[1])


async def test_socket_level_handlers_take_the_ack_and_validate_too(serve: Serve) -> None:
    sio = plexio.Server()

    @sio.on("connection")
    def joined(socket: plexio.ServerSocket) -> None:
        @socket.on("move")
        def move(to: Point, ack: plexio.Ack) -> None:
            ack(to.x, to.y)

    running = await serve(sio)
    async with raw_socketio(running.ws_url) as raw:
        await raw.connect()
        await raw.send('421["move",{"x":1,"y":2}]', '422["move",{"x":1}]')
        assert await raw.recv() == "431[1.0,2.0]"
        assert (await raw.recv_json("432"))[0]["error"]["details"][0]["loc"] == ["y"]


@dataclasses.dataclass
class Spot:
    x: int


def test_validation_without_pydantic_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pydantic", None)
    sio = plexio.Server()
    with pytest.raises(TypeError, match=r"pip install 'plexio\[pydantic\]'"):

        @sio.on("spot")
        def spot(socket: plexio.ServerSocket, where: Spot) -> None: ...

    with pytest.raises(TypeError, match=r"pip install 'plexio\[pydantic\]'"):
        sio.sockets.emits("spot", Spot)


class Vote(pydantic.BaseModel):
    choice: str


async def test_acknowledgements_checked_against_returns(serve: Serve) -> None:
    sio = plexio.Server()
    got: list[Any] = []

    @sio.on("connection")
    async def ask(socket: plexio.ServerSocket) -> None:
        vote = await socket.timeout(5).emit_with_ack("vote", returns=Vote)
        got.append(vote)
        try:
            await socket.timeout(5).emit_with_ack("count", returns=Vote)
        except plexio.PayloadValidationError as exc:
            got.append(str(exc))
        got.append(await sio.timeout(5).emit_with_ack("count", returns=int))

    running = await serve(sio)
    async with plexio.Manager(running.http_url) as io:
        sock = io.socket("/")
        sock.on("vote", lambda: {"choice": "tea"})
        sock.on("count", lambda: 3)
        await sock.connect()
        for _ in range(250):  # bounded: until the connection handler is done
            if len(got) == 3:
                break
            await asyncio.sleep(0.02)
    assert got[0] == Vote(choice="tea")
    assert got[1].startswith("count (acknowledgement): argument 0")
    assert got[2] == [3]


async def test_models_defined_in_a_function_are_found(serve: Serve) -> None:
    # this module uses ``from __future__ import annotations``: "Local" is a string here
    class Local(pydantic.BaseModel):
        n: int

    sio = plexio.Server()

    @sio.on("local")
    def local(socket: plexio.ServerSocket, value: Local) -> int:
        return value.n * 2

    running = await serve(sio)
    async with raw_socketio(running.ws_url) as raw:
        await raw.connect()
        await raw.send('421["local",{"n":"21"}]', '422["local",{}]')
        assert await raw.recv() == "431[42]"
        assert (await raw.recv_json("432"))[0]["error"]["code"] == "invalid_payload"


def test_unresolvable_annotations_are_reported(caplog: pytest.LogCaptureFixture) -> None:
    sio = plexio.Server()

    @sio.on("ghost")
    def ghost(socket: plexio.ServerSocket, value: NoSuchModel) -> None:  # type: ignore[name-defined]  # noqa: F821
        ...

    assert "its annotations cannot be resolved" in caplog.text


async def test_socket_once_takes_the_ack_and_validates_as_on_does(serve: Serve) -> None:
    sio = plexio.Server()
    calls: list[Point] = []

    @sio.on("connection")
    def joined(socket: plexio.ServerSocket) -> None:
        @socket.once("move")
        def move(to: Point, ack: plexio.Ack) -> None:
            calls.append(to)
            ack(to.x, to.y)

    running = await serve(sio)
    async with raw_socketio(running.ws_url) as raw:
        await raw.connect()
        # a payload that fails validation does not call the handler, nor use it up
        await raw.send('421["move",{"x":1}]')
        assert (await raw.recv_json("431"))[0]["error"]["details"][0]["loc"] == ["y"]
        await raw.send('422["move",{"x":1,"y":2}]', '423["move",{"x":3,"y":4}]')
        assert await raw.recv() == "432[1.0,2.0]"
        assert await raw.silent(0.3) == []  # the second valid one finds no handler
    assert calls == [Point(1.0, 2.0)]


async def test_namespace_once_is_called_for_one_socket_only(serve: Serve) -> None:
    sio = plexio.Server()

    @sio.once("claim")
    def claim(socket: plexio.ServerSocket, prize: Message, ack: plexio.Ack) -> None:
        ack(socket.id, prize.body)

    @sio.once("never")
    def never(socket: plexio.ServerSocket) -> str:
        return "removed before any call"

    sio.off("never", never)  # a once handler is removed by its function, as in Node
    running = await serve(sio)
    async with raw_socketio(running.ws_url) as first, raw_socketio(running.ws_url) as second:
        first_id = await first.connect()
        await second.connect()
        await first.send('421["claim",{"channel_id":1}]')  # invalid: not used up
        assert (await first.recv_json("431"))[0]["error"]["code"] == "invalid_payload"
        await first.send('422["claim",{"channel_id":1,"body":"cup"}]')
        assert await first.recv_json("432") == [first_id, "cup"]
        await second.send('421["claim",{"channel_id":1,"body":"cup"}]', '422["never"]')
        assert await second.silent(0.3) == []
    assert "claim" not in sio.sockets.handlers or sio.sockets.handlers["claim"] == []


async def test_socket_level_special_handlers_leave_the_registry_with_their_socket(
    serve: Serve,
) -> None:
    sio = plexio.Server()
    special = special_handlers()
    per_socket: list[Any] = []

    def shared(to: Point, ack: plexio.Ack) -> None:  # one function, on every socket
        ack(to.x)

    @sio.on("connection")
    def joined(socket: plexio.ServerSocket) -> None:
        @socket.on("move")
        def move(to: Point, ack: plexio.Ack) -> None:  # one function per socket
            ack(to.y)

        socket.on("shared", shared)
        socket.once("once", shared)
        per_socket.append(move)

    running = await serve(sio)
    async with raw_socketio(running.ws_url) as first:
        await first.connect()
        async with raw_socketio(running.ws_url) as second:
            await second.connect()
            await eventually(lambda: len(per_socket) == 2)
            assert all(fn in special for fn in per_socket) and shared in special
            await second.send('421["shared",{"x":5,"y":6}]')
            assert await second.recv() == "431[5.0]"
        await eventually(lambda: per_socket[1] not in special)
        assert per_socket[0] in special and shared in special  # the first socket holds them
        await first.send('421["shared",{"x":7,"y":8}]', '422["once",{"x":9,"y":0}]')
        assert await first.recv() == "431[7.0]"
        assert await first.recv() == "432[9.0]"
    await eventually(lambda: per_socket[0] not in special and shared not in special)
