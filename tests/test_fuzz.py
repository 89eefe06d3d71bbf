"""A short run of the fuzz targets (``make fuzz`` runs a million, coverage-guided)."""

from __future__ import annotations

import pytest
from fuzz.run import plain_loop
from fuzz.targets import SEEDS, one_input


def test_every_seed_passes_every_target() -> None:
    for seed in SEEDS:
        for target in range(4):
            one_input(bytes([target]) + seed[1:])


@pytest.mark.parametrize("seed", [1, 2])
def test_short_random_mutation_run(seed: int) -> None:
    assert plain_loop(10_000, seed) == 10_000
