"""The official socket.io-client reaches plexio mounted at ``/rt`` inside FastAPI."""

from __future__ import annotations

from typing import Any

import pytest
from tests.asgi import mounted
from tests.helpers.node import NodeProcess, node_process
from tests.helpers.servers import running_uvicorn

pytestmark = pytest.mark.interop


async def until(proc: NodeProcess, event: str) -> dict[str, Any]:
    for _ in range(50):  # bounded: a few lines per command
        line = await proc.read_json(10)
        if isinstance(line, dict) and line.get("event") == event:
            return line
    raise AssertionError(f"no {event}")


@pytest.mark.parametrize("transports", [["polling"], ["websocket"], ["polling", "websocket"]])
async def test_js_client_with_path_option(transports: list[str]) -> None:
    async with running_uvicorn(mounted.make_fastapi()) as running:
        env = {"SERVER_URL": running.http_url}
        async with node_process("sio_client.js", env=env, timeout=60) as proc:
            await proc.send_json(
                {"cmd": "manager", "mid": "m", "transports": transports, "path": "/rt/socket.io/"}
            )
            await proc.send_json({"cmd": "socket", "id": "s", "mid": "m", "nsp": "/"})
            assert (await until(proc, "connect"))["id"] == "s"
            await proc.send_json(
                {"cmd": "emit", "id": "s", "event": "echo", "args": [{"n": 1}], "ack": True,
                 "tag": "t"}
            )  # fmt: skip
            assert (await until(proc, "ack"))["args"] == [{"n": 1}]
            await proc.send_json({"cmd": "exit"})
            await proc.read_rest()
