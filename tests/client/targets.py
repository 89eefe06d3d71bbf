"""Servers the client tests run against: plexio's (subprocess) and Node's socket.io 4.8.

Both serve the same events (``tests/client/apps.py`` and
``tests/interop/js/client_server.js``) and can be killed abruptly and started again on
the same port, so reconnection is tested against a real restart.
"""

from __future__ import annotations

import contextlib
import os
import signal
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

    @property
    def pid(self) -> int | None:  # pragma: no cover - overridden
        """The server's process id (its process group leader) while running."""
        raise NotImplementedError

    def pause(self) -> None:
        """Freezes the server (SIGSTOP): connections stay open, nothing is answered."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Lets a paused server run again (SIGCONT)."""
        self._signal(signal.SIGCONT)

    def _signal(self, sig: signal.Signals) -> None:
        pid = self.pid
        assert pid is not None, "server not running"
        os.killpg(pid, sig)

    def _continue(self) -> None:
        """A stopped process is continued before it is killed, so it dies at once."""
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGCONT)


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

    @property
    def pid(self) -> int | None:
        """The server's process id while running."""
        return None if self._proc is None else self._proc.pid

    async def kill(self) -> None:
        """Kills abruptly (SIGKILL)."""
        if self._proc is not None:
            self._continue()
            await self._proc.kill()

    async def stop(self) -> None:
        """Stops for good."""
        self._continue()
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

    @property
    def pid(self) -> int | None:
        """The Node process id while running."""
        return None if self.server is None else self.server.process.pid

    async def kill(self) -> None:
        """Kills the process group."""
        self._continue()
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None
            self.server = None

    async def lines_until(self, event: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next JSON line of the server with ``"event": event``."""
        assert self.server is not None
        return await self.server.process.read_event(event, timeout)
