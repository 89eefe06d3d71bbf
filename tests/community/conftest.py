"""Fixtures of the community tests: one fresh database per test on SQLite and on PostgreSQL.

PostgreSQL tests (marked ``postgres``) use a database with a random name created once per test
session on 127.0.0.1:5432 (user ``postgres``, trust auth) and dropped at the end; its ``public``
schema is emptied before each test, so every test starts from an empty database and runs the
migrations. They are skipped, with the reason, when nothing listens on that port.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
from community.app import create_app, get_services
from community.settings import Settings
from fastapi import FastAPI

from community.services import Services
from tests.community.helpers import PASSWORD, TEST_PASSWORD_COST, TEST_SECRET, Account, SignUp

__all__: list[str] = []

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"

T = TypeVar("T")


def _postgres_listening() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1.0):
            return True
    except OSError:
        return False


def _run_in_thread(coro: Coroutine[Any, Any, T]) -> T:
    # Session-level set-up runs outside the tests' event loops; a private thread keeps
    # asyncio.run() from touching the loop pytest-asyncio manages in the main thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=60)


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres", timeout=10
    )
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@dataclass(frozen=True)
class PostgresDatabases:
    """Creates and drops throw-away PostgreSQL databases."""

    created: list[str]

    def create(self) -> str:
        """Create an empty database with a random name and return its URL."""
        name = f"community_test_{secrets.token_hex(6)}"
        _run_in_thread(_admin(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    """Factory of fresh PostgreSQL databases, all dropped at the end of the session."""
    if not _postgres_listening():
        pytest.skip(
            f"PostgreSQL is not listening on {PG_HOST}:{PG_PORT} (CI provides it; "
            "start a local server with trust auth for user postgres to run these tests)"
        )
    factory = PostgresDatabases(created=[])
    yield factory
    for name in factory.created:
        _run_in_thread(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_session_url(postgres_databases: PostgresDatabases) -> str:
    """URL of the database shared by the PostgreSQL tests of this session."""
    return postgres_databases.create()


async def _empty_schema(url: str) -> None:
    database = url.rsplit("/", 1)[1]
    connection = await asyncpg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, database=database, timeout=10
    )
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'community.sqlite3'}"
    url: str = request.getfixturevalue("postgres_session_url")
    await _empty_schema(url)
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings for a test app on the empty database, without demo data."""
    return Settings(
        database_url=database_url,
        secret=TEST_SECRET,
        password_cost=TEST_PASSWORD_COST,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """A started app (migrations done), stopped after the test."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def sign_up(client: httpx.AsyncClient) -> SignUp:
    """Sign a user up through the API (password ``PASSWORD``)."""

    async def do(username: str) -> Account:
        response = await client.post(
            "/api/auth/signup", json={"username": username, "password": PASSWORD}
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return Account(id=body["user"]["id"], username=username, token=body["access_token"])

    return do


@pytest.fixture
def services(app: FastAPI) -> Services:
    """The started app's services."""
    return get_services(app)
