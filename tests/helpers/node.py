"""Run Node.js scripts from ``tests/interop/js`` and talk to them in JSON lines.

Conventions shared with the scripts (see ``tests/interop/js/lib/io.js``):

* every line a script writes to stdout is one JSON value (anything else is kept as
  noise and shown when the script fails);
* a script may read commands from stdin, one JSON value per line;
* a long-running server script prints ``{"port": N}`` as its first line.

Every process started here runs in its own process group, has a hard deadline after
which the whole group is killed, and is always killed on exit from its context
manager, so a hung Node process never outlives its test. Failures raise
:class:`NodeScriptError` with the script's stderr and stdout attached.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest

__all__ = [
    "JS_DIR",
    "NodeProcess",
    "NodeScriptError",
    "NodeServer",
    "node_process",
    "node_server",
    "require_node",
    "run_node_script",
]

JS_DIR: Final = Path(__file__).resolve().parents[1] / "interop" / "js"
_LINE_LIMIT: Final = 64 * 1024 * 1024  # one JSON line may carry a large base64 payload
_STDERR_KEEP: Final = 64 * 1024  # bytes of stderr kept for error messages
_KILL_GRACE: Final = 2.0


class NodeScriptError(AssertionError):
    """A Node script failed, timed out, or printed something unexpected."""


def require_node() -> str:
    """Return the ``node`` executable, failing the test with a hint when unusable.

    Returns:
        Path of the ``node`` binary.
    """
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (run `make system-deps`)")
    if not (JS_DIR / "node_modules").is_dir():
        pytest.fail(f"{JS_DIR}/node_modules is missing (run `make node-deps`)")
    return node


def _script_path(script: str | os.PathLike[str]) -> Path:
    path = Path(script)
    if not path.is_absolute():
        path = JS_DIR / path
    if not path.is_file():
        raise FileNotFoundError(path)
    return path


class NodeProcess:
    """A running Node script: read its JSON lines, write commands, stop it.

    Use :func:`node_process` to create one; it guarantees the process is killed.
    """

    def __init__(self, proc: asyncio.subprocess.Process, script: Path, deadline: float) -> None:
        self._proc = proc
        self.script = script
        self.deadline = deadline
        self.lines: list[Any] = []
        self.noise: list[str] = []
        self._stderr = bytearray()
        self._stderr_task = asyncio.get_running_loop().create_task(self._drain_stderr())

    @property
    def pid(self) -> int:
        """Process id of the Node process (also its process group id)."""
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        """Exit status once the process has ended, else ``None``."""
        return self._proc.returncode

    @property
    def stderr(self) -> str:
        """What the script wrote to stderr so far (the last 64 KiB)."""
        return self._stderr.decode("utf-8", "replace")

    async def _drain_stderr(self) -> None:
        assert self._proc.stderr is not None
        while chunk := await self._proc.stderr.read(65536):
            self._stderr += chunk
            if len(self._stderr) > _STDERR_KEEP:
                del self._stderr[: len(self._stderr) - _STDERR_KEEP]

    def _remaining(self, timeout: float | None) -> float:
        left = self.deadline - asyncio.get_running_loop().time()
        if left <= 0:
            return 0.0
        return left if timeout is None else min(timeout, left)

    def describe(self, problem: str) -> str:
        """Build an error message with the script's output attached.

        Args:
            problem: what went wrong.

        Returns:
            A multi-line message naming the script, its exit status, stdout and stderr.
        """
        seen = "\n".join(json.dumps(line) for line in self.lines[-20:])
        noise = "\n".join(self.noise[-20:])
        return (
            f"{self.script.name}: {problem} (exit status {self.returncode})\n"
            f"--- JSON lines (last 20) ---\n{seen}\n"
            f"--- other stdout ---\n{noise}\n"
            f"--- stderr ---\n{self.stderr}"
        )

    async def read_json(self, timeout: float | None = 10.0) -> Any:
        """Return the next JSON line the script prints.

        Args:
            timeout: seconds to wait (bounded by the process deadline).

        Returns:
            The decoded JSON value.

        Raises:
            NodeScriptError: on timeout, or when stdout ends first.
        """
        assert self._proc.stdout is not None
        while True:
            try:
                async with asyncio.timeout(self._remaining(timeout)):
                    raw = await self._proc.stdout.readline()
            except TimeoutError:
                raise NodeScriptError(self.describe("no JSON line in time")) from None
            if not raw:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_KILL_GRACE):
                        await self._proc.wait()
                        await self._stderr_task
                raise NodeScriptError(self.describe("stdout ended"))
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            try:
                value = json.loads(text)
            except ValueError:
                self.noise.append(text)
                continue
            self.lines.append(value)
            return value

    async def read_until(
        self, predicate: Callable[[Any], bool], timeout: float | None = 10.0
    ) -> tuple[Any, list[Any]]:
        """Read JSON lines until one matches ``predicate``.

        Args:
            predicate: test applied to each line.
            timeout: seconds to wait in total (bounded by the process deadline).

        Returns:
            The matching line and the lines skipped before it.

        Raises:
            NodeScriptError: on timeout or end of output before a match.
        """
        skipped: list[Any] = []
        loop = asyncio.get_running_loop()
        end = loop.time() + self._remaining(timeout)
        while True:
            line = await self.read_json(max(0.0, end - loop.time()))
            if predicate(line):
                return line, skipped
            skipped.append(line)

    async def read_event(self, event: str, timeout: float | None = 10.0) -> dict[str, Any]:
        """Read lines until one is an object whose ``"event"`` key equals ``event``.

        Args:
            event: the event name to wait for.
            timeout: seconds to wait in total.

        Returns:
            The matching object.
        """
        line, _ = await self.read_until(
            lambda v: isinstance(v, dict) and v.get("event") == event, timeout
        )
        assert isinstance(line, dict)
        return line

    async def send_json(self, value: Any) -> None:
        """Write one JSON line to the script's stdin.

        Args:
            value: any JSON-serialisable value.
        """
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(value).encode() + b"\n")
        await self._proc.stdin.drain()

    def close_stdin(self) -> None:
        """Close the script's stdin (scripts treat this as "finish")."""
        if self._proc.stdin is not None and not self._proc.stdin.is_closing():
            self._proc.stdin.close()

    async def wait(self, timeout: float | None = 10.0) -> int:
        """Wait for the script to exit on its own.

        Args:
            timeout: seconds to wait (bounded by the process deadline).

        Returns:
            The exit status.

        Raises:
            NodeScriptError: when it does not exit in time.
        """
        try:
            async with asyncio.timeout(self._remaining(timeout)):
                code = await self._proc.wait()
                await self._stderr_task
        except TimeoutError:
            raise NodeScriptError(self.describe("did not exit in time")) from None
        return code

    async def read_rest(self, timeout: float | None = 10.0) -> list[Any]:
        """Read every remaining JSON line until stdout ends, then wait for exit.

        Args:
            timeout: seconds to wait in total.

        Returns:
            The lines read.
        """
        assert self._proc.stdout is not None
        rest: list[Any] = []
        try:
            async with asyncio.timeout(self._remaining(timeout)):
                while raw := await self._proc.stdout.readline():
                    text = raw.decode("utf-8", "replace").rstrip("\r\n")
                    try:
                        value = json.loads(text)
                    except ValueError:
                        self.noise.append(text)
                        continue
                    self.lines.append(value)
                    rest.append(value)
        except TimeoutError:
            raise NodeScriptError(self.describe("output did not end in time")) from None
        await self.wait(timeout)
        return rest

    def signal_group(self, sig: signal.Signals) -> None:
        # The script runs in its own session, so its pid is the process group id:
        # signalling the group also reaches anything it spawned.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    async def kill(self) -> None:
        """Stop the process group: SIGTERM, then SIGKILL after a short grace."""
        if self._proc.returncode is None:
            self.signal_group(signal.SIGTERM)
            try:
                async with asyncio.timeout(_KILL_GRACE):
                    await self._proc.wait()
            except TimeoutError:
                self.signal_group(signal.SIGKILL)
                await self._proc.wait()
        # Children that ignored SIGTERM may survive their parent: make sure.
        self.signal_group(signal.SIGKILL)
        self.close_stdin()
        try:
            async with asyncio.timeout(_KILL_GRACE):
                await self._stderr_task
        except TimeoutError:
            self._stderr_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stderr_task


@contextlib.asynccontextmanager
async def node_process(
    script: str | os.PathLike[str],
    *,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    timeout: float = 60.0,
) -> AsyncIterator[NodeProcess]:
    """Start a Node script and kill its process tree on exit.

    Args:
        script: file name relative to ``tests/interop/js`` (or an absolute path).
        env: extra environment variables (e.g. ``SERVER_URL``).
        args: command-line arguments after the script.
        timeout: hard deadline in seconds; the process group is killed after it.

    Yields:
        The running :class:`NodeProcess`.
    """
    node = require_node()
    path = _script_path(script)
    full_env = dict(os.environ)
    full_env["NODE_PATH"] = str(JS_DIR / "node_modules")
    full_env["PLEXIO_SCRIPT_TIMEOUT_MS"] = str(int(timeout * 1000))
    full_env.update(env or {})
    proc = await asyncio.create_subprocess_exec(
        node,
        str(path),
        *args,
        cwd=JS_DIR,
        env=full_env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        limit=_LINE_LIMIT,
    )
    loop = asyncio.get_running_loop()
    process = NodeProcess(proc, path, loop.time() + timeout)
    watchdog = loop.call_later(timeout, process.signal_group, signal.SIGKILL)
    try:
        yield process
    finally:
        watchdog.cancel()
        await process.kill()


async def run_node_script(
    script: str | os.PathLike[str],
    *,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    timeout: float = 30.0,
) -> list[Any]:
    """Run a Node script to completion and return its JSON lines.

    Args:
        script: file name relative to ``tests/interop/js`` (or an absolute path).
        env: extra environment variables.
        args: command-line arguments after the script.
        timeout: hard deadline in seconds.

    Returns:
        Every JSON line the script printed, in order.

    Raises:
        NodeScriptError: on a non-zero exit status or a timeout (stderr attached).
    """
    async with node_process(script, env=env, args=args, timeout=timeout) as proc:
        proc.close_stdin()
        lines = await proc.read_rest(timeout=None)
        if proc.returncode != 0:
            raise NodeScriptError(proc.describe("failed"))
        return lines


@dataclass(frozen=True, slots=True)
class NodeServer:
    """A long-running Node server script that announced its port."""

    process: NodeProcess
    port: int
    info: dict[str, Any]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def node_server(
    script: str | os.PathLike[str],
    *,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    timeout: float = 120.0,
    startup_timeout: float = 15.0,
) -> AsyncIterator[NodeServer]:
    """Start a Node server script whose first JSON line is ``{"port": N, ...}``.

    Args:
        script: file name relative to ``tests/interop/js`` (or an absolute path).
        env: extra environment variables.
        args: command-line arguments after the script.
        timeout: hard deadline for the whole process life, in seconds.
        startup_timeout: seconds to wait for the port line.

    Yields:
        A :class:`NodeServer` with the bound port and the whole first line as ``info``.
    """
    async with node_process(script, env=env, args=args, timeout=timeout) as proc:
        first = await proc.read_json(startup_timeout)
        if not isinstance(first, dict) or not isinstance(first.get("port"), int):
            raise NodeScriptError(proc.describe(f"first line is not {{'port': N}}: {first!r}"))
        yield NodeServer(process=proc, port=first["port"], info=first)
