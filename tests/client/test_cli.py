"""``python -m plexio listen`` against plexio's server (in the test's loop)."""

from __future__ import annotations

import asyncio
import io
import json
import sys
from typing import Any

import pytest

from plexio.__main__ import _parser, from_json, listen, main, to_json
from tests.client.apps import make_client_test_server
from tests.helpers.servers import REPO_ROOT, RunningServer


@pytest.fixture
async def server(serve_uvicorn: Any) -> RunningServer:
    app = make_client_test_server(ping_interval=1.0, ping_timeout=1.0)
    result: RunningServer = await serve_uvicorn(app.app)
    return result


async def run_listen(*argv: str) -> tuple[int, list[dict[str, Any]]]:
    out = io.StringIO()
    args = _parser().parse_args(["listen", *argv])
    code = await asyncio.wait_for(listen(args, out), 20)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def test_binary_round_trips_through_json() -> None:
    value = {"a": [b"\x00\xff", 1, "s"], "b": {"c": bytearray(b"x")}}
    text = json.dumps(to_json(value))
    assert from_json(json.loads(text)) == {"a": [b"\x00\xff", 1, "s"], "b": {"c": b"x"}}


async def test_emit_prints_every_ack_argument(server: RunningServer) -> None:
    code, lines = await run_listen(
        server.http_url + "/a",
        "--emit",
        "echo",
        "--data",
        '"hi"',
        "--data",
        '{"$binary": "AAE="}',
        "--data",
        "3",
    )
    assert code == 0
    assert lines[0]["event"] == "connect" and lines[0]["namespace"] == "/a"
    assert lines[-1] == {"namespace": "/a", "ack": ["hi", {"$binary": "AAE="}, 3]}


async def test_listen_prints_events_of_several_namespaces(server: RunningServer) -> None:
    code, lines = await run_listen(
        server.http_url, "-n", "/a", "-n", "/b", "--count", "2", "--transports", "websocket"
    )
    assert code == 0
    connects = [line for line in lines if line.get("event") == "connect"]
    assert [c["namespace"] for c in connects] == ["/a", "/b"]
    assert len({c["engine"] for c in connects}) == 1  # one Engine.IO connection
    welcomes = [line for line in lines if line.get("event") == "welcome"]
    assert sorted(w["namespace"] for w in welcomes) == ["/a", "/b"]
    assert all(w["args"] == [{"nsp": w["namespace"]}] for w in welcomes)


async def test_refused_namespace_exits_1(server: RunningServer) -> None:
    code, lines = await run_listen(server.http_url + "/auth", "--auth", '{"token": "nope"}')
    assert code == 1
    assert lines == [
        {
            "namespace": "/auth",
            "event": "connect_error",
            "message": "unauthorized",
            "data": {"why": "bad token"},
        }
    ]
    code, lines = await run_listen(
        server.http_url + "/auth", "--auth", '{"token": "good"}', "--emit", "whoami"
    )
    assert code == 0 and lines[-1]["ack"][0]["auth"] == {"token": "good"}


async def test_ack_timeout_exits_3(server: RunningServer) -> None:
    code, lines = await run_listen(server.http_url, "--emit", "noack", "--ack-timeout", "0.2")
    assert code == 3 and lines[-1] == {"namespace": "/", "error": "ack timeout"}


async def test_unreachable_server_exits_1_and_says_why(unused_tcp_port: int) -> None:
    code, lines = await run_listen(
        f"http://127.0.0.1:{unused_tcp_port}", "--no-reconnect", "--connect-timeout", "5"
    )
    assert code == 1 and lines[0]["event"] == "error"
    assert lines[0]["reason"] == "connection refused"
    assert "connection refused" in lines[0]["message"]
    assert lines[0]["cause"]  # the underlying error, e.g. "ConnectError: All connection ..."


async def test_still_retrying_at_the_deadline_says_why(unused_tcp_port: int) -> None:
    code, lines = await run_listen(
        f"http://127.0.0.1:{unused_tcp_port}", "--connect-timeout", "0.5"
    )
    assert code == 1
    assert lines[0]["reason"] == "connection refused"
    assert "not connected after 0.5 s" in lines[0]["message"]


async def test_a_wrong_path_prints_the_http_status(server: RunningServer) -> None:
    code, lines = await run_listen(
        server.http_url, "--path", "/nope/", "--no-reconnect", "--transports", "polling"
    )
    assert code == 1
    assert lines[0]["reason"] == "http status" and lines[0]["status"] == 404


def test_bad_arguments_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["listen", "http://127.0.0.1:1", "--auth", "{not json"])
    assert info.value.code == 2
    assert "not JSON" in capsys.readouterr().err
    assert main(["listen", "ftp://127.0.0.1:1"]) == 2


async def test_module_entry_point(server: RunningServer) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "plexio",
        "listen",
        server.http_url + "/b",
        "--emit",
        "echo",
        "--data",
        '"x"',
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, stderr.decode()
    lines = [json.loads(line) for line in stdout.decode().splitlines()]
    assert lines[-1] == {"namespace": "/b", "ack": ["x"]}
