"""plexio.run(..., workers=3): three worker processes on one port, no sticky sessions.

The workers share a Redis adapter (a redis-server started here); the kernel spreads
connections over them (SO_REUSEPORT). The official socket.io-client 4.8, over long-polling
only, works whatever worker each of its requests lands on: a request for a session held by
another worker is answered by that worker (plexio.workers.forward).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from tests.helpers.node import node_process
from tests.helpers.redis import RedisProcess, running_redis
from tests.helpers.workers import RunningWorkers, running_workers, worker_pids
from tests.interop.test_socketio_client import SCRIPT, JsClient

from plexio.workers import worker_of

pytestmark = [pytest.mark.redis, pytest.mark.timeout(120)]

WORKERS = 3


@pytest.fixture
async def redis_server() -> AsyncIterator[RedisProcess]:
    async with running_redis() as server:
        yield server


@pytest.fixture(params=["native", "uvicorn"])
async def workers(request: Any, redis_server: RedisProcess) -> AsyncIterator[RunningWorkers]:
    args = [redis_server.url, str(WORKERS), request.param]
    async with running_workers("tests.helpers.workers_app", args) as running:
        assert len(worker_pids(running.proc.pid)) == WORKERS
        yield running


async def test_official_client_over_polling_only_across_workers(workers: RunningWorkers) -> None:
    clients = 9
    async with node_process(SCRIPT, env={"SERVER_URL": workers.url}, timeout=90) as proc:
        js = JsClient(proc)
        pids = set()
        for n in range(clients):
            await js.manager(f"m{n}", "polling")
            connected = await js.socket(f"s{n}", f"m{n}")
            assert connected["transport"] == "polling"
            [where] = await js.call(f"s{n}", "where")
            pids.add(where["pid"])
            assert await js.call(f"s{n}", "join", "room") == ["room"]
        # the sockets live on several workers (9 handshakes on 3 workers)
        assert len(pids) >= 2
        assert set(pids) <= set(worker_pids(workers.proc.pid))
        # the whole cluster, from any worker
        assert await js.call("s0", "count") == [clients]
        # a broadcast from one worker reaches every client, over held (maybe forwarded) GETs
        for sender in (0, clients - 1):
            assert await js.call(f"s{sender}", "shout", "room", sender) == [True]
            for n in range(clients):
                got = await js.recv(f"s{n}", "heard")
                assert got["args"] == [sender]
        await js.exit()


async def test_each_request_on_a_new_connection_reaches_its_session(
    workers: RunningWorkers,
) -> None:
    # No keep-alive: every request is a new connection, which the kernel gives to any
    # worker; 3 workers and 30 requests: all on the owner by chance is 3^-30.
    base = f"{workers.url}/socket.io/"
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        opened = await client.get(base, params={"EIO": "4", "transport": "polling"})
        sid = orjson.loads(opened.text[1:])["sid"]
        assert worker_of(sid) in range(WORKERS)
        params = {"EIO": "4", "transport": "polling", "sid": sid}
        assert (await client.post(base, params=params, content="40")).text == "ok"
        assert (await client.get(base, params=params)).text.startswith("40{")
        for n in range(15):
            posted = await client.post(base, params=params, content=f'42{n}["where"]')
            assert posted.status_code == 200 and posted.text == "ok"
            answer = await client.get(base, params=params)
            assert answer.status_code == 200
            assert answer.text.startswith(f"43{n}[")
        # a held GET, answered when the client's own POST (on another connection) arrives
        held = asyncio.ensure_future(client.get(base, params=params))
        await asyncio.sleep(0.2)
        assert not held.done()
        assert (await client.post(base, params=params, content='4299["where"]')).text == "ok"
        assert (await asyncio.wait_for(held, 5)).text.startswith("4399[")
        # an id naming no session of any worker is refused as usual
        unknown = {**params, "sid": sid[0] + "x" * 19}
        refused = await client.get(base, params=unknown)
        assert refused.status_code == 400
        assert orjson.loads(refused.content) == {"code": 1, "message": "Session ID unknown"}


async def test_official_client_upgrades_whatever_worker_its_websocket_reaches(
    workers: RunningWorkers,
) -> None:
    # polling first, then the WebSocket upgrade on a new connection: with 3 workers most
    # upgrades land on another worker than the session's, which relays the WebSocket
    clients = 6
    async with node_process(SCRIPT, env={"SERVER_URL": workers.url}, timeout=90) as proc:
        js = JsClient(proc)
        for n in range(clients):
            await js.manager(f"m{n}", "upgrade")
            await js.socket(f"s{n}", f"m{n}")
            upgraded = await js.expect("upgrade", mid=f"m{n}")
            assert upgraded["transport"] == "websocket"
            assert await js.call(f"s{n}", "join", "room") == ["room"]
        assert await js.call("s0", "count") == [clients]
        assert await js.call("s1", "shout", "room", "over websockets") == [True]
        for n in range(clients):
            assert (await js.recv(f"s{n}", "heard"))["args"] == ["over websockets"]
        # a binary round trip through the relay
        [where] = await js.call(f"s{clients - 1}", "where")
        assert where["pid"] in worker_pids(workers.proc.pid)
        await js.exit()
