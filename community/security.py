"""Password hashing (argon2id) and access tokens (JWT, HS256).

Hashing is CPU-bound (tens of milliseconds by design), so the async wrappers run it in a worker
thread and the event loop keeps serving other requests meanwhile.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from community.errors import AuthenticationFailed, TokenExpired
from community.settings import PasswordCost

__all__ = ["TOKEN_ALGORITHM", "PasswordHashing", "TokenClaims", "decode_token", "encode_token"]

TOKEN_ALGORITHM = "HS256"
_TOKEN_TYPE = "access"


class PasswordHashing:
    """argon2id password hashing.

    Args:
        cost: Cost parameters; argon2-cffi's recommended ones by default.
    """

    def __init__(self, cost: PasswordCost | None = None) -> None:
        cost = cost if cost is not None else PasswordCost()
        self._hasher = PasswordHasher(
            time_cost=cost.time_cost, memory_cost=cost.memory_kib, parallelism=cost.parallelism
        )
        # Verifying against this when the user does not exist keeps the response time of an
        # unknown username close to that of a wrong password (no cheap username probing).
        self._dummy_hash = self._hasher.hash("not a real password")

    async def hash(self, password: str) -> str:
        """Hash a password in a worker thread.

        Args:
            password: The plain password.

        Returns:
            The encoded argon2 hash.
        """
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Check a password against a stored hash, in a worker thread.

        Args:
            password_hash: The stored hash, or ``None`` for an unknown user (a dummy hash is
                checked instead, and the result is ``False``).
            password: The plain password.

        Returns:
            Whether the password matches.
        """
        if password_hash is None:
            await asyncio.to_thread(self._check, self._dummy_hash, password + "\x00")
            return False
        return await asyncio.to_thread(self._check, password_hash, password)

    def _check(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """The verified content of an access token.

    Attributes:
        user_id: The authenticated user.
        issued_at: Issue time.
        expires_at: Expiry time.
    """

    user_id: int
    issued_at: datetime
    expires_at: datetime


def encode_token(secret: str, user_id: int, *, now: datetime, ttl: timedelta) -> str:
    """Sign an access token for a user.

    Args:
        secret: The HS256 key.
        user_id: The user the token authenticates.
        now: Issue time (aware).
        ttl: Lifetime.

    Returns:
        The compact JWT.
    """
    payload = {
        "sub": str(user_id),
        "typ": _TOKEN_TYPE,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return jwt.encode(payload, secret, algorithm=TOKEN_ALGORITHM)


def decode_token(secret: str, token: object, *, now: datetime) -> TokenClaims:
    """Verify an access token's signature and expiry.

    Args:
        secret: The HS256 key.
        token: The token as received (anything; non-strings are rejected).
        now: Current time (aware), compared with the ``exp`` claim.

    Returns:
        The verified claims.

    Raises:
        TokenExpired: The token is valid but expired.
        AuthenticationFailed: The token is missing, malformed, forged or of the wrong kind.
    """
    # A compact JWS is ASCII (base64url and dots); anything else is not worth parsing.
    if not isinstance(token, str) or not token or len(token) > 4096 or not token.isascii():
        raise AuthenticationFailed("missing or malformed token")
    try:
        # Expiry is checked below against the injected clock, so tests need not wait.
        payload = jwt.decode(
            token,
            secret,
            algorithms=[TOKEN_ALGORITHM],
            options={"require": ["sub", "exp", "iat"], "verify_exp": False},
        )
    except jwt.PyJWTError:
        raise AuthenticationFailed("invalid token") from None
    sub, exp, iat = payload.get("sub"), payload.get("exp"), payload.get("iat")
    if (
        payload.get("typ") != _TOKEN_TYPE
        or not isinstance(sub, str)
        or not sub.isdecimal()
        or not isinstance(exp, int)
        or not isinstance(iat, int)
    ):
        raise AuthenticationFailed("invalid token")
    try:
        expires_at = datetime.fromtimestamp(exp, tz=now.tzinfo)
        issued_at = datetime.fromtimestamp(iat, tz=now.tzinfo)
    except (OverflowError, OSError, ValueError):
        raise AuthenticationFailed("invalid token") from None
    if now >= expires_at:
        raise TokenExpired("token expired")
    return TokenClaims(user_id=int(sub), issued_at=issued_at, expires_at=expires_at)
