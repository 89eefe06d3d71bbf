"""Accounts: signing up, logging in, access tokens, looking users up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from community.errors import AuthenticationFailed, Conflict
from community.inputs import MAX_ID
from community.models import User
from community.records import IssuedToken, UserRecord
from community.security import PasswordHashing, decode_token, encode_token
from community.services.context import ServiceContext
from community.services.rows import get_row, user_record
from community.services.rules import TextRules, is_clean, is_username, normalize_username

__all__ = ["Accounts"]


class Accounts:
    """Users, their passwords and their access tokens.

    Args:
        context: The shared collaborators.
        secret: HS256 key for access tokens.
        token_ttl: Access token lifetime.
        passwords: Password hashing.
    """

    def __init__(
        self,
        context: ServiceContext,
        *,
        secret: str,
        token_ttl: timedelta,
        passwords: PasswordHashing,
    ) -> None:
        self._context = context
        self._rules = TextRules(context.limits)
        self._secret = secret
        self._token_ttl = token_ttl
        self._passwords = passwords

    async def sign_up(
        self, username: str, password: str, display_name: str | None = None
    ) -> UserRecord:
        """Register a user.

        Args:
            username: 3 to 32 characters among letters, digits, ``_ . -``; case-insensitive
                (stored lower-case).
            password: Between ``limits.password_min_length`` and ``password_max_length``
                characters.
            display_name: Shown name; the username (as typed) when omitted or empty.

        Returns:
            The new user.

        Raises:
            InvalidInput: A value is malformed.
            Conflict: The username is taken.
        """
        name = self._rules.username(username)
        secret = self._rules.password(password)
        shown = self._rules.display_name(display_name or username.strip())
        # Answer a taken name before paying for a hash; the unique index settles races.
        sessionmaker = self._context.sessionmaker
        async with sessionmaker() as session:
            if await session.scalar(select(User.id).where(User.username == name)):
                raise Conflict(f"username {name!r} is taken")
        password_hash = await self._passwords.hash(secret)
        try:
            async with sessionmaker() as session, session.begin():
                user = User(
                    username=name,
                    display_name=shown,
                    password_hash=password_hash,
                    created_at=self._context.clock(),
                )
                session.add(user)
                await session.flush()
                return user_record(user)
        except IntegrityError:
            raise Conflict(f"username {name!r} is taken") from None

    async def log_in(self, username: str, password: str) -> UserRecord:
        """Check a username (any case) and password.

        Raises:
            AuthenticationFailed: Unknown user or wrong password (the same error for both).
        """
        name = normalize_username(username)
        if len(password) > self._context.limits.password_max_length or not is_clean(password):
            raise AuthenticationFailed("wrong username or password")
        user: User | None = None
        if is_username(name):
            async with self._context.sessionmaker() as session:
                user = await session.scalar(select(User).where(User.username == name))
        ok = await self._passwords.verify(user.password_hash if user else None, password)
        if user is None or not ok:
            raise AuthenticationFailed("wrong username or password")
        return user_record(user)

    def issue_token(self, user_id: int) -> IssuedToken:
        """Sign an access token for a user.

        Returns:
            The token and its expiry time.
        """
        now = self._context.clock()
        token = encode_token(self._secret, user_id, now=now, ttl=self._token_ttl)
        # The exp claim has whole seconds; report exactly what the token says.
        expires_at = datetime.fromtimestamp(int((now + self._token_ttl).timestamp()), UTC)
        return IssuedToken(token=token, expires_at=expires_at)

    async def authenticate(self, token: object) -> UserRecord:
        """Verify an access token and load its user (the REST API's bearer token, the socket
        handshake's ``auth.token``).

        Args:
            token: The token as received; anything but a well-formed token string is rejected
                (:func:`community.security.decode_token` is where tokens are checked).

        Returns:
            The authenticated user.

        Raises:
            TokenExpired: The token has expired.
            AuthenticationFailed: The token is malformed or forged, or its user no longer exists.
        """
        claims = decode_token(self._secret, token, now=self._context.clock())
        if not 1 <= claims.user_id <= MAX_ID:
            raise AuthenticationFailed("invalid token")
        async with self._context.sessionmaker() as session:
            user = await session.get(User, claims.user_id)
            if user is None:
                raise AuthenticationFailed("unknown user")
            return user_record(user)

    async def get(self, user_id: int) -> UserRecord:
        """Load a user.

        Raises:
            NotFound: No such user.
        """
        async with self._context.sessionmaker() as session:
            return user_record(await get_row(session, User, user_id, "user"))

    async def find(self, username: str) -> UserRecord | None:
        """Look a user up by username (any case); ``None`` if there is none (or the name is not
        a valid username)."""
        name = normalize_username(username)
        if not is_username(name):
            return None
        async with self._context.sessionmaker() as session:
            user = await session.scalar(select(User).where(User.username == name))
            return None if user is None else user_record(user)
