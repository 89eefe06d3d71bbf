"""Alembic migrations on an empty database, both ways (community/db.py, community/migrations)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from community.db import MIGRATIONS_DIR, alembic_config, create_engine, downgrade, migrate
from community.models import Base
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

TABLES = {"users", "communities", "community_members", "channels", "channel_members", "messages"}


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_upgrade_from_empty_matches_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) == set()
        await migrate(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) == TABLES | {"alembic_version"}
            version = (
                await connection.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar_one()
            assert await connection.run_sync(_differences) == []
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert version == head
        # Running again on an up-to-date database changes nothing.
        await migrate(engine)
    finally:
        await engine.dispose()


async def test_downgrade_to_base_and_up_again(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate(engine)
        await downgrade(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) <= {"alembic_version"}
        await migrate(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) == TABLES | {"alembic_version"}
    finally:
        await engine.dispose()


def test_migration_scripts_form_one_line() -> None:
    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    assert len(scripts.get_heads()) == 1
    assert [r.revision for r in scripts.walk_revisions()][-1] == "0001"
