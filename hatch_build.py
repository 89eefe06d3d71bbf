"""Build hook: compile the sans-I/O cores (plexio.engineio, plexio.socketio) with mypyc.

Hatchling runs it for every wheel, editable or not (``[tool.hatch.build.targets.wheel.hooks.
custom]`` in pyproject.toml). The cores are type-checked Python with no asyncio; mypyc turns
them into C extensions next to the same ``.py`` files, which stay what mypy, ruff and
coverage.py read and what runs when the extensions are not there (see ``plexio._cores``).

- ``PLEXIO_MYPYC=0`` in the environment builds pure Python (no compiler, no mypy).
- Any failure (no C compiler, no Python headers, a mypyc error) falls back to pure Python:
  the reason is printed, recorded in the manifest and shown by ``plexio._cores.describe()``
  (``make install`` prints it); the install itself never fails because of the compiled cores.
- An editable install (``pip install -e .``, as ``make install`` does) builds the extensions
  in place in ``src/`` (the editable install puts ``src`` on ``sys.path``); a regular wheel
  gets them from a temporary directory. ``src/plexio/_mypyc.json`` records a hash of each
  compiled source, so that a core edited after the build runs as pure Python (with a
  warning) rather than as stale compiled code.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

ENV_SWITCH = "PLEXIO_MYPYC"
CORES = ("src/plexio/engineio", "src/plexio/socketio")
MANIFEST = "src/plexio/_mypyc.json"
GROUP = "plexio"  # the shared library is the top-level module ``plexio__mypyc``
# What mypy needs to type-check the cores in the isolated build environment: mypyc
# itself (shipped with mypy), setuptools to drive the C compiler, and the one typed
# third-party package the cores import (msgpack is optional and untyped: ignored).
BUILD_REQUIREMENTS = ["mypy>=1.11", "setuptools>=70", "orjson>=3.10"]
TIMEOUT_S = 1200

_COMPILE = """
import sys
from setuptools import setup
from mypyc.build import mypycify

temp, lib, inplace, group, *paths = sys.argv[1:]
# The cores import plexio modules above them (typing, enums, exceptions, and the package
# __init__), whose optional third-party imports (uvloop, httptools, redis, ...) are not in
# the isolated build environment: mypy follows them silently, checking only the cores.
MYPY_FLAGS = ["--follow-imports=silent"]
args = ["build_ext", "--build-temp", temp, "--build-lib", lib]
args += ["--inplace"] if inplace == "1" else []
setup(
    name="plexio-cores",
    package_dir={"": "src"},
    ext_modules=mypycify(
        [*MYPY_FLAGS, *paths], opt_level="3", group_name=group, target_dir=temp + "/c"
    ),
    script_args=args,
)
"""


def _enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def _sources(root: Path) -> list[Path]:
    return sorted(p for core in CORES for p in (root / core).glob("*.py"))


def _extensions(directory: Path) -> list[Path]:
    """The extension modules under ``directory`` (``src``, or a wheel's build-lib)."""
    found = [p for core in CORES for p in directory.glob(core.removeprefix("src/") + "/*.so")]
    found += directory.glob(f"{GROUP}__mypyc*.so")
    return sorted(found)


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Compile the sans-I/O cores with mypyc; fall back to pure Python on any failure."""

    PLUGIN_NAME = "custom"

    def dependencies(self) -> list[str]:
        return list(BUILD_REQUIREMENTS) if _enabled() else []

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        editable = version == "editable"
        if editable:
            # Whatever was built before goes: the build below replaces it, or pure Python
            # runs (a stale extension would shadow the edited source).
            for path in _extensions(root / "src"):
                path.unlink()
            (root / MANIFEST).unlink(missing_ok=True)
        if not _enabled():
            self._record(root, build_data, editable, None, f"{ENV_SWITCH}=0")
            return
        sources = _sources(root)
        # Removed in finalize(): a wheel's force_include is read after initialize().
        self._temp = temp = tempfile.mkdtemp(prefix="plexio-mypyc-")
        lib = Path(temp, "lib")
        argv = [
            sys.executable,
            "-c",
            _COMPILE,
            temp,
            str(lib),
            "1" if editable else "0",
            GROUP,
            *(str(p.relative_to(root)) for p in sources),
        ]
        self.app.display_info("plexio: compiling the sans-I/O cores with mypyc ...")
        start = time.monotonic()
        try:
            done = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=TIMEOUT_S)
            failure = None if done.returncode == 0 else _last_lines(done.stdout + done.stderr)
        except (OSError, subprocess.TimeoutExpired) as exc:
            failure = f"{type(exc).__name__}: {exc}"
        built = _extensions(root / "src" if editable else lib)
        if failure is None and not built:
            failure = "mypyc produced no extension module"
        if failure is not None:
            for path in _extensions(root / "src") if editable else []:
                path.unlink()
            self._record(root, build_data, editable, None, failure)
            return
        self.app.display_info(
            f"plexio: {len(built)} extension modules built in {time.monotonic() - start:.0f} s"
        )
        self._record(root, build_data, editable, (sources, built, lib), None)

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        temp = getattr(self, "_temp", None)
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)

    def _record(
        self,
        root: Path,
        build_data: dict[str, Any],
        editable: bool,
        result: tuple[list[Path], list[Path], Path] | None,
        failure: str | None,
    ) -> None:
        """Write the manifest (editable: in ``src``; wheel: into the wheel) and tell."""
        manifest: dict[str, Any] = {"compiled": result is not None}
        if failure is not None:
            manifest["reason"] = failure
            if _enabled():
                self.app.display_warning(
                    "plexio: the mypyc build of the sans-I/O cores failed; installing them as "
                    f"pure Python (same behaviour, slower). Reason:\n{failure}"
                )
        if result is not None:
            sources, built, lib = result
            manifest["sources"] = {
                str(p.relative_to(root / "src")): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sources
            }
            if not editable:
                build_data["pure_python"] = False
                build_data["infer_tag"] = True
                for path in built:
                    relative = path.relative_to(lib)
                    build_data["force_include"][str(path)] = str(relative)
        text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
        if editable:
            (root / MANIFEST).write_text(text)
        else:
            if getattr(self, "_temp", None) is None:
                self._temp = tempfile.mkdtemp(prefix="plexio-mypyc-")
            path = Path(self._temp, "_mypyc.json")
            path.write_text(text)
            build_data["force_include"][str(path)] = "plexio/_mypyc.json"


def _last_lines(output: str, count: int = 25) -> str:
    return "\n".join(output.strip().splitlines()[-count:]) or "(no output)"
