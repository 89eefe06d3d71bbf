"""scripts/coverage_floor.py: the per-module coverage floor that ``make test`` holds."""

from __future__ import annotations

import json
from pathlib import Path

from scripts.coverage_floor import check, main


def report(**modules: float) -> dict[str, object]:
    total = sum(modules.values()) / len(modules)
    return {
        "files": {name: {"summary": {"percent_covered": pct}} for name, pct in modules.items()},
        "totals": {"percent_covered": total},
    }


def test_modules_and_total_at_or_over_their_floors_pass() -> None:
    floors = {"total": 45, "default": 10, "modules": {"a.py": 80}}
    assert check(report(**{"a.py": 80.0, "b.py": 10.0}), floors) == []


def test_a_module_under_its_floor_or_the_default_fails() -> None:
    floors = {"total": 0, "default": 20, "modules": {"a.py": 80}}
    failures = check(report(**{"a.py": 79.9, "b.py": 5.0}), floors)
    assert failures == ["a.py: 79.9% < floor 80%", "b.py: 5.0% < floor 20%"]


def test_the_total_has_a_floor_too() -> None:
    assert check(report(**{"a.py": 40.0}), {"total": 41}) == ["TOTAL: 40.0% < floor 41%"]


def test_main_checks_and_writes(tmp_path: Path) -> None:
    measured = tmp_path / "coverage.json"
    measured.write_text(json.dumps(report(**{"a.py": 72.5})))
    floors = tmp_path / "floors.json"
    assert main([str(measured), "--floors", str(floors), "--write"]) == 0
    assert json.loads(floors.read_text()) == {"total": 72, "default": 0, "modules": {"a.py": 72}}
    assert main([str(measured), "--floors", str(floors)]) == 0
    measured.write_text(json.dumps(report(**{"a.py": 50.0})))
    assert main([str(measured), "--floors", str(floors)]) == 1
