"""``python -m community`` (community/__main__.py): a real process on a free port."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import httpx
import pytest
from community.__main__ import ServerEnvironment, main

ROOT = Path(__file__).resolve().parents[2]


async def test_serves_the_seeded_sqlite_demo(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "COMMUNITY_"))}
    env.update(HOST="127.0.0.1", PORT="0", PYTHONPATH=str(ROOT))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "community",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    log: list[str] = []
    try:
        port = None
        async with asyncio.timeout(60):
            while port is None:
                line = (await process.stderr.readline()).decode()
                assert line, "server exited early:\n" + "".join(log)
                log.append(line)
                match = re.search(r"running on http://127\.0\.0\.1:(\d+)", line)
                if match:
                    port = int(match.group(1))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            response = await client.post(
                "/api/auth/login", json={"username": "alice", "password": "password"}
            )
            assert response.status_code == 200
            assert (await client.get("/openapi.json")).status_code == 200
    finally:
        process.terminate()
        async with asyncio.timeout(30):
            await process.wait()
    assert (tmp_path / "community.sqlite3").is_file()
    assert (tmp_path / "community.sqlite3.secret").is_file()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("COMMUNITY_TOKEN_TTL", "never"),
        ("COMMUNITY_MAX_PAYLOAD", "lots"),
        ("WORKERS", "0"),
        ("WORKERS", "many"),
    ],
)
def test_bad_configuration_exits_with_status_2(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    name: str,
    value: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("PORT", "8000")
    monkeypatch.setenv("COMMUNITY_SECRET", "k" * 40)
    monkeypatch.setenv(name, value)
    assert main() == 2
    assert f"{name}: " in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # stopped before the key file or the database


def test_server_environment_defaults_and_values(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOST", "PORT", "WORKERS"):
        monkeypatch.setenv(name, " ")
    server = ServerEnvironment.read()
    assert (server.host, server.port, server.workers) == ("127.0.0.1", 8000, 1)
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("PORT", "0")
    monkeypatch.setenv("WORKERS", " 4 ")
    server = ServerEnvironment.read()
    assert (server.host, server.port, server.workers) == ("0.0.0.0", 0, 4)


@pytest.mark.redis
async def test_workers_share_the_port_and_a_redis_of_their_own(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "COMMUNITY_", "REDIS_URL"))
    }
    env.update(HOST="127.0.0.1", PORT="0", WORKERS="2", PYTHONPATH=str(ROOT))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "community",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stderr is not None
    log: list[str] = []
    try:
        port = None
        async with asyncio.timeout(120):
            while port is None:
                line = (await process.stderr.readline()).decode()
                assert line, "server exited early:\n" + "".join(log)
                log.append(line)
                match = re.search(r"2 workers serving http://127\.0\.0\.1:(\d+)", line)
                if match:
                    port = int(match.group(1))
        assert any("started redis-server" in line for line in log)
        # seeded once (by the supervisor), logins work on whichever worker answers
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for _ in range(4):
                response = await client.post(
                    "/api/auth/login", json={"username": "alice", "password": "password"}
                )
                assert response.status_code == 200
    finally:
        process.terminate()
        async with asyncio.timeout(60):
            await process.wait()
