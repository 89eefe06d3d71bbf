"""Servers the client tests run against: plexio's (subprocess) and Node's socket.io 4.8.

Both serve the same events (``tests/client/apps.py`` and
``tests/interop/js/client_server.js``) and can be killed abruptly and started again on
the same port, so reconnection is tested against a real restart.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from tests.helpers.node import NodeServer, node_server
from tests.helpers.servers import ServerProcess, server_process

__all__ = ["NodeTarget", "PlexioTarget", "Target"]


@dataclass
class Target:
    """A restartable server (base class)."""

    parser: str = "json"
    port: int = 0

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    async def kill(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    async def stop(self) -> None:
        """Stops for good (test teardown)."""
        await self.kill()


@dataclass
class PlexioTarget(Target):
    """plexio's server in a subprocess (``tests.client.apps:client_test_app``)."""

    kwargs: dict[str, Any] = field(default_factory=dict)
    _stack: contextlib.AsyncExitStack | None = None
    _proc: ServerProcess | None = None

    async def start(self) -> None:
        """Starts (again, on the same port)."""
        if self._proc is None:
            self._stack = contextlib.AsyncExitStack()
            self._proc = await self._stack.enter_async_context(
                server_process(
                    "tests.client.apps:client_test_app",
                    kwargs={"parser": self.parser, **self.kwargs},
                )
            )
        else:
            await self._proc.start()
        self.port = self._proc.port

    async def kill(self) -> None:
        """Kills abruptly (SIGKILL)."""
        if self._proc is not None:
            await self._proc.kill()

    async def stop(self) -> None:
        """Stops for good."""
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None
            self._proc = None


@dataclass
class NodeTarget(Target):
    """``tests/interop/js/client_server.js`` under Node (socket.io 4.8)."""

    env: dict[str, str] = field(default_factory=dict)
    _stack: contextlib.AsyncExitStack | None = None
    server: NodeServer | None = None

    async def start(self) -> None:
        """Starts (again, on the same port)."""
        self._stack = contextlib.AsyncExitStack()
        env = {"PORT": str(self.port), "PARSER": self.parser, **self.env}
        self.server = await self._stack.enter_async_context(
            node_server("client_server.js", env=env, timeout=120.0)
        )
        self.port = self.server.port

    async def kill(self) -> None:
        """Kills the process group."""
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None
            self.server = None

    async def lines_until(self, event: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next JSON line of the server with ``"event": event``."""
        assert self.server is not None
        return await self.server.process.read_event(event, timeout)
