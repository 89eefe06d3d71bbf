"""The servers under test: how to start each one and whether it can run here."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["NODE_DIR", "TARGETS", "Target", "availability", "select_targets"]

NODE_DIR: Path = Path(__file__).resolve().parent / "node"
REPO_ROOT: Path = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Target:
    """One server under test.

    Attributes:
        key: short name used by `--only` and in the results.
        label: what the tables call it.
        family: `plexio`, `peer` or `ceiling`.
        command: argv; `{port}` is replaced by the port to listen on.
        raw: bare WebSocket server (runs only the echo scenarios, without Engine.IO).
    """

    key: str
    label: str
    family: str
    command: tuple[str, ...]
    raw: bool = False

    def argv(self, port: int) -> list[str]:
        """The command line for `port`."""
        return [part.replace("{port}", str(port)) for part in self.command]


_PY = sys.executable

TARGETS: tuple[Target, ...] = (
    Target(
        "plexio",
        "plexio (native listener)",
        "plexio",
        (_PY, "-m", "bench.servers.plexio_server", "--port", "{port}", "--mode", "native"),
    ),
    Target(
        "plexio-uvicorn",
        "plexio (ASGI on uvicorn)",
        "plexio",
        (_PY, "-m", "bench.servers.plexio_server", "--port", "{port}", "--mode", "uvicorn"),
    ),
    Target(
        "psio",
        "python-socketio (ASGI, uvicorn)",
        "peer",
        (_PY, "-m", "bench.servers.psio_server", "--port", "{port}", "--mode", "asgi"),
    ),
    Target(
        "psio-aiohttp",
        "python-socketio (aiohttp)",
        "peer",
        (_PY, "-m", "bench.servers.psio_server", "--port", "{port}", "--mode", "aiohttp"),
    ),
    Target(
        "node",
        "Node socket.io",
        "peer",
        ("node", str(NODE_DIR / "server.js"), "--port", "{port}"),
    ),
    Target(
        "ceiling",
        "bare WebSocket echo (picows, ceiling)",
        "ceiling",
        (_PY, "-m", "bench.servers.ceiling", "--port", "{port}"),
        raw=True,
    ),
)

ALIASES: dict[str, str] = {
    "python-socketio": "psio",
    "socketio": "psio",
    "aiohttp": "psio-aiohttp",
    "plexio-native": "plexio",
    "plexio-asgi": "plexio-uvicorn",
    "ws": "ceiling",
}


def _has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def availability(target: Target) -> str:
    """Say whether `target` can run on this machine: `ok`, or the reason it cannot."""
    if target.key in ("plexio", "plexio-uvicorn"):
        mode = "uvicorn" if target.key == "plexio-uvicorn" else "native"
        try:
            out = subprocess.run(
                [_PY, "-m", "bench.servers.plexio_server", "--check", "--mode", mode],
                capture_output=True,
                text=True,
                timeout=60,
                cwd=REPO_ROOT,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"check failed: {exc}"
        lines = (out.stdout or out.stderr).strip().splitlines()
        return lines[-1] if lines else f"check exited with {out.returncode}"
    if target.key == "psio":
        missing = [m for m in ("socketio", "uvicorn", "uvloop", "httptools") if not _has_module(m)]
        return f"missing Python packages: {', '.join(missing)}" if missing else "ok"
    if target.key == "psio-aiohttp":
        missing = [m for m in ("socketio", "aiohttp", "uvloop") if not _has_module(m)]
        return f"missing Python packages: {', '.join(missing)}" if missing else "ok"
    if target.key == "node":
        if shutil.which("node") is None:
            return "node is not installed"
        if not (NODE_DIR / "node_modules" / "socket.io" / "package.json").is_file():
            return f"socket.io is not installed: run `npm ci` in {NODE_DIR}"
        return "ok"
    if target.key == "ceiling":
        return "ok" if _has_module("picows") and _has_module("uvloop") else "picows missing"
    return "unknown target"


def select_targets(only: list[str] | None) -> list[Target]:
    """Targets named by `--only` (keys or aliases), in the canonical order; all when None.

    Raises:
        ValueError: a name matches no target.
    """
    if not only:
        return list(TARGETS)
    keys = {ALIASES.get(name, name) for name in only}
    known = {t.key for t in TARGETS}
    unknown = sorted(keys - known)
    if unknown:
        raise ValueError(
            f"unknown server(s) {', '.join(unknown)}; choose from {', '.join(sorted(known))}"
        )
    return [t for t in TARGETS if t.key in keys]
