"""Accounts: sign-up, log-in, tokens and user look-ups (community/services/accounts.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from community.errors import (
    AuthenticationFailed,
    Conflict,
    NotFound,
    TokenExpired,
)
from community.inputs import MAX_ID
from community.security import encode_token

from community.services import Services
from tests.community.helpers import PASSWORD, TEST_SECRET, users


async def test_authenticate_token_round_trip_and_failures(services: Services) -> None:
    (alice,) = await users(services, "alice")
    issued = services.accounts.issue_token(alice.id)
    assert await services.accounts.authenticate(issued.token) == alice
    assert issued.expires_at > datetime.now(UTC)
    for bad in (None, 42, b"bytes", "", "a.b.c", "x" * 5000, {"token": issued.token}):
        with pytest.raises(AuthenticationFailed):
            await services.accounts.authenticate(bad)
    old = encode_token(
        TEST_SECRET, alice.id, now=datetime.now(UTC) - timedelta(days=2), ttl=timedelta(days=1)
    )
    with pytest.raises(TokenExpired):
        await services.accounts.authenticate(old)


async def test_sign_up_then_log_in_and_look_up(services: Services) -> None:
    alice = await services.accounts.sign_up(" Alice ", PASSWORD)
    assert (alice.username, alice.display_name) == ("alice", "Alice")
    named = await services.accounts.sign_up("bob", PASSWORD, "Bobby")
    assert named.display_name == "Bobby"
    with pytest.raises(Conflict):
        await services.accounts.sign_up("ALICE", PASSWORD)
    assert await services.accounts.log_in("ALICE", PASSWORD) == alice
    for username, password in [("alice", "wrong-password"), ("nobody", PASSWORD), ("x", "\x00")]:
        with pytest.raises(AuthenticationFailed):
            await services.accounts.log_in(username, password)
    assert await services.accounts.find("Alice") == alice
    assert await services.accounts.find("not valid!") is None
    assert await services.accounts.get(named.id) == named
    with pytest.raises(NotFound):
        await services.accounts.get(MAX_ID)
