"""Reconnection backoff policy (layer L3, pure: no asyncio, no sleeping, no clock).

The delay before reconnection attempt ``n`` (0 for the first) grows exponentially
from ``base`` and is capped at ``maximum``; jitter spreads it by up to
``randomization_factor`` of its value either way, so many clients cut off by the same
server restart do not all come back at the same instant. The random source is
injected (a callable returning a float in ``[0, 1)``), so the policy is deterministic
under test.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass(slots=True)
class Backoff:
    """Exponential backoff with jitter.

    Args:
        base: delay in seconds before the first attempt (before jitter).
        maximum: no delay exceeds this many seconds.
        randomization_factor: jitter amplitude in ``[0, 1]``; 0 disables jitter.
        factor: growth per attempt.
        rand: random source returning floats in ``[0, 1)``.

    Attributes:
        attempts: attempts counted since the last :meth:`reset`.
    """

    base: float = 1.0
    maximum: float = 5.0
    randomization_factor: float = 0.5
    factor: float = 2.0
    rand: Callable[[], float] = field(default=random.random, repr=False)
    attempts: int = 0

    def __post_init__(self) -> None:
        if self.base < 0 or self.maximum < 0:
            raise ValueError("delays must be >= 0")
        if not 0.0 <= self.randomization_factor <= 1.0:
            raise ValueError("randomization_factor must be within [0, 1]")
        if self.factor < 1.0:
            raise ValueError("factor must be >= 1")

    def delay_for(self, attempt: int) -> float:
        """The delay before attempt number ``attempt`` (0-based), jitter included.

        Always within ``[0, maximum]``.
        """
        if attempt < 0:
            raise ValueError("attempt must be >= 0")
        # Exponent growth stops once past the cap, so huge attempt numbers cannot overflow.
        delay = self.base
        for _ in range(attempt):
            if delay >= self.maximum or delay == 0.0 or self.factor == 1.0:
                break
            delay *= self.factor
        delay = min(delay, self.maximum)
        if self.randomization_factor:
            spread = (2.0 * self.rand() - 1.0) * self.randomization_factor
            delay += delay * spread
        return min(max(delay, 0.0), self.maximum)

    def next_delay(self) -> float:
        """The delay before the next attempt; counts that attempt."""
        delay = self.delay_for(self.attempts)
        self.attempts += 1
        return delay

    def reset(self) -> None:
        """Starts counting again (after a successful connection)."""
        self.attempts = 0
