"""Session id generation (layer L1, sans-I/O).

Ids are URL-safe (they travel in query strings, PROTOCOL.md item 29) and 20 characters
long like the reference server's: 15 random bytes in URL-safe base64. The default source
is the operating system's (``os.urandom``), read for many ids at once: 15 bytes encode to
exactly 20 base64 characters, so one read and one encoding of ``15 × n`` bytes give ``n``
independent ids (one system call per connection and per namespace socket cost as much as
the rest of the id). A forked child drops the ids its parent had read ahead. Tests pass a
random source of their own to get deterministic ids.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable

__all__ = ["RandomBytes", "generate_sid"]

RandomBytes = Callable[[int], bytes]

#: Ids read ahead at once from the system's random source.
_BATCH = 64
_ahead: list[str] = []


def generate_sid(random_bytes: RandomBytes | None = None) -> str:
    """Returns a new 20-character URL-safe session id.

    Args:
        random_bytes: ``random_bytes(n)`` gives ``n`` random bytes (default: the
            system's cryptographic source, read ahead for many ids).
    """
    if random_bytes is not None:
        return base64.urlsafe_b64encode(random_bytes(15)).decode("ascii")
    while True:
        try:
            return _ahead.pop()
        except IndexError:
            text = base64.urlsafe_b64encode(os.urandom(15 * _BATCH)).decode("ascii")
            _ahead.extend([text[i : i + 20] for i in range(0, 20 * _BATCH, 20)])


if hasattr(os, "register_at_fork"):  # a child must not reuse its parent's ids
    os.register_at_fork(after_in_child=_ahead.clear)
