"""Database engine set-up and programmatic Alembic migrations.

The migrations live in ``community/migrations``; :func:`migrate` runs them to the latest revision
over the application's own async engine (Alembic's "connection sharing" recipe), so no separate
``alembic.ini`` or command is needed at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy
from alembic import command
from alembic.config import Config
from sqlalchemy import event, make_url
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from community.settings import normalize_database_url, sqlite_path

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "create_engine",
    "create_sessionmaker",
    "create_writer_engine",
    "downgrade",
    "from_sqlite_time",
    "migrate",
    "to_sqlite_time",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
"""Alembic script directory."""

# Seconds a SQLite writer waits for another writer's lock before failing.
_SQLITE_BUSY_TIMEOUT = 30

# Seconds a request waits for a pooled connection before failing.
_POOL_TIMEOUT = 30


DEFAULT_POOL_SIZE = 10
"""PostgreSQL connections kept open by default (see ``Settings.pool_size``)."""


def create_engine(database_url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> AsyncEngine:
    """Create the async engine for a database URL.

    For SQLite the file's directory is created, foreign keys are switched on for every
    connection (SQLite ignores them otherwise), and file databases use WAL journaling with
    ``synchronous=NORMAL`` (a commit is durable once the WAL is checkpointed; a power loss
    may lose the last commits, never corrupt the file). One connection serves every request
    of the process: SQLite has one writer at a time anyway, and waiting for the pool is first
    come, first served, where waiting for the file lock polls and lets later requests pass.

    PostgreSQL gets a pool of ``pool_size`` connections without overflow (an overflow
    connection is opened and closed again per request under load, losing its prepared
    statements), and no pre-ping.

    Args:
        database_url: Database URL (normalized to its async driver).
        pool_size: PostgreSQL connections.

    Returns:
        The engine; it connects lazily.
    """
    url = normalize_database_url(database_url)
    path = sqlite_path(url)
    if url.startswith("sqlite"):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        # An in-memory database already lives on one static connection.
        pool: dict[str, Any] = (
            {}
            if path is None
            else {"pool_size": 1, "max_overflow": 0, "pool_timeout": _POOL_TIMEOUT}
        )
        engine = create_async_engine(url, connect_args={"timeout": _SQLITE_BUSY_TIMEOUT}, **pool)
        _configure_sqlite(engine.sync_engine, wal=path is not None)
        return engine
    # No pre-ping: it costs a round trip per checkout, on the hot path. A connection that
    # the server dropped fails its statement once and is then discarded by the pool.
    return create_async_engine(url, pool_size=pool_size, max_overflow=0, pool_timeout=_POOL_TIMEOUT)


def _configure_sqlite(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, open transactions (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A deferred transaction that reads and then writes fails at once with
        # SQLITE_BUSY when another connection wrote meanwhile (the busy timeout does not
        # apply to lock upgrades). Taking the write lock up front makes concurrent
        # writers queue on the busy timeout instead.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_writer_engine(database_url: str) -> Engine | None:
    """Create the synchronous engine of :class:`community.writer.Writer` for a SQLite file.

    One connection (the standard library's ``sqlite3``), configured like
    :func:`create_engine`'s, used by the writer's own thread only.

    Args:
        database_url: Database URL.

    Returns:
        The engine, or ``None`` for other databases (and in-memory SQLite), where the writer
        uses the application's async engine.
    """
    url = normalize_database_url(database_url)
    path = sqlite_path(url)
    if not url.startswith("sqlite") or path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = sqlalchemy.create_engine(
        make_url(url).set(drivername="sqlite+pysqlite"),
        connect_args={"timeout": _SQLITE_BUSY_TIMEOUT, "check_same_thread": False},
        pool_size=1,
        max_overflow=0,
        pool_timeout=_POOL_TIMEOUT,
    )
    _configure_sqlite(engine, wal=True)
    return engine


def to_sqlite_time(value: datetime) -> str:
    """An aware datetime as SQLAlchemy's ``DateTime`` stores it on SQLite (naive UTC text).

    For statements given to the ``sqlite3`` driver directly (the writer's hot paths).
    """
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def from_sqlite_time(value: str) -> datetime:
    """The aware UTC datetime of a time stored by SQLAlchemy's ``DateTime`` on SQLite."""
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Create the session factory used by the service layer.

    Args:
        engine: The engine.

    Returns:
        A factory of sessions whose objects stay readable after commit.
    """
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(connection: Connection | None = None) -> Config:
    """Build an Alembic configuration pointing at ``community/migrations``.

    Args:
        connection: A connection for ``env.py`` to run on (the shared-connection recipe).

    Returns:
        The configuration.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Upgrade the database schema to a revision (the latest by default).

    Safe to call on every start: an up-to-date database is left as it is.

    Args:
        engine: The engine of the database to upgrade.
        revision: Target revision.
    """
    await _run_alembic(engine, command.upgrade, revision)


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    """Downgrade the database schema (to nothing by default). Used by tests and operators.

    Args:
        engine: The engine of the database to downgrade.
        revision: Target revision.
    """
    await _run_alembic(engine, command.downgrade, revision)


async def _run_alembic(
    engine: AsyncEngine, step: Callable[[Config, str], None], revision: str
) -> None:
    """Run an Alembic command (upgrade, downgrade) to ``revision`` in one transaction."""

    def run(connection: Connection) -> None:
        step(alembic_config(connection), revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)
