"""Token buckets for the per-connection input budget (layer L1, sans-I/O).

May import: nothing from plexio. Time is an input (``now``, seconds).
"""

from __future__ import annotations

__all__ = ["TokenBucket"]


class TokenBucket:
    """``rate`` tokens per second, holding at most one second's worth.

    A single charge larger than the capacity passes when the bucket is full (the
    bucket goes into debt), so an allowed message is never refused for its size alone.
    """

    __slots__ = ("_rate", "_tokens", "_last")

    def __init__(self, rate: float, now: float) -> None:
        self._rate = rate
        self._tokens = rate
        self._last = now

    def take(self, amount: float, now: float) -> bool:
        """Charges ``amount`` tokens; False (nothing charged) when they are not there."""
        rate = self._rate
        tokens = self._tokens + (now - self._last) * rate
        if tokens > rate:
            tokens = rate
        self._last = now
        if tokens < amount and tokens < rate:
            self._tokens = tokens
            return False
        self._tokens = tokens - amount
        return True
