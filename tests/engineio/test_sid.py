from __future__ import annotations

import os
import re

import pytest

from plexio.engineio.sid import generate_sid


def test_sid_is_url_safe_and_20_chars() -> None:
    sids = {generate_sid() for _ in range(200)}
    assert len(sids) == 200
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{20}", s) for s in sids)


def test_injected_random_source_is_deterministic() -> None:
    assert generate_sid(lambda n: b"\x00" * n) == "A" * 20


def test_ids_read_ahead_are_unique_across_batches() -> None:
    sids = [generate_sid() for _ in range(1000)]  # several read-ahead batches
    assert len(set(sids)) == 1000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_does_not_reuse_the_parents_ids() -> None:
    generate_sid()  # the parent has ids read ahead now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, generate_sid().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert re.fullmatch(r"[A-Za-z0-9_-]{20}", child)
    assert child != generate_sid()
