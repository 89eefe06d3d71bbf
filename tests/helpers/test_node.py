"""The Node harness itself: JSON lines, commands, failures, deadlines, process trees."""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest

from tests.helpers.node import NodeScriptError, node_process, node_server, run_node_script

pytestmark = pytest.mark.interop

SCRIPT = "harness_selftest.js"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes; /proc tells them apart.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


async def _gone(pid: int) -> bool:
    for _ in range(200):
        if not _alive(pid):
            return True
        await asyncio.sleep(0.01)
    return False


async def test_commands_and_json_lines_round_trip() -> None:
    async with node_process(SCRIPT, env={"MODE": "echo"}) as proc:
        await proc.send_json({"cmd": "a", "n": 1})
        await proc.send_json({"cmd": "b", "text": "é\u2028"})
        assert await proc.read_json() == {"echo": {"cmd": "a", "n": 1}}
        assert await proc.read_json() == {"echo": {"cmd": "b", "text": "é\u2028"}}
        proc.close_stdin()
        assert await proc.wait() == 0


async def test_failure_raises_with_stderr() -> None:
    with pytest.raises(NodeScriptError, match="deliberate failure") as info:
        await run_node_script(SCRIPT, env={"MODE": "fail"})
    assert "exit status 3" in str(info.value)


async def test_read_timeout_raises_and_process_is_killed() -> None:
    async with node_process(SCRIPT, env={"MODE": "hang"}) as proc:
        assert await proc.read_json() == {"ready": True}
        with pytest.raises(NodeScriptError, match="no JSON line in time"):
            await proc.read_json(timeout=0.2)
        pid = proc.pid
    assert await _gone(pid)


async def test_hard_deadline_kills_a_hung_script() -> None:
    with pytest.raises(NodeScriptError):
        await run_node_script(SCRIPT, env={"MODE": "hang"}, timeout=1.0)


async def test_exit_kills_the_whole_process_tree() -> None:
    async with node_process(SCRIPT, env={"MODE": "spawn"}) as proc:
        child = (await proc.read_json())["child"]
        assert _alive(child)
    assert await _gone(child)


async def test_node_server_announces_its_port() -> None:
    async with node_server(SCRIPT, env={"MODE": "server"}) as server:
        async with httpx.AsyncClient() as http:
            response = await http.get(server.url)
        assert response.text == "hello"
        pid = server.info["pid"]
    assert await _gone(pid)


async def test_node_socketio_server_fixture(start_node_sio_server) -> None:
    server = await start_node_sio_server()
    lines = await run_node_script("sio_selftest_client.js", env={"SERVER_URL": server.url})
    assert lines[0]["step"] == "connected"
    assert lines[1] == {"step": "echo", "args": [1, "two", {"three": [3]}, {"binary": "BA=="}]}
    assert lines[2] == {
        "step": "refused",
        "message": "unauthorized",
        "data": {"reason": "bad token"},
    }
    connection = await server.process.read_event("connection")
    assert connection["id"] == lines[0]["id"]
    assert connection["transport"] == "websocket"
    received = await server.process.read_event("received")
    assert received["name"] == "echo" and received["ack"] is True
    assert received["args"][-1] == {"binary": "BA=="}
