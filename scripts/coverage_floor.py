"""Holds the coverage floor after ``make test`` (reads coverage.py's JSON report).

Usage: ``python scripts/coverage_floor.py coverage.json [--floors scripts/coverage_floors.json]``

Each module of ``src/plexio`` has a floor (percent of statements and branches covered
by the whole suite, as measured in this process: servers the tests start in a
subprocess are not counted). The floors were recorded from a whole-suite run, 10
points under what it measured (runs on a shared machine differ: timing-dependent
branches), and only go up. The floors live in ``scripts/coverage_floors.json``:
``{"total": N, "default": N, "modules": {"src/plexio/x.py": N, ...}}``; a module not
listed gets ``default``. Prints every module under its floor and exits 1 if any is,
or if the total is under ``total``. ``--write`` records the current figures, rounded
down to a whole percent, as the new floors (run it after raising coverage).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

__all__ = ["check", "main"]

_DEFAULT_FLOORS = Path(__file__).with_name("coverage_floors.json")


def check(report: dict[str, object], floors: dict[str, object]) -> list[str]:
    """The modules (and the total) under their floor, as printable lines."""
    files = report["files"]
    assert isinstance(files, dict)
    modules = floors.get("modules", {})
    assert isinstance(modules, dict)
    default = float(floors.get("default", 0))  # type: ignore[arg-type]  # JSON number
    failures = []
    for name, data in sorted(files.items()):
        covered = float(data["summary"]["percent_covered"])
        floor = float(modules.get(name, default))
        if covered + 1e-9 < floor:
            failures.append(f"{name}: {covered:.1f}% < floor {floor:g}%")
    for name in sorted(set(modules) - set(files)):
        print(f"coverage: {name} has a floor but was not measured (moved or removed?)")
    totals = report["totals"]
    assert isinstance(totals, dict)
    total = float(totals["percent_covered"])
    total_floor = float(floors.get("total", 0))  # type: ignore[arg-type]  # JSON number
    if total + 1e-9 < total_floor:
        failures.append(f"TOTAL: {total:.1f}% < floor {total_floor:g}%")
    return failures


def main(argv: list[str] | None = None) -> int:
    """Checks (or, with ``--write``, records) the floors; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="coverage.py JSON report")
    parser.add_argument("--floors", type=Path, default=_DEFAULT_FLOORS)
    parser.add_argument("--write", action="store_true", help="record the current figures")
    args = parser.parse_args(argv)
    report = json.loads(args.report.read_text())
    if args.write:
        files = report["files"]
        floors = {
            "total": math.floor(report["totals"]["percent_covered"]),
            "default": 0,
            "modules": {
                name: math.floor(data["summary"]["percent_covered"])
                for name, data in sorted(files.items())
            },
        }
        args.floors.write_text(json.dumps(floors, indent=2) + "\n")
        print(f"floors written to {args.floors}")
        return 0
    floors = json.loads(args.floors.read_text())
    failures = check(report, floors)
    for line in failures:
        print("coverage under its floor:", line)
    if not failures:
        print(f"coverage floors hold ({len(report['files'])} modules)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
