from __future__ import annotations

import re

from plexio.engineio.sid import generate_sid


def test_sid_is_url_safe_and_20_chars() -> None:
    sids = {generate_sid() for _ in range(200)}
    assert len(sids) == 200
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{20}", s) for s in sids)


def test_injected_random_source_is_deterministic() -> None:
    assert generate_sid(lambda n: b"\x00" * n) == "A" * 20
