"""Type-checking user code: what must pass and what must be rejected, by mypy and pyright.

``examples/good.py`` is ordinary user code (decorated handlers keep their signatures,
fetched sockets and options are typed) and must be clean under ``mypy --strict`` and
pyright's strict mode. Each line of ``examples/bad.py`` ending in ``# error`` must be
reported by both, and no other line.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).with_name("examples")
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def marked_lines(path: Path) -> set[int]:
    lines = path.read_text().splitlines()
    return {n for n, line in enumerate(lines, 1) if line.rstrip().endswith("# error")}


def mypy_errors(path: Path) -> set[int]:
    done = subprocess.run(
        [str(BIN / "mypy"), "--strict", "--no-incremental", "--config-file", "", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    found = re.findall(rf"{re.escape(path.name)}:(\d+): error:", done.stdout)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return {int(n) for n in found}


def pyright_errors(path: Path) -> set[int]:
    done = subprocess.run(
        [str(BIN / "pyright"), "--pythonpath", sys.executable, str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    found = re.findall(rf"{re.escape(path.name)}:(\d+):\d+ - error:", done.stdout)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return {int(n) for n in found}


CHECKERS = {"mypy": mypy_errors, "pyright": pyright_errors}


@pytest.mark.slow
@pytest.mark.parametrize("checker", sorted(CHECKERS))
def test_user_code_type_checks(checker: str) -> None:
    assert CHECKERS[checker](EXAMPLES / "good.py") == set()


@pytest.mark.slow
@pytest.mark.parametrize("checker", sorted(CHECKERS))
def test_wrong_user_code_is_rejected_where_marked(checker: str) -> None:
    bad = EXAMPLES / "bad.py"
    assert CHECKERS[checker](bad) == marked_lines(bad)
