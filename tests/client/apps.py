"""plexio's Socket.IO server with the behaviour of ``tests/interop/js/client_server.js``.

The client tests run the same scenarios against both servers; see that script's
header for the events. ``client_test_app(**kwargs)`` is a ``module:factory`` target
for :func:`tests.helpers.servers.server_process`; :func:`make_client_test_server`
builds it in-process.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ClientTestServer", "client_test_app", "make_client_test_server"]


class NoAck(Exception):
    """Raised by a handler that must not acknowledge (plexio acks what a handler returns)."""


class ClientTestServer:
    """The server, its ASGI app and what it recorded."""

    def __init__(
        self, *, parser: str = "json", recovery: bool = False, **engine_kwargs: Any
    ) -> None:
        import plexio
        from plexio import ConnectRefusedError
        from plexio.server.recovery import RecoveryOptions

        kwargs: dict[str, Any] = {"cors_allowed_origins": "*", **engine_kwargs}
        if recovery:
            kwargs["connection_state_recovery"] = RecoveryOptions()
        if parser == "msgpack":
            from plexio.socketio.msgpack import MsgPackParser

            kwargs["parser"] = MsgPackParser()
        self.server = sio = plexio.Server(**kwargs)
        self.app = plexio.ASGIApp(sio)
        self.records: list[Any] = []
        self.connections: list[dict[str, Any]] = []
        self.counts: dict[Any, int] = {}

        def setup(nsp: Any) -> None:
            @nsp.on("connection")
            def connection(socket: Any) -> None:
                self.connections.append(
                    {
                        "nsp": nsp.name,
                        "engine": socket.conn.engine.sid,
                        "auth": socket.handshake.auth,
                    }
                )
                socket.emit("welcome", {"nsp": nsp.name})

            @nsp.on("echo")
            def echo(socket: Any, *args: Any) -> Any:
                return args

            @nsp.on("whoami")
            def whoami(socket: Any) -> Any:
                return {
                    "nsp": nsp.name,
                    "engine": socket.conn.engine.sid,
                    "sid": socket.id,
                    "auth": socket.handshake.auth,
                }

            @nsp.on("ask")
            def ask(socket: Any, event: str, *args: Any) -> None:
                def answered(err: Any, *answer: Any) -> None:
                    socket.emit("answer", {"error": str(err)} if err else list(answer))

                socket.timeout(5).emit(event, *args, callback=answered)

            @nsp.on("record")
            def record(socket: Any, x: Any) -> None:
                self.records.append(x)

            @nsp.on("records")
            def records(socket: Any) -> Any:
                return self.records

            @nsp.on("noack")
            def noack(socket: Any, *args: Any) -> None:
                raise NoAck

            @nsp.on("count")
            def count(socket: Any, key: Any) -> Any:
                n = self.counts[key] = self.counts.get(key, 0) + 1
                if n < 2:
                    raise NoAck
                return n

            @nsp.on("kick")
            def kick(socket: Any) -> None:
                socket.disconnect()

            @nsp.on("binary")
            def binary(socket: Any) -> Any:
                return b"\x01\x02\x03", {"nested": b"\x04\x05"}

            @nsp.on("close_transport")
            def close_transport(socket: Any) -> None:
                socket.conn.engine.close()

            @nsp.on("garbage")
            def garbage(socket: Any) -> None:
                socket.conn.engine.send("9garbage")

            @nsp.on("join")
            def join(socket: Any, room: str) -> None:
                socket.join(room)

            @nsp.on("broadcast_to")
            def broadcast_to(socket: Any, room: str, *args: Any) -> None:
                nsp.to(room).emit("news", *args)

            @nsp.on("sockets")
            def sockets(socket: Any) -> Any:
                return sorted(nsp.sockets)

        for name in ("/", "/a", "/b"):
            setup(sio.of(name))
        auth = sio.of("/auth")

        @auth.use
        def check(socket: Any) -> None:
            token = socket.handshake.auth.get("token")
            if token != "good" and not (isinstance(token, str) and token.startswith("tok-")):
                raise ConnectRefusedError("unauthorized", {"why": "bad token"})

        setup(auth)


def make_client_test_server(**kwargs: Any) -> ClientTestServer:
    """Build the server in-process (the test can look at what it recorded)."""
    return ClientTestServer(**kwargs)


def client_test_app(**kwargs: Any) -> Any:
    """``module:factory`` target: the ASGI app of :class:`ClientTestServer`."""
    return ClientTestServer(**kwargs).app
