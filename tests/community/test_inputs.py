"""The types both boundaries check client values with (community/inputs.py)."""

from __future__ import annotations

import pytest
from community.inputs import MAX_ID, Cursor, Id, PageSize, clamp_cursor
from pydantic import TypeAdapter, ValidationError


@pytest.mark.parametrize("strict", [False, True])
def test_ids_are_the_integers_a_table_can_hold(strict: bool) -> None:
    ids = TypeAdapter(Id)
    for good in (1, 2, MAX_ID):
        assert ids.validate_python(good, strict=strict) == good
    for bad in (0, -1, MAX_ID + 1, 10**40):
        with pytest.raises(ValidationError):
            ids.validate_python(bad, strict=strict)


def test_strict_ids_refuse_what_only_looks_like_one() -> None:
    # The gateway's payloads are strict; a URL path is text, so REST parses "7" itself.
    ids = TypeAdapter(Id)
    for bad in ("1", True, 1.0, None, [1]):
        with pytest.raises(ValidationError):
            ids.validate_python(bad, strict=True)
    assert ids.validate_python("7") == 7


def test_cursors_take_any_integer_and_clamp_it() -> None:
    cursors = TypeAdapter(Cursor)
    assert cursors.validate_python(10**40) == MAX_ID
    assert cursors.validate_python(-5) == 0
    assert cursors.validate_python(42) == 42
    assert clamp_cursor(MAX_ID) == MAX_ID
    with pytest.raises(ValidationError):
        cursors.validate_python("x")


def test_page_sizes_start_at_one() -> None:
    sizes = TypeAdapter(PageSize)
    assert sizes.validate_python(1) == 1
    with pytest.raises(ValidationError):
        sizes.validate_python(0)
