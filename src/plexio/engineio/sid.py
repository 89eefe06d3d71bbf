"""Session id generation (layer L1, sans-I/O).

Ids are URL-safe (they travel in query strings, PROTOCOL.md item 29) and 20 characters
long like the reference server's, from an injectable random source so tests can be
deterministic.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable

__all__ = ["RandomBytes", "generate_sid"]

RandomBytes = Callable[[int], bytes]


def generate_sid(random_bytes: RandomBytes = secrets.token_bytes) -> str:
    """Returns a new 20-character URL-safe session id."""
    return base64.urlsafe_b64encode(random_bytes(15)).decode("ascii")
