"""plexio._cores: the pure-Python cores are chosen when asked for or when the build is stale."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import plexio
from plexio import _cores

SRC = Path(plexio.__file__).resolve().parent


def run(code: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "PLEXIO_PURE"} | env
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environ, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_finder_finds_the_sources_of_the_cores_only() -> None:
    finder = _cores._PureCores()
    package = finder.find_spec("plexio.socketio", None)
    assert package is not None and package.origin == str(SRC / "socketio" / "__init__.py")
    assert package.submodule_search_locations == [str(SRC / "socketio")]
    module = finder.find_spec("plexio.engineio.session", [str(SRC / "engineio")])
    assert module is not None and module.origin == str(SRC / "engineio" / "session.py")
    assert finder.find_spec("plexio.engineio.nothing", [str(SRC / "engineio")]) is None
    for name in ("plexio", "plexio.server", "plexio.server.engine", "plexio.engineio_x", "os"):
        assert finder.find_spec(name, None) is None


def test_plexio_pure_loads_every_core_from_its_source() -> None:
    out = run(
        "import plexio._cores as c, plexio.engineio.session as e, plexio.socketio.parser as p;"
        "print(e.__file__, p.__file__, c.compiled(), c.describe(), sep='|')",
        PLEXIO_PURE="1",
    )
    engine, parser, compiled, described = out.split("|")
    assert engine.endswith("session.py") and parser.endswith("parser.py")
    assert compiled == "False"
    assert described.startswith("plexio: sans-I/O cores run as pure Python (")


def test_a_source_changed_since_the_build_is_named() -> None:
    sid = SRC / "engineio" / "sid.py"
    digest = hashlib.sha256(sid.read_bytes()).hexdigest()
    assert _cores._changed({"plexio/engineio/sid.py": digest}) == []
    assert _cores._changed({"plexio/engineio/sid.py": "0" * 64}) == ["plexio/engineio/sid.py"]
    assert _cores._changed({"plexio/engineio/gone.py": digest}) == ["plexio/engineio/gone.py"]
    assert _cores._changed(None) == ["(manifest unreadable)"]


def test_the_build_in_use_is_the_one_the_manifest_promises() -> None:
    manifest = _cores._manifest()
    if manifest is None or not manifest.get("compiled"):
        reason = str(manifest.get("reason", "")) if manifest else ""
        # A machine without a C compiler may fall back; a type error in our own sources
        # (or one mypy reports while following their imports) is a bug of the build.
        assert "error:" not in reason, reason
        pytest.skip(f"the cores are not compiled in this install: {reason or 'not built'}")
    out = run("import plexio._cores as c; print(c.compiled(), c.describe())")
    changed = _cores._changed(manifest.get("sources"))
    if changed:  # an edited core: its stale extension must not run
        assert out.startswith("False plexio: sans-I/O cores run as pure Python (sources changed")
    else:
        assert out == "True plexio: sans-I/O cores compiled with mypyc"


def test_describe_names_a_compiled_build_whose_extensions_are_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The manifest promised compiled cores (select() recorded no reason) but the
    # extension modules are gone: pure Python runs, and describe() says why.
    monkeypatch.setattr(_cores, "_state", [""])
    monkeypatch.setattr(_cores, "compiled", lambda: False)
    assert _cores.describe() == (
        "plexio: sans-I/O cores run as pure Python "
        "(the build says compiled, but no extension module was found)"
    )
    monkeypatch.setattr(_cores, "_state", ["mypyc failed\nsrc/x.py:1: error: boom"])
    assert _cores.describe().endswith("(src/x.py:1: error: boom)")
