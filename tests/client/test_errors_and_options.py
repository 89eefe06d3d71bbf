"""What a user sees when a client connection fails, and how client options are given.

Written as a user would: connect to a refused port, a wrong path, a server that never
answers, a plain-HTTP server over https; misspell an option; ask ``io.socket`` again
with different options.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from plexio.client import Manager, ManagerKeywords, ManagerOptions, connect
from plexio.exceptions import ClientConnectionError, ConnectionFailure
from tests.client.apps import ClientTestServer, make_client_test_server
from tests.helpers.servers import RunningServer


@pytest.fixture
async def server(serve_uvicorn: Any) -> RunningServer:
    app: ClientTestServer = make_client_test_server(ping_interval=1.0, ping_timeout=1.0)
    result: RunningServer = await serve_uvicorn(app.app)
    return result


@pytest.fixture
async def mute_port() -> AsyncIterator[int]:
    """A port that accepts TCP connections and never says a word."""
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    listener = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        for writer in held:
            writer.close()
        listener.close()
        await listener.wait_closed()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize("transports", [["polling"], ["websocket"]])
async def test_a_refused_port_says_refused_with_its_cause(transports: list[str]) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(ClientConnectionError) as info:
        await connect(url, force_new=True, reconnection=False, transports=transports)
    assert info.value.reason is ConnectionFailure.REFUSED
    assert "connection refused" in str(info.value)
    cause = info.value.__cause__
    assert cause is not None
    chain = []
    while cause is not None:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    assert any(isinstance(c, ConnectionRefusedError) for c in chain) or isinstance(
        chain[0], httpx.ConnectError
    )


@pytest.mark.parametrize("transports", [["polling"], ["websocket"]])
async def test_a_wrong_path_says_http_404(server: RunningServer, transports: list[str]) -> None:
    with pytest.raises(ClientConnectionError) as info:
        await connect(
            server.http_url,
            force_new=True,
            reconnection=False,
            transports=transports,
            path="/not-socket.io/",
        )
    assert info.value.reason is ConnectionFailure.HTTP_STATUS
    # Over WebSocket uvicorn answers a refused upgrade with 403 (the ASGI rule).
    assert info.value.status == (404 if transports == ["polling"] else 403)
    assert f"HTTP {info.value.status}" in str(info.value)


@pytest.mark.parametrize("transports", [["polling"], ["websocket"]])
async def test_a_mute_server_says_timeout(mute_port: int, transports: list[str]) -> None:
    with pytest.raises(ClientConnectionError) as info:
        await connect(
            f"http://127.0.0.1:{mute_port}",
            force_new=True,
            reconnection=False,
            transports=transports,
            handshake_timeout=0.3,
        )
    assert info.value.reason is ConnectionFailure.TIMEOUT
    assert isinstance(info.value.__cause__, TimeoutError)


@pytest.mark.parametrize("transports", [["polling"], ["websocket"]])
async def test_https_to_a_plain_http_server_says_tls(
    server: RunningServer, transports: list[str]
) -> None:
    with pytest.raises(ClientConnectionError) as info:
        await connect(
            f"https://127.0.0.1:{server.port}",
            force_new=True,
            reconnection=False,
            transports=transports,
        )
    assert info.value.reason is ConnectionFailure.TLS
    cause: BaseException | None = info.value.__cause__
    chain = []
    while cause is not None:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    assert any(isinstance(c, ssl.SSLError) for c in chain)


async def test_giving_up_keeps_the_last_reason_and_cause() -> None:
    io = Manager(
        f"http://127.0.0.1:{closed_port()}",
        reconnection_attempts=1,
        reconnection_delay=0.01,
        reconnection_delay_max=0.01,
    )
    async with io:
        with pytest.raises(ClientConnectionError, match="gave up after 1") as info:
            await io.socket("/").connect(timeout=20)
    assert info.value.reason is ConnectionFailure.REFUSED
    assert isinstance(info.value.__cause__, ClientConnectionError)
    assert info.value.__cause__.reason is ConnectionFailure.REFUSED


def test_a_misspelt_manager_option_is_an_error() -> None:
    with pytest.raises(TypeError, match="reconection_delay"):
        Manager("http://127.0.0.1:1", reconection_delay=1)  # type: ignore[call-arg]


async def test_a_misspelt_connect_option_is_an_error() -> None:
    with pytest.raises(TypeError, match="reconection_delay"):
        await connect("http://127.0.0.1:1", reconection_delay=1)  # type: ignore[call-arg]


def test_manager_keywords_name_every_option() -> None:
    fields = set(ManagerOptions.__dataclass_fields__)
    assert set(ManagerKeywords.__annotations__) == fields
    manager = Manager("http://127.0.0.1:1", transports=["websocket"], handshake_timeout=3)
    assert manager.options.transports == ("websocket",)
    assert manager.options.handshake_timeout == 3
    assert Manager("http://127.0.0.1:1").options == ManagerOptions()


async def test_socket_options_given_again_are_applied(server: RunningServer) -> None:
    async with Manager(server.http_url, transports=["websocket"]) as io:
        sock = io.socket("/")
        await sock.connect(timeout=10)
        again = io.socket("/", retries=3, ack_timeout=0.3)
        assert again is sock
        assert (sock.retries, sock.ack_timeout) == (3, 0.3)
        # "count" answers only its second try: only a retrying socket gets the answer.
        assert await asyncio.wait_for(sock.emit_with_ack("count", "k"), 10) == 2
        io.socket("/", auth={"token": "x"})
        assert sock.auth == {"token": "x"}
        io.socket("/")  # nothing given: nothing changes
        assert (sock.retries, sock.ack_timeout, sock.auth) == (3, 0.3, {"token": "x"})
        with pytest.raises(ValueError):
            io.socket("/", retries=-1)
        assert sock.retries == 3


async def test_connect_timeout_is_named_timeout(mute_port: int) -> None:
    with pytest.raises(TimeoutError):
        await connect(f"http://127.0.0.1:{mute_port}", force_new=True, timeout=0.2)


async def test_the_same_mistake_raises_the_same_type_on_server_and_client(
    serve_uvicorn: Any,
) -> None:
    import plexio
    from plexio.exceptions import InvalidPacketError
    from plexio.server.socket import ServerSocket

    sio = plexio.Server()
    joined: asyncio.Future[ServerSocket] = asyncio.get_running_loop().create_future()

    @sio.on("connection")
    def on_connection(socket: ServerSocket) -> None:
        joined.set_result(socket)

    @sio.on("echo")
    def echo(socket: ServerSocket, value: str) -> str:
        return value

    running = await serve_uvicorn(plexio.ASGIApp(sio))
    async with Manager(running.http_url, transports=["websocket"]) as io:
        client = await io.socket("/").connect(timeout=10)
        server = await asyncio.wait_for(joined, 10)
        for side in (client, server):
            with pytest.raises(InvalidPacketError, match="reserved"):
                side.emit("disconnect", 1)
            with pytest.raises(InvalidPacketError, match="cannot be serialised"):
                side.emit("ev", {1, 2})  # a set is not JSON
            with pytest.raises(ValueError, match="timeout must be > 0"):
                side.timeout(0)
        with pytest.raises(InvalidPacketError, match="reserved"):
            sio.emit("connect")
        with pytest.raises(ValueError, match="timeout must be > 0"):
            sio.timeout(0)
        # Nothing was sent and both sides go on.
        assert await client.emit_with_ack("echo", "still fine", timeout=5) == "still fine"
        assert client.connected and server.connected


async def test_waiting_for_an_ack_fails_alike_on_server_and_client(serve_uvicorn: Any) -> None:
    import plexio
    from plexio.exceptions import AckTimeoutError, DisconnectedError
    from plexio.server.socket import ServerSocket

    sio = plexio.Server()
    joined: asyncio.Future[ServerSocket] = asyncio.get_running_loop().create_future()

    @sio.on("connection")
    def on_connection(socket: ServerSocket) -> None:
        joined.set_result(socket)

    @sio.on("hold")
    async def hold(socket: ServerSocket) -> None:
        await asyncio.sleep(3600)  # never acknowledges

    running = await serve_uvicorn(plexio.ASGIApp(sio))
    async with Manager(running.http_url, transports=["websocket"], reconnection=False) as io:
        client = await io.socket("/").connect(timeout=10)
        server = await asyncio.wait_for(joined, 10)
        client.on("hold", lambda: asyncio.sleep(3600))  # the client never answers either
        # no acknowledgement in time
        for side in (client, server):
            with pytest.raises(AckTimeoutError):
                await side.timeout(0.2).emit_with_ack("hold")
        # the connection ends while an acknowledgement is awaited
        from_server = asyncio.ensure_future(server.emit_with_ack("hold"))
        from_client = asyncio.ensure_future(client.emit_with_ack("hold"))
        await asyncio.sleep(0.1)
        server.disconnect()
        for waiting in (from_server, from_client):
            with pytest.raises(DisconnectedError):
                await asyncio.wait_for(waiting, 5)
