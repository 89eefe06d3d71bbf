"""A short run of the fuzz targets (``make fuzz`` runs a million, coverage-guided)."""

from __future__ import annotations

from collections import Counter

import pytest
from fuzz.run import plain_loop
from fuzz.targets import SEEDS, one_input


def test_every_seed_passes_every_target() -> None:
    for seed in SEEDS:
        for target in range(4):
            one_input(bytes([target]) + seed[1:])


@pytest.mark.parametrize("seed", [1, 2])
def test_short_random_mutation_run(seed: int) -> None:
    targets: Counter[int] = Counter()
    distinct: set[bytes] = set()

    def counted(data: bytes) -> None:
        if data:
            targets[data[0] % 4] += 1
        distinct.add(data)
        one_input(data)

    plain_loop(10_000, seed, SEEDS, counted)
    # every target gets a fair share of the run, and the inputs are mutations, not the
    # seeds over and over
    assert all(targets[target] >= 1_000 for target in range(4)), targets
    assert len(distinct) >= 5_000


def test_an_input_that_breaks_the_invariant_stops_the_run_and_is_printed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def strict(data: bytes) -> None:
        one_input(data)
        if b"\x1e\x1e" in data:
            raise ValueError("not a DecodeError")

    with pytest.raises(ValueError, match="not a DecodeError"):
        plain_loop(10_000, 1, SEEDS, strict)
    assert "failing input" in capsys.readouterr().err
