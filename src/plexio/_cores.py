"""Which build of the sans-I/O cores runs: mypyc-compiled or pure Python.

The build (``hatch_build.py``) may compile :mod:`plexio.engineio` and :mod:`plexio.socketio`
with mypyc into extension modules beside their ``.py`` files; Python's import system then
loads the extensions. It writes ``_mypyc.json`` beside this file, with a hash of each
compiled source. :func:`select` (run when ``plexio/__init__.py`` imports this module, before
any core) makes both cores load from their ``.py`` files instead when

- ``PLEXIO_PURE=1`` is set (``make test`` does, for the coverage run: coverage.py cannot
  see into compiled modules), or
- a compiled source changed since the build (an edited core in an editable install): the
  stale extensions are ignored, with a warning on the ``plexio`` logger, until ``make
  cores`` (``pip install --no-deps -e .``) compiles them again.

Both cores switch together: compiled modules call each other directly, not through
``sys.modules``, so a mix would run stale code. :func:`describe` tells which build runs
and why (``make install`` prints it).
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

__all__ = ["compiled", "describe", "select"]

_HERE = Path(__file__).resolve().parent
_MANIFEST = _HERE / "_mypyc.json"
_CORES = frozenset({"engineio", "socketio"})
_state: list[str] = []  # the reason pure Python was chosen, once select() ran


class _PureCores(importlib.abc.MetaPathFinder):
    """Finds the modules of the cores as their ``.py`` source, never an extension."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        parts = fullname.split(".")
        if len(parts) < 2 or parts[0] != "plexio" or parts[1] not in _CORES or len(parts) > 3:
            return None
        if len(parts) == 2:
            package = _HERE / parts[1]
            return importlib.util.spec_from_file_location(
                fullname, package / "__init__.py", submodule_search_locations=[str(package)]
            )
        for entry in path or ():
            source = Path(entry, parts[2] + ".py")
            if source.is_file():
                return importlib.util.spec_from_file_location(fullname, source)
        return None


def _manifest() -> dict[str, object] | None:
    try:
        data = json.loads(_MANIFEST.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _changed(sources: object) -> list[str]:
    if not isinstance(sources, dict):
        return ["(manifest unreadable)"]
    changed = []
    for name, digest in sources.items():
        try:
            now = hashlib.sha256((_HERE.parent / name).read_bytes()).hexdigest()
        except OSError:
            now = None
        if now != digest:
            changed.append(str(name))
    return changed


def select() -> None:
    """Make the cores load as pure Python if asked to or if the build is stale."""
    if _state or any(f"plexio.{core}" in sys.modules for core in _CORES):
        return
    manifest = _manifest()
    if manifest is None or not manifest.get("compiled"):
        _state.append(str(manifest.get("reason", "not compiled")) if manifest else "not built")
        return
    if os.environ.get("PLEXIO_PURE", "") == "1":
        _state.append("PLEXIO_PURE=1")
    else:
        changed = _changed(manifest.get("sources"))
        if not changed:
            _state.append("")
            return
        _state.append(f"sources changed since the mypyc build: {', '.join(changed)}")
        logging.getLogger("plexio").warning(
            "plexio: running the sans-I/O cores as pure Python: %s (`make cores` compiles "
            "them again)",
            _state[0],
        )
    sys.meta_path.insert(0, _PureCores())


def compiled() -> bool:
    """Whether the mypyc-compiled cores run in this process."""
    import plexio.engineio.session as session

    return not (session.__file__ or "").endswith(".py")


def describe() -> str:
    """One line: which build of the cores runs, and why."""
    if compiled():
        return "plexio: sans-I/O cores compiled with mypyc"
    reason = _state[0] if _state else "not selected"
    lines = reason.strip().splitlines()
    last = lines[-1] if lines else "the build says compiled, but no extension module was found"
    return f"plexio: sans-I/O cores run as pure Python ({last})"


select()
