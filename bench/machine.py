"""Description of the machine and software a benchmark ran on (quoted by the README)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from typing import Any

from bench.targets import NODE_DIR, REPO_ROOT

__all__ = ["describe"]

_PACKAGES = (
    "plexio",
    "python-socketio",
    "python-engineio",
    "uvicorn",
    "uvloop",
    "httptools",
    "websockets",
    "aiohttp",
    "picows",
    "orjson",
)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gib() -> float:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def _run(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, cwd=REPO_ROOT)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip()


def _node_package(name: str) -> str | None:
    try:
        with open(NODE_DIR / "node_modules" / name / "package.json") as f:
            return str(json.load(f)["version"])
    except (OSError, ValueError, KeyError):
        return None


def describe() -> dict[str, Any]:
    """Collect the machine and software description.

    Returns:
        nproc, CPU model, memory, kernel, load average, Python/Node versions, the versions of
        the Python and npm packages involved, and the git commit of the tree.
    """
    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": round(_mem_total_gib(), 1),
        "kernel": platform.release(),
        "loadavg": list(os.getloadavg()),
        "python": platform.python_version(),
        "node": _run(["node", "--version"]) or None,
        "python_packages": versions,
        "npm_packages": {n: _node_package(n) for n in ("socket.io", "engine.io", "ws")},
        "git_commit": _run(["git", "rev-parse", "--short", "HEAD"]) or None,
    }
