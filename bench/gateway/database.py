"""The databases of a run: a SQLite file, or a PostgreSQL database made and dropped for it."""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg

__all__ = ["PG_DSN", "Database", "postgres_available"]

PG_DSN = "postgresql://postgres@127.0.0.1:5432"
"""Where the PostgreSQL of the machine listens (trust auth for ``postgres``)."""


async def postgres_available() -> bool:
    """Whether the PostgreSQL server answers."""
    try:
        connection = await asyncpg.connect(f"{PG_DSN}/postgres", timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await connection.close()
    return True


class Database:
    """One throw-away database.

    Args:
        kind: ``"sqlite"`` or ``"postgres"``.
        directory: Where the SQLite file goes.
    """

    def __init__(self, kind: str, directory: Path) -> None:
        self.kind = kind
        self._name = f"bench_gateway_{secrets.token_hex(5)}"
        self._path = directory / f"{self._name}.sqlite3"

    @property
    def url(self) -> str:
        """The URL to give the servers."""
        if self.kind == "sqlite":
            return f"sqlite:///{self._path}"
        return f"{PG_DSN}/{self._name}"

    async def create(self) -> None:
        """Create the (empty) database; the gateway's start-up migrates it."""
        if self.kind == "postgres":
            await _admin(f'CREATE DATABASE "{self._name}"')
        else:
            self._path.parent.mkdir(parents=True, exist_ok=True)

    async def drop(self) -> None:
        """Drop the database (or delete the SQLite files)."""
        if self.kind == "postgres":
            await _admin(f'DROP DATABASE IF EXISTS "{self._name}" WITH (FORCE)')
        else:
            for suffix in ("", "-wal", "-shm", ".secret"):
                Path(f"{self._path}{suffix}").unlink(missing_ok=True)

    async def messages_like(self, pattern: str) -> list[tuple[Any, ...]]:
        """``(id, client_id, body)`` of the messages whose ``client_id`` matches a LIKE pattern."""
        query = "SELECT id, client_id, body FROM messages WHERE client_id LIKE {} ORDER BY id"
        if self.kind == "postgres":
            connection = await asyncpg.connect(self.url, timeout=10)
            try:
                rows = await connection.fetch(query.format("$1"), pattern)
            finally:
                await connection.close()
            return [tuple(r) for r in rows]
        with sqlite3.connect(self._path, timeout=30) as db:
            return list(db.execute(query.format("?"), (pattern,)).fetchall())


async def _admin(statement: str) -> None:
    """Runs one statement on the PostgreSQL server's ``postgres`` database."""
    admin = await asyncpg.connect(f"{PG_DSN}/postgres", timeout=10)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()
