"""Run one bounded bench.micro module under valgrind's callgrind and read the profile.

Instruction counts do not depend on what else the machine runs, so the micro benchmarks
(`hot_path`, `fanout_wire`) compare two bounded runs of different lengths this way: the
difference per operation is the cost of the operation, start-up excluded.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile


def measure(module: str, args: list[str], label: str, keep: str = "") -> tuple[int, int]:
    """Instructions and ``_PyObject_Malloc`` calls of ``python -m module *args``.

    Args:
        module: the module to run (``bench.micro.hot_path``).
        args: its command-line arguments.
        label: names the profile file (``callgrind.{label}.out``).
        keep: a folder to keep the profile in (for callgrind_annotate); "" discards it.
    """
    if keep:
        os.makedirs(keep, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(keep or tmp, f"callgrind.{label}.out")
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                "-m",
                module,
                *args,
            ],
            check=True,
            env=dict(os.environ, PYTHONHASHSEED="0"),
            capture_output=True,
        )
        with open(out) as f:
            profile = f.read()
    return total(profile), malloc_calls(profile)


def total(profile: str) -> int:
    """The total instruction count of a callgrind profile."""
    match = re.search(r"^(?:summary|totals): (\d+)", profile, re.M)
    if match is None:
        raise RuntimeError("no totals in the callgrind profile")
    return int(match.group(1))


def malloc_calls(profile: str) -> int:
    """How many times the profile calls ``_PyObject_Malloc`` (pymalloc allocations)."""
    # callgrind's format: "cfn=(id) name" (name given the first time only), then
    # "calls=N target" for the call. Names are compressed to ids, defined once by
    # whichever "fn=" or "cfn=" line comes first.
    names: dict[str, str] = {}
    calls = 0
    current: str | None = None
    for line in profile.splitlines():
        if line.startswith(("fn=", "cfn=")):
            m = re.match(r"c?fn=\((\d+)\)(?: (.*))?", line)
            if m:
                if m.group(2):
                    names[m.group(1)] = m.group(2)
                if line[0] == "c":
                    current = names.get(m.group(1))
        elif line.startswith("calls=") and current == "_PyObject_Malloc":
            calls += int(line[6:].split()[0])
    return calls
