"""Settings of the community application: database, token secret, limits.

Everything configurable travels in the frozen :class:`Settings` value given to
:func:`community.app.create_app`; :meth:`Settings.from_env` builds one from the environment for
``python -m community``, the variables being read and checked by pydantic-settings
(:class:`EnvironmentSettings`). :class:`EnvironmentVariables` is the base of every class that
reads variables (the gateway's are in :mod:`community.gateway.options`): one rule for blank
values and one error message that names each bad variable.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Self

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

__all__ = [
    "DEFAULT_SQLITE_PATH",
    "MIN_SECRET_BYTES",
    "EnvironmentSettings",
    "EnvironmentVariables",
    "Limits",
    "PasswordCost",
    "Settings",
    "load_or_create_secret",
    "normalize_database_url",
    "sqlite_path",
]

logger = logging.getLogger(__name__)

DEFAULT_SQLITE_PATH = "community.sqlite3"
"""SQLite file used by ``python -m community`` when ``DATABASE_URL`` is not set."""

MIN_SECRET_BYTES = 32
"""HS256 keys shorter than the hash output (32 bytes) are weak (RFC 7518 section 3.2)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits applied to every input, from REST or from the socket gateway.

    Attributes:
        message_max_length: Longest message body, in characters.
        history_default_limit: Messages per history page when the caller gives no limit.
        history_max_limit: Largest accepted history page size.
        list_max_limit: Largest page size of other listings (all communities, members).
        name_max_length: Longest community or channel name, in characters.
        description_max_length: Longest community description or channel topic.
        password_min_length: Shortest accepted password at sign-up.
        password_max_length: Longest accepted password (hashing cost grows with it).
        client_id_max_length: Longest idempotency key of a message.
        max_request_bytes: Largest HTTP request body the REST API reads.
    """

    message_max_length: int = 4000
    history_default_limit: int = 50
    history_max_limit: int = 100
    list_max_limit: int = 200
    name_max_length: int = 64
    description_max_length: int = 1000
    password_min_length: int = 8
    password_max_length: int = 1024
    client_id_max_length: int = 64
    max_request_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        for name in self.__slots__:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Limits.{name} must be a positive integer, got {value!r}")
        if self.history_default_limit > self.history_max_limit:
            raise ValueError("Limits.history_default_limit must not exceed history_max_limit")
        if self.password_min_length > self.password_max_length:
            raise ValueError("Limits.password_min_length must not exceed password_max_length")
        # These two are bounded by the column sizes in community/models.py.
        if self.name_max_length > 64:
            raise ValueError("Limits.name_max_length cannot exceed 64 (the column size)")
        if self.client_id_max_length > 64:
            raise ValueError("Limits.client_id_max_length cannot exceed 64 (the column size)")


@dataclass(frozen=True, slots=True)
class PasswordCost:
    """argon2id cost parameters (the defaults are argon2-cffi's, RFC 9106's low-memory choice).

    Attributes:
        time_cost: Number of passes.
        memory_kib: Memory used per hash, in KiB.
        parallelism: Number of lanes.
    """

    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 4

    def __post_init__(self) -> None:
        if self.time_cost < 1 or self.parallelism < 1:
            raise ValueError("PasswordCost.time_cost and parallelism must be at least 1")
        if self.memory_kib < 8 * self.parallelism:
            raise ValueError("PasswordCost.memory_kib must be at least 8 * parallelism")


@dataclass(frozen=True, slots=True)
class Settings:
    """Configuration of one community application instance.

    Attributes:
        database_url: SQLAlchemy URL; plain ``sqlite:///`` and ``postgresql://`` URLs are
            turned into their async drivers (aiosqlite, asyncpg).
        secret: HS256 signing key for access tokens, at least 32 bytes.
        token_ttl: Lifetime of an access token.
        seed_demo: Insert the demo users, communities and channels on start-up (idempotent).
        limits: Input size limits.
        password_cost: argon2id cost of password hashing.
        pool_size: PostgreSQL connections the process keeps open (no overflow: requests beyond
            them wait, in order, for one to be free). SQLite always uses one connection: one
            writer, whose waiters are served in order instead of polling the file lock.
    """

    database_url: str
    secret: str
    token_ttl: timedelta = timedelta(hours=12)
    seed_demo: bool = False
    limits: Limits = field(default_factory=Limits)
    password_cost: PasswordCost = field(default_factory=PasswordCost)
    pool_size: int = 10

    def __post_init__(self) -> None:
        object.__setattr__(self, "database_url", normalize_database_url(self.database_url))
        if len(self.secret.encode("utf-8")) < MIN_SECRET_BYTES:
            raise ValueError(f"Settings.secret must be at least {MIN_SECRET_BYTES} bytes long")
        if self.token_ttl < timedelta(seconds=1):
            raise ValueError("Settings.token_ttl must be at least one second")
        if isinstance(self.pool_size, bool) or not isinstance(self.pool_size, int):
            raise ValueError("Settings.pool_size must be an integer")
        if self.pool_size < 1:
            raise ValueError("Settings.pool_size must be at least 1")

    @classmethod
    def from_env(
        cls,
        *,
        default_sqlite_path: str | Path = DEFAULT_SQLITE_PATH,
        seed_demo: bool | None = None,
    ) -> Settings:
        """Build settings from the environment variables read by :class:`EnvironmentSettings`.

        ``DATABASE_URL`` selects the database (default: a SQLite file at
        ``default_sqlite_path``). Without ``COMMUNITY_SECRET`` a random key is generated once and
        stored next to the SQLite file (``<file>.secret``), or kept in memory only for other
        databases (tokens then die with the process). Demo data is seeded, unless
        ``COMMUNITY_SEED_DEMO`` says otherwise, only into the default SQLite file.

        Args:
            default_sqlite_path: SQLite file used when ``DATABASE_URL`` is unset.
            seed_demo: Seed demo data regardless of the environment, when not ``None``.

        Returns:
            The settings.

        Raises:
            ValueError: A variable holds an invalid value (the message names the variable).
        """
        env = EnvironmentSettings.read()
        using_default = not env.database_url
        url = normalize_database_url(
            env.database_url or "sqlite+aiosqlite:///" + str(Path(default_sqlite_path))
        )
        secret = env.secret
        if not secret:
            path = sqlite_path(url)
            if path is not None:
                secret = load_or_create_secret(Path(str(path) + ".secret"))
            else:
                logger.warning(
                    "COMMUNITY_SECRET is not set: using a random key; tokens will not survive "
                    "a restart"
                )
                secret = secrets.token_urlsafe(48)
        if seed_demo is None:
            seed_demo = using_default if env.seed_demo is None else env.seed_demo
        return cls(
            database_url=url,
            secret=secret,
            token_ttl=timedelta(seconds=env.token_ttl),
            seed_demo=seed_demo,
        )


class EnvironmentVariables(BaseSettings):
    """Base of the classes that read environment variables with pydantic-settings.

    Each field names its variable in ``validation_alias`` (the names are case-sensitive).
    Surrounding whitespace is ignored and a blank variable counts as unset (the field keeps its
    default). Values are never decoded as JSON: a field that wants a list splits the text itself.
    """

    model_config = SettingsConfigDict(case_sensitive=True, enable_decoding=False, extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _strip_and_drop_blanks(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        stripped = {k: v.strip() if isinstance(v, str) else v for k, v in data.items()}
        return {k: v for k, v in stripped.items() if v != ""}

    @classmethod
    def read(cls) -> Self:
        """Read the variables from the environment.

        Returns:
            The values (defaults for the variables not set).

        Raises:
            ValueError: A variable holds an invalid value; the message has one entry per bad
                variable, with its name, what is wrong and the value given.
        """
        try:
            return cls()
        except ValidationError as exc:
            lines = [
                f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}, "
                f"got {error['input']!r}"
                for error in exc.errors(include_url=False)
            ]
            raise ValueError("invalid environment: " + "; ".join(lines)) from None


class EnvironmentSettings(EnvironmentVariables):
    """The environment variables of :meth:`Settings.from_env` (read by pydantic-settings).

    Attributes:
        database_url: ``DATABASE_URL``, a SQLAlchemy URL (unset: the default SQLite file).
        secret: ``COMMUNITY_SECRET``, the token key (unset: generated, see
            :meth:`Settings.from_env`).
        token_ttl: ``COMMUNITY_TOKEN_TTL``, the token lifetime in seconds (at least 1).
        seed_demo: ``COMMUNITY_SEED_DEMO`` (``1``/``0``, ``true``/``false``, ``yes``/``no``,
            ``on``/``off``); ``None`` when unset.
    """

    database_url: str = Field(default="", validation_alias="DATABASE_URL")
    secret: str = Field(default="", validation_alias="COMMUNITY_SECRET")
    token_ttl: float = Field(
        default=timedelta(hours=12).total_seconds(),
        ge=1,
        allow_inf_nan=False,
        validation_alias="COMMUNITY_TOKEN_TTL",
    )
    seed_demo: bool | None = Field(default=None, validation_alias="COMMUNITY_SEED_DEMO")


def normalize_database_url(url: str) -> str:
    """Give a database URL its async driver.

    ``sqlite://`` becomes ``sqlite+aiosqlite://``; ``postgres://``, ``postgresql://`` and
    ``postgresql+psycopg2://`` become ``postgresql+asyncpg://``. Other URLs are returned as given.

    Args:
        url: A SQLAlchemy-style database URL.

    Returns:
        The URL with an async driver.

    Raises:
        ValueError: The URL cannot be parsed or names an unsupported database.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError(f"invalid database URL {url!r}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    else:
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    return parsed.render_as_string(hide_password=False)


def sqlite_path(url: str) -> Path | None:
    """Return the file of a SQLite URL, or ``None`` for other databases and in-memory SQLite.

    Args:
        url: A database URL.

    Returns:
        The database file path, or ``None``.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def load_or_create_secret(path: Path) -> str:
    """Read a token key from ``path``, creating the file with a random key if missing.

    The file is created with mode 0600 so that only its owner can read the key.

    Args:
        path: The key file.

    Returns:
        The key.

    Raises:
        ValueError: The file exists but holds a key that is too short.
    """
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        secret = secrets.token_urlsafe(48)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secret + "\n")
        logger.info("generated a new token key in %s", path)
        return secret
    if len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
        raise ValueError(f"the key in {path} is shorter than {MIN_SECRET_BYTES} bytes")
    return secret
