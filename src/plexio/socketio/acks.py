"""Acknowledgement ids of one connection, for both roles (layer L1: plexio L0 only).

An id is a non-negative integer the sender puts on an EVENT that expects an ACK; the
peer answers with the same id. The reference implementations count up from 0 per
connection; plexio does the same on both sides, wrapping before an id would need more
than ``Limits.max_ack_id_digits`` digits (the most a peer's decoder accepts).
"""

from __future__ import annotations

__all__ = ["AckIds"]


class AckIds:
    """The ack id counter of one connection (server or client).

    Args:
        max_digits: ids stay below ``10 ** max_digits``; the counter then wraps to 0.
    """

    __slots__ = ("_limit", "_next")

    def __init__(self, max_digits: int) -> None:
        if max_digits < 1:
            raise ValueError("max_digits must be >= 1")
        self._limit = 10**max_digits
        self._next = 0

    @property
    def next(self) -> int:
        """The id :meth:`allocate` would return now (no id at or above it is in use,
        until the counter wraps)."""
        return self._next

    def allocate(self, at_least: int = 0) -> int:
        """A fresh id.

        Args:
            at_least: skip ahead to this id (a broadcast that expects acks carries one
                id for all its recipients: it takes the largest :attr:`next` among
                them and allocates it on each). An id past the limit wraps to 0.
        """
        ack_id = max(self._next, at_least)
        if ack_id >= self._limit:
            ack_id = 0
        self._next = ack_id + 1 if ack_id + 1 < self._limit else 0
        return ack_id

    def __repr__(self) -> str:
        return f"AckIds(next={self._next}, limit={self._limit})"
