"""User code each marked line of which a type checker must reject.

A line ending in ``# error`` must get an error from both mypy --strict and pyright.
"""
# pyright: strict

from __future__ import annotations

import plexio

sio = plexio.Server(ping_intervall=10)  # error
sio2 = plexio.Server(max_payload=10)  # error


@sio.on("connection")  # error
def wrong_socket_type(socket: int) -> None: ...


@sio.on("disconnect")  # error
def no_reason(socket: plexio.ServerSocket) -> None: ...


@sio.on("message")  # error
def no_socket_parameter(text: str, more: str) -> None: ...


@sio.on("message")
def typed(socket: plexio.ServerSocket, text: str) -> str:
    return text


typed(sio.sockets.sockets["x"], 3)  # error


@sio.use  # error
def js_style_middleware(socket: plexio.ServerSocket, next: object) -> None: ...


async def admin() -> None:
    for found in await sio.fetch_sockets():
        found_id: int = found.id  # error
        print(found_id)


async def client_typos() -> None:
    from plexio.client import Manager, connect

    Manager("http://127.0.0.1:8000", reconection_delay=1)  # error
    await connect("http://127.0.0.1:8000", wait_timeout=1)  # error


async def wrong_answer_type(socket: plexio.ServerSocket) -> None:
    count: int = await socket.emit_with_ack("name?", returns=str)  # error
    print(count)


@sio.once("connection")  # error
def once_wrong_socket_type(socket: int) -> None: ...


@sio.once("message")  # error
def once_no_socket_parameter(text: str, more: str) -> None: ...


@sio.once("message")
def once_typed(socket: plexio.ServerSocket, text: str) -> str:
    return text


once_typed(sio.sockets.sockets["x"], 3)  # error
