"""Adapters made before a ``fork`` take new ids in the child (``plexio.run(workers=N)``).

A server built once and forked into several workers holds one adapter per namespace in
each copy; with the parent's id, every worker would take the others' messages for its own
echoes and drop them. After a fork, every adapter alive in the child draws a new id.
"""

from __future__ import annotations

import os
import weakref
from typing import Protocol

__all__ = ["Renewable", "renew_after_fork"]


class Renewable(Protocol):
    def renew_uid(self) -> None:
        """Draws a new server id (and the channel names made from it)."""
        ...


_LIVE: weakref.WeakSet[Renewable] = weakref.WeakSet()


def renew_after_fork(adapter: Renewable) -> None:
    """Makes ``adapter`` draw a new id in a forked child."""
    _LIVE.add(adapter)


def _after_fork() -> None:
    for adapter in list(_LIVE):
        adapter.renew_uid()


os.register_at_fork(after_in_child=_after_fork)
