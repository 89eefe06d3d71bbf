"""The reconnection backoff policy: pure, so tested with an injected random source."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plexio.client.backoff import Backoff

unit = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)


def test_grows_exponentially_up_to_the_cap_without_jitter() -> None:
    b = Backoff(base=0.5, maximum=5.0, randomization_factor=0.0)
    assert [b.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert b.attempts == 6
    b.reset()
    assert b.attempts == 0 and b.next_delay() == 0.5


def test_jitter_spreads_both_ways() -> None:
    low = Backoff(base=1.0, maximum=10.0, randomization_factor=0.5, rand=lambda: 0.0)
    high = Backoff(base=1.0, maximum=10.0, randomization_factor=0.5, rand=lambda: 0.999999)
    mid = Backoff(base=1.0, maximum=10.0, randomization_factor=0.5, rand=lambda: 0.5)
    assert low.delay_for(1) == pytest.approx(1.0)  # 2 - 50 %
    assert high.delay_for(1) == pytest.approx(3.0, rel=1e-5)  # 2 + 50 %
    assert mid.delay_for(1) == pytest.approx(2.0)


def test_huge_attempt_numbers_stay_capped() -> None:
    b = Backoff(base=1.0, maximum=30.0, randomization_factor=0.0)
    assert b.delay_for(10**9) == 30.0
    assert Backoff(base=0.0, maximum=1.0).delay_for(10**9) == 0.0
    assert (
        Backoff(base=0.2, maximum=1.0, factor=1.0, randomization_factor=0).delay_for(10**9) == 0.2
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base": -1.0},
        {"maximum": -1.0},
        {"randomization_factor": 1.5},
        {"randomization_factor": -0.1},
        {"factor": 0.5},
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)


def test_negative_attempt_is_refused() -> None:
    with pytest.raises(ValueError):
        Backoff().delay_for(-1)


@given(
    base=st.floats(min_value=0.0, max_value=100.0),
    maximum=st.floats(min_value=0.0, max_value=100.0),
    factor=st.floats(min_value=1.0, max_value=10.0),
    jitter=st.floats(min_value=0.0, max_value=1.0),
    attempt=st.integers(min_value=0, max_value=10_000),
    r=unit,
)
def test_delay_is_always_within_bounds(
    base: float, maximum: float, factor: float, jitter: float, attempt: int, r: float
) -> None:
    b = Backoff(base, maximum, jitter, factor, rand=lambda: r)
    delay = b.delay_for(attempt)
    assert 0.0 <= delay <= maximum
    plain = Backoff(base, maximum, 0.0, factor).delay_for(attempt)
    assert abs(delay - plain) <= plain * jitter + 1e-9


@given(
    base=st.floats(min_value=0.001, max_value=10.0),
    maximum=st.floats(min_value=0.001, max_value=100.0),
    attempts=st.integers(min_value=1, max_value=50),
)
def test_without_jitter_delays_never_decrease(base: float, maximum: float, attempts: int) -> None:
    b = Backoff(base, maximum, 0.0)
    delays = [b.next_delay() for _ in range(attempts)]
    assert delays == sorted(delays)
    assert delays[0] == min(base, maximum)
