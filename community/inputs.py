"""What clients may send, declared once for both boundaries: the REST API and the socket gateway.

Both validate with these types before any service runs (FastAPI for path and query values and
request bodies, plexio's typed handlers for event payloads), so the same bad value gets the
same ``invalid_input`` answer through either, and the services take plain ``int`` and ``str``
arguments that they do not check again. What depends on the server's
:class:`~community.settings.Limits` (lengths, page sizes) and on the database (existence,
permissions) is the services' to check.
"""

from __future__ import annotations

from typing import Annotated, Final

from annotated_types import Ge, Le
from pydantic import AfterValidator

__all__ = ["MAX_ID", "Cursor", "Id", "PageSize", "clamp_cursor"]

MAX_ID: Final = 2**63 - 1
"""Largest id any table can hold (signed 64-bit); larger numbers cannot name anything."""

Id = Annotated[int, Ge(1), Le(MAX_ID)]
"""The id of a user, community, channel or message: 1 to :data:`MAX_ID`."""


def clamp_cursor(value: int) -> int:
    """Bring any integer into the range the database can compare with (0 to :data:`MAX_ID`).

    A cursor names a position, not a row, so every integer is a valid one.
    """
    return max(0, min(value, MAX_ID))


Cursor = Annotated[int, AfterValidator(clamp_cursor)]
"""A paging cursor (``after``, ``before``): any integer, clamped by :func:`clamp_cursor`."""


PageSize = Annotated[int, Ge(1)]
"""A page size (``limit``): at least 1; its maximum is a server setting (the services check it)."""
