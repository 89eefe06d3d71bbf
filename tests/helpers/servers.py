"""Run an ASGI app under a real server on 127.0.0.1 with a free port.

Three ways, all bound to port 0 and reporting the port the kernel picked:

* :func:`running_uvicorn` — uvicorn's ``Server.serve()`` as a task in the test's own
  event loop (handlers and the test share the loop, so a test can inspect server state);
* :func:`running_hypercorn` — the same under hypercorn, the "second ASGI server";
* :func:`running_native` — plexio's own native listener (no ASGI) in the test's loop;
* :func:`server_process` — ``tests/helpers/serve_app.py`` in a subprocess, for tests
  that kill and restart a server (the restart binds the same port again).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

__all__ = [
    "ASGIApp",
    "RunningServer",
    "ServerProcess",
    "running_hypercorn",
    "running_native",
    "running_uvicorn",
    "server_process",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

HOST: Final = "127.0.0.1"
REPO_ROOT: Final = Path(__file__).resolve().parents[2]
_STARTUP_TIMEOUT: Final = 10.0
_SHUTDOWN_GRACE: Final = 3.0


@dataclass(frozen=True, slots=True)
class RunningServer:
    """Where a started server listens."""

    port: int
    host: str = HOST

    @property
    def http_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:<port>``."""
        return f"ws://{self.host}:{self.port}"


@contextlib.asynccontextmanager
async def running_uvicorn(app: ASGIApp, **config: Any) -> AsyncIterator[RunningServer]:
    """Serve ``app`` with uvicorn inside the running event loop.

    Args:
        app: the ASGI application.
        **config: extra ``uvicorn.Config`` keyword arguments (``lifespan``, ``ws``,
            ``ws_max_size``, ...). Host and port are fixed to 127.0.0.1:0.

    Yields:
        The :class:`RunningServer` with the bound port.
    """
    import uvicorn

    settings: dict[str, Any] = {
        "log_level": "warning",
        "lifespan": "auto",
        "timeout_graceful_shutdown": _SHUTDOWN_GRACE,
    }
    settings.update(config)
    server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=0, **settings))
    # The test runner owns signals; uvicorn must not replace its handlers.
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.get_running_loop().create_task(server.serve(), name="uvicorn")
    try:
        async with asyncio.timeout(_STARTUP_TIMEOUT):
            while not server.started:
                if task.done():
                    task.result()  # startup failed: raise its error
                    raise RuntimeError("uvicorn stopped during startup")
                await asyncio.sleep(0.005)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield RunningServer(port=port)
    finally:
        server.should_exit = True
        try:
            async with asyncio.timeout(_SHUTDOWN_GRACE + 2.0):
                await asyncio.shield(task)
        except TimeoutError:
            server.force_exit = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@contextlib.asynccontextmanager
async def running_hypercorn(app: ASGIApp, **config: Any) -> AsyncIterator[RunningServer]:
    """Serve ``app`` with hypercorn inside the running event loop.

    The listening socket is bound here (port 0) and handed to hypercorn as
    ``fd://`` so the port is known without a race.

    Args:
        app: the ASGI application.
        **config: attributes set on ``hypercorn.config.Config``.

    Yields:
        The :class:`RunningServer` with the bound port.
    """
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    port = sock.getsockname()[1]
    fd = os.dup(sock.fileno())  # hypercorn owns and closes the duplicate
    sock.close()

    cfg = Config()
    cfg.bind = [f"fd://{fd}"]
    cfg.accesslog = None
    cfg.errorlog = None
    cfg.graceful_timeout = _SHUTDOWN_GRACE
    for key, value in config.items():
        setattr(cfg, key, value)
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(
        serve(app, cfg, shutdown_trigger=stop.wait),  # type: ignore[arg-type]
        name="hypercorn",
    )
    try:
        # Wait until the socket accepts connections (hypercorn has no "started" flag).
        async with asyncio.timeout(_STARTUP_TIMEOUT):
            while True:
                if task.done():
                    task.result()
                    raise RuntimeError("hypercorn stopped during startup")
                try:
                    _, writer = await asyncio.open_connection(HOST, port)
                except OSError:
                    await asyncio.sleep(0.01)
                    continue
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
                break
        yield RunningServer(port=port)
    finally:
        stop.set()
        try:
            async with asyncio.timeout(_SHUTDOWN_GRACE + 2.0):
                await asyncio.shield(task)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(OSError):
            os.close(fd)  # only if hypercorn never adopted it


@contextlib.asynccontextmanager
async def running_native(target: Any, **kwargs: Any) -> AsyncIterator[RunningServer]:
    """Serve with plexio's native listener (``plexio.native.serve``) in the running loop.

    Args:
        target: an ``EngineServer``, a Socket.IO ``Server`` or a plexio ``ASGIApp``
            (its engine and path are served; ``other_app`` is not).
        **kwargs: extra keyword arguments for ``plexio.native.serve`` (e.g. ``path``).

    Yields:
        The :class:`RunningServer` with the bound port.
    """
    from plexio.native import serve

    loop = asyncio.get_running_loop()
    bound: asyncio.Future[int] = loop.create_future()

    def ready(port: int) -> None:
        if not bound.done():
            bound.set_result(port)

    task = loop.create_task(serve(target, HOST, 0, ready=ready, **kwargs), name="native")
    try:
        async with asyncio.timeout(_STARTUP_TIMEOUT):
            await asyncio.wait({task, bound}, return_when=asyncio.FIRST_COMPLETED)
        if not bound.done():
            task.result()  # startup failed: raise its error
            raise RuntimeError("native listener stopped during startup")
        yield RunningServer(port=bound.result())
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            try:
                async with asyncio.timeout(_SHUTDOWN_GRACE + 2.0):
                    await task
            except TimeoutError:
                pass


@dataclass(slots=True)
class ServerProcess:
    """An ASGI app served by ``tests/helpers/serve_app.py`` in a subprocess.

    ``kill()`` ends it abruptly (SIGKILL, like a crash); ``start()`` starts it again on
    the same port, so clients can reconnect to the same URL.
    """

    target: str
    server: str = "uvicorn"
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    port: int = 0
    _proc: asyncio.subprocess.Process | None = None
    _log: IO[bytes] | None = None
    _stderr: list[str] = field(default_factory=list)

    @property
    def running(self) -> RunningServer:
        """Where the server listens (valid after the first :meth:`start`)."""
        if not self.port:
            raise RuntimeError("server process not started")
        return RunningServer(port=self.port)

    @property
    def pid(self) -> int | None:
        """Process id while running."""
        return None if self._proc is None else self._proc.pid

    async def start(self, timeout: float = _STARTUP_TIMEOUT) -> RunningServer:
        """Start the process (on the previous port after the first start).

        Args:
            timeout: seconds to wait for the process to print its port.

        Returns:
            Where it listens.
        """
        if self._proc is not None and self._proc.returncode is None:
            raise RuntimeError("already running")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO_ROOT), str(REPO_ROOT / "src"), env.get("PYTHONPATH", "")]
        ).rstrip(os.pathsep)
        env.update(self.env)
        cmd = [
            sys.executable,
            str(Path(__file__).with_name("serve_app.py")),
            self.target,
            "--server",
            self.server,
            "--port",
            str(self.port),
            "--kwargs",
            json.dumps(dict(self.kwargs)),
        ]
        # A restart may race the kernel releasing the old port: retry briefly.
        for attempt in range(50):
            log = tempfile.TemporaryFile()  # stderr goes to a file so a full pipe never blocks
            proc = await asyncio.create_subprocess_exec(
                *cmd,
                cwd=REPO_ROOT,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                start_new_session=True,
            )
            assert proc.stdout is not None
            try:
                async with asyncio.timeout(timeout):
                    line = await proc.stdout.readline()
            except TimeoutError:
                line = b""
            if line:
                info = json.loads(line)
                self._proc, self._log = proc, log
                self.port = int(info["port"])
                return self.running
            await self._reap(proc)
            err = self._read_log(log)
            if self.port and "address already in use" in err.lower() and attempt < 49:
                await asyncio.sleep(0.1)
                continue
            raise RuntimeError(f"serve_app.py {self.target} did not start:\n{err}")
        raise AssertionError("unreachable")

    def _read_log(self, log: IO[bytes]) -> str:
        log.seek(0)
        text = log.read().decode("utf-8", "replace")
        log.close()
        self._stderr.append(text)
        return text

    @staticmethod
    async def _reap(proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()

    async def kill(self) -> None:
        """Kill the server abruptly (SIGKILL to its process group)."""
        if self._proc is not None:
            await self._reap(self._proc)
            if self._log is not None:
                self._read_log(self._log)
                self._log = None

    async def stop(self, timeout: float = _SHUTDOWN_GRACE + 2.0) -> None:
        """Stop the server gracefully (SIGTERM), killing it if it lingers.

        Args:
            timeout: seconds to wait before SIGKILL.
        """
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            async with asyncio.timeout(timeout):
                await proc.wait()
        except TimeoutError:
            pass
        await self.kill()

    @property
    def stderr(self) -> str:
        """Collected stderr of every run that has ended."""
        return "\n".join(self._stderr)


@contextlib.asynccontextmanager
async def server_process(
    target: str,
    *,
    server: str = "uvicorn",
    kwargs: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[ServerProcess]:
    """Serve ``module:factory`` in a subprocess; always killed on exit.

    Args:
        target: ``"package.module:factory"``; the factory is called with ``kwargs``
            and returns an ASGI app (or the attribute is the app itself).
        server: ``"uvicorn"``, ``"hypercorn"`` or ``"native"``.
        kwargs: JSON-serialisable keyword arguments for the factory.
        env: extra environment variables for the subprocess.

    Yields:
        The started :class:`ServerProcess`.
    """
    proc = ServerProcess(target=target, server=server, kwargs=kwargs or {}, env=env or {})
    await proc.start()
    try:
        yield proc
    finally:
        await proc.stop()
