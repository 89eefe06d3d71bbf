"""Database engine set-up and programmatic Alembic migrations.

The migrations live in ``community/migrations``; :func:`migrate` runs them to the latest revision
over the application's own async engine (Alembic's "connection sharing" recipe), so no separate
``alembic.ini`` or command is needed at start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection
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
    "downgrade",
    "migrate",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
"""Alembic script directory."""

# Seconds a SQLite writer waits for another writer's lock before failing.
_SQLITE_BUSY_TIMEOUT = 30


def create_engine(database_url: str) -> AsyncEngine:
    """Create the async engine for a database URL.

    For SQLite the file's directory is created, foreign keys are switched on for every
    connection (SQLite ignores them otherwise), and file databases use WAL journaling so that
    readers do not block the writer.

    Args:
        database_url: Database URL (normalized to its async driver).

    Returns:
        The engine; it connects lazily.
    """
    url = normalize_database_url(database_url)
    path = sqlite_path(url)
    if url.startswith("sqlite"):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": _SQLITE_BUSY_TIMEOUT})
        wal = path is not None

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, open transactions (see _on_begin).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if wal:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(connection: Connection) -> None:
            # A deferred transaction that reads and then writes fails at once with
            # SQLITE_BUSY when another connection wrote meanwhile (the busy timeout does not
            # apply to lock upgrades). Taking the write lock up front makes concurrent
            # writers queue on the busy timeout instead.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # No pre-ping: it costs a round trip per checkout, on the hot path. A connection that
    # the server dropped fails its statement once and is then discarded by the pool.
    return create_async_engine(url)


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

    def run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    """Downgrade the database schema (to nothing by default). Used by tests and operators.

    Args:
        engine: The engine of the database to downgrade.
        revision: Target revision.
    """

    def run(connection: Connection) -> None:
        command.downgrade(alembic_config(connection), revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)
