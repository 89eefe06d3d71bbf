"""Shared values and helpers of the community tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from community.records import UserRecord
from community.settings import PasswordCost

from community.services import Services

__all__ = ["PASSWORD", "TEST_PASSWORD_COST", "TEST_SECRET", "Account", "SignUp", "users"]

# Cheap but real argon2id parameters: tests hash many passwords.
TEST_PASSWORD_COST = PasswordCost(time_cost=1, memory_kib=1024, parallelism=1)
TEST_SECRET = "test-secret-" + "x" * 40
PASSWORD = "password123"


@dataclass(frozen=True)
class Account:
    """A signed-up user and its bearer token."""

    id: int
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        """The ``Authorization`` header."""
        return {"Authorization": f"Bearer {self.token}"}


SignUp = Callable[[str], Awaitable[Account]]


async def users(services: Services, *names: str) -> list[UserRecord]:
    """Sign users up through the services (password ``PASSWORD``)."""
    return [await services.accounts.sign_up(name, PASSWORD) for name in names]
