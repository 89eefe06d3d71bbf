"""User code that must type-check cleanly under mypy --strict and pyright strict."""
# pyright: strict

from __future__ import annotations

import asyncio
from typing import Any

import plexio
from plexio.server.fetched import FetchedSocket

sio = plexio.Server(ping_interval=10, max_http_buffer_size=100_000, cors_allowed_origins="*")
chat = sio.of("/chat")


@sio.on("connection")
async def joined(socket: plexio.ServerSocket) -> None:
    socket.data["user"] = socket.handshake.auth.get("name", "anonymous")
    socket.join("lobby")


@sio.on("disconnect")
def left(socket: plexio.ServerSocket, reason: str) -> None:
    print(socket.id, "left:", reason)


@chat.on("say")
async def say(socket: plexio.ServerSocket, text: str, times: int = 1) -> dict[str, Any]:
    socket.to("lobby").emit("said", socket.data["user"], text * times)
    return {"ok": True}


@chat.use
def only_named(socket: plexio.ServerSocket) -> None:
    if "name" not in socket.handshake.auth:
        raise plexio.ConnectRefusedError("name needed")


# the decorated functions keep their signatures
reply: dict[str, Any] = asyncio.run(say(sio.sockets.sockets["x"], "hi", times=2))


def on_packet(packet: list[Any]) -> None:
    print(packet)


@sio.on("connection")
def per_socket(socket: plexio.ServerSocket) -> None:
    socket.use(on_packet)

    @socket.on("ping")
    def pong(n: int) -> int:
        return n + 1

    doubled: int = pong(2)
    print(doubled)


async def admin() -> None:
    sockets: list[FetchedSocket] = await sio.fetch_sockets()
    for found in sockets:
        room_names: set[str] = found.rooms
        user: Any = found.data.get("user")
        print(found.id, room_names, user)
        found.emit("hello")
    answers: list[Any] = await sio.timeout(2).emit_with_ack("vote")
    print(answers)


async def client() -> None:
    sock = await plexio.connect("http://127.0.0.1:8000/chat", auth={"name": "ann"})

    @sock.on("said")
    def said(user: str, text: str) -> None:
        print(user, text)

    said("a", "b")
    await sock.emit_with_ack("say", "hello")

    @sock.io.on("reconnect")
    def back(attempts: int) -> None:
        print("back after", attempts)

    back(1)
    await sock.disconnect()


async def client_options() -> None:
    from plexio.client import Manager

    async with Manager(
        "http://127.0.0.1:8000", transports=["websocket"], reconnection_delay=0.5
    ) as io:
        sock = io.socket("/", retries=3, ack_timeout=2.0)
        try:
            await sock.connect(timeout=5)
        except plexio.ClientConnectionError as exc:
            reason: plexio.ConnectionFailure | None = exc.reason
            status: int | None = exc.status
            print(reason, status, exc.__cause__)
        recovered: bool = sock.recovered
        print(recovered)


@chat.on("job")
async def job(socket: plexio.ServerSocket, spec: dict[str, Any], ack: plexio.Ack) -> None:
    ack("queued", len(spec))


@sio.on("connection")
def compressed(socket: plexio.ServerSocket) -> None:
    socket.compress(False).emit("big", "x" * 10_000)


async def typed_answers(socket: plexio.ServerSocket) -> None:
    name: str = await socket.timeout(5).emit_with_ack("name?", returns=str)
    counts: list[int] = await sio.timeout(2).emit_with_ack("count?", returns=int)
    print(name, counts)


@sio.once("connection")
def first_one(socket: plexio.ServerSocket) -> None:
    @socket.once("hello")
    def greet(name: str, ack: plexio.Ack) -> None:
        ack("hi " + name)

    greet("ann", plexio.Ack(None))


@chat.once("claim")
async def claim(socket: plexio.ServerSocket, prize: str) -> bool:
    return prize != ""


claimed: bool = asyncio.run(claim(sio.sockets.sockets["x"], "cup"))
sio.off("connection", first_one)


async def client_once() -> None:
    sock = await plexio.connect("http://127.0.0.1:8000/chat")

    @sock.once("said")
    def first_said(user: str, text: str) -> None:
        print(user, text)

    first_said("a", "b")
