"""Settings from the environment, database URLs and the demo key file (community/settings.py)."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

import pytest
from community.settings import (
    Limits,
    PasswordCost,
    Settings,
    load_or_create_secret,
    normalize_database_url,
    sqlite_path,
)

SECRET = "s" * 32
VARIABLES = ("DATABASE_URL", "COMMUNITY_SECRET", "COMMUNITY_TOKEN_TTL", "COMMUNITY_SEED_DEMO")


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A monkeypatch whose environment starts without any of the community variables."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def set_environment(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_defaults_use_sqlite_file_and_create_a_reusable_key(
    environ: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    db = tmp_path / "sub" / "community.sqlite3"
    first = Settings.from_env(default_sqlite_path=db)
    assert first.database_url == f"sqlite+aiosqlite:///{db}"
    assert first.seed_demo is True
    key_file = Path(f"{db}.secret")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().strip() == first.secret
    assert first.token_ttl == timedelta(hours=12)
    assert Settings.from_env(default_sqlite_path=db).secret == first.secret


def test_environment_overrides(environ: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": "postgresql://u@127.0.0.1:5432/db",
        "COMMUNITY_SECRET": SECRET,
        "COMMUNITY_TOKEN_TTL": "60",
        "COMMUNITY_SEED_DEMO": "1",
    }
    set_environment(environ, env)
    settings = Settings.from_env(default_sqlite_path=tmp_path / "unused.sqlite3")
    assert settings.database_url == "postgresql+asyncpg://u@127.0.0.1:5432/db"
    assert settings.secret == SECRET
    assert settings.token_ttl == timedelta(seconds=60)
    assert settings.seed_demo is True
    assert not list(tmp_path.iterdir())


def test_postgres_without_secret_gets_a_random_one(
    environ: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    environ.setenv("DATABASE_URL", "postgres://u@localhost/db")
    first, second = Settings.from_env(), Settings.from_env()
    assert first.secret != second.secret
    assert first.seed_demo is False
    assert "COMMUNITY_SECRET is not set" in caplog.text


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"COMMUNITY_TOKEN_TTL": "soon"}, "COMMUNITY_TOKEN_TTL: .*got 'soon'"),
        ({"COMMUNITY_TOKEN_TTL": " 0.5 "}, "COMMUNITY_TOKEN_TTL: .*got '0.5'"),
        ({"COMMUNITY_TOKEN_TTL": "-5"}, "COMMUNITY_TOKEN_TTL: .*greater than or equal to 1"),
        ({"COMMUNITY_TOKEN_TTL": "nan"}, "COMMUNITY_TOKEN_TTL: .*got 'nan'"),
        ({"COMMUNITY_SEED_DEMO": "maybe"}, "COMMUNITY_SEED_DEMO: .*got 'maybe'"),
        ({"COMMUNITY_SECRET": "short"}, "at least 32 bytes"),
        ({"DATABASE_URL": "mysql://x/y"}, "unsupported database 'mysql'"),
        ({"DATABASE_URL": "not a url"}, "invalid database URL"),
    ],
)
def test_bad_environment_values_raise_value_error(
    env: dict[str, str], message: str, environ: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    set_environment(environ, env)
    with pytest.raises(ValueError, match=message):
        Settings.from_env(default_sqlite_path=tmp_path / "c.sqlite3")


@pytest.mark.parametrize(
    ("text", "expected"), [("0", False), ("off", False), (" YES ", True), ("true", True)]
)
def test_seed_demo_words(
    text: str, expected: bool, environ: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    environ.setenv("COMMUNITY_SEED_DEMO", text)
    environ.setenv("COMMUNITY_SECRET", SECRET)
    assert Settings.from_env(default_sqlite_path=tmp_path / "c.sqlite3").seed_demo is expected


@pytest.mark.parametrize("blank", ["", " ", "\t \n"])
def test_empty_and_blank_variables_count_as_unset(
    blank: str, environ: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    set_environment(environ, dict.fromkeys(VARIABLES, blank))
    db = tmp_path / "c.sqlite3"
    settings = Settings.from_env(default_sqlite_path=db)
    assert settings.database_url == f"sqlite+aiosqlite:///{db}"
    assert settings.token_ttl == timedelta(hours=12)
    assert settings.seed_demo is True
    assert len(settings.secret) >= 32


def test_surrounding_whitespace_is_ignored(environ: pytest.MonkeyPatch, tmp_path: Path) -> None:
    set_environment(
        environ,
        {
            "DATABASE_URL": " sqlite:///x.sqlite3 ",
            "COMMUNITY_SECRET": f"  {SECRET}\n",
            "COMMUNITY_TOKEN_TTL": " 90 ",
        },
    )
    settings = Settings.from_env(default_sqlite_path=tmp_path / "unused.sqlite3")
    assert settings.database_url == "sqlite+aiosqlite:///x.sqlite3"
    assert settings.secret == SECRET
    assert settings.token_ttl == timedelta(seconds=90)


def test_explicit_seed_demo_wins_over_the_environment(
    environ: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    environ.setenv("COMMUNITY_SEED_DEMO", "1")
    settings = Settings.from_env(default_sqlite_path=tmp_path / "c.sqlite3", seed_demo=False)
    assert settings.seed_demo is False


def test_short_key_file_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "k.secret"
    key.write_text("too short\n")
    with pytest.raises(ValueError, match="shorter"):
        load_or_create_secret(key)


def test_url_normalization() -> None:
    assert normalize_database_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert normalize_database_url("sqlite+aiosqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert normalize_database_url("postgresql+psycopg2://u:p@h/d") == "postgresql+asyncpg://u:p@h/d"
    assert sqlite_path("sqlite+aiosqlite:///x.db") == Path("x.db")
    assert sqlite_path("sqlite+aiosqlite://") is None
    assert sqlite_path("sqlite+aiosqlite:///:memory:") is None
    assert sqlite_path("postgresql+asyncpg://h/d") is None


def test_settings_and_limits_validation() -> None:
    with pytest.raises(ValueError):
        Settings(database_url="sqlite:///x", secret=SECRET, token_ttl=timedelta(0))
    with pytest.raises(ValueError):
        Settings(database_url="sqlite:///x", secret="x" * 31)
    for bad in (
        {"history_max_limit": 0},
        {"history_default_limit": 200},
        {"password_min_length": 2000},
        {"name_max_length": 65},
        {"client_id_max_length": 100},
        {"message_max_length": True},
    ):
        with pytest.raises(ValueError):
            Limits(**bad)  # type: ignore[arg-type]  # deliberately wrong values
    with pytest.raises(ValueError):
        PasswordCost(time_cost=0)
    with pytest.raises(ValueError):
        PasswordCost(memory_kib=8, parallelism=4)


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, "10"])
def test_pool_size_must_be_a_positive_integer(bad: object) -> None:
    with pytest.raises(ValueError, match="pool_size"):
        Settings(database_url="sqlite:///x.sqlite3", secret="s" * 40, pool_size=bad)  # type: ignore[arg-type]
