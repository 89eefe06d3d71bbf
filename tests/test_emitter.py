"""plexio.emitter: the messages it publishes, read back from a real redis-server.

(Delivery to real servers, plexio's and Node's, is in tests/interop/test_redis_cluster.py.)
"""

from __future__ import annotations

import orjson
import pytest

from plexio.emitter import Emitter
from plexio.exceptions import ClusterError, InvalidPacketError
from plexio.server.adapters.redis.wire import unpack
from tests.helpers.redis import running_redis, watch
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.redis


async def test_emitter_messages_have_the_node_emitter_shape() -> None:
    async with running_redis() as redis_server, watch(redis_server.url) as wire:
        emitter = Emitter(redis_server.url, key="k")
        try:
            assert await emitter.emit("a", 1, b"\x01") == 1  # only the watcher subscribes
            await emitter.to("r1").except_(["x", "y"]).volatile.compress(False).emit("b")
            await emitter.of("chat").to(["r1", "r2"]).emit("c")
            await emitter.in_("r1").sockets_join(["j1", "j2"])
            await emitter.sockets_leave("j1")
            await emitter.to("r2").disconnect_sockets(close=True)
            await emitter.server_side_emit("tick", {"n": 1})
            with pytest.raises(InvalidPacketError, match="reserved"):
                await emitter.emit("connect")  # the type the server and the client raise
            with pytest.raises(InvalidPacketError, match="reserved"):
                await emitter.server_side_emit("disconnect")
            await eventually(lambda: len(wire) == 7)
        finally:
            await emitter.aclose()
        assert wire[0] == (
            "k#/#",
            wire[0][1],
        ) and unpack(wire[0][1]) == [
            "emitter",
            {"type": 2, "data": ["a", 1, b"\x01"], "nsp": "/"},
            {"rooms": [], "except": [], "flags": {}},
        ]
        assert wire[1][0] == "k#/#r1#"
        assert unpack(wire[1][1])[2] == {
            "rooms": ["r1"],
            "except": ["x", "y"],
            "flags": {"volatile": True, "compress": False},
        }
        assert wire[2][0] == "k#/chat#"
        assert unpack(wire[2][1])[1]["nsp"] == "/chat"
        requests = [(ch, orjson.loads(data)) for ch, data in wire[3:]]
        assert requests == [
            (
                "k-request#/#",
                {"type": 2, "opts": {"rooms": ["r1"], "except": []}, "rooms": ["j1", "j2"]},
            ),
            ("k-request#/#", {"type": 3, "opts": {"rooms": [], "except": []}, "rooms": ["j1"]}),
            ("k-request#/#", {"type": 4, "opts": {"rooms": ["r2"], "except": []}, "close": True}),
            ("k-request#/#", {"uid": "emitter", "type": 6, "data": ["tick", {"n": 1}]}),
        ]


async def test_emitter_raises_when_redis_is_unreachable() -> None:
    async with running_redis() as redis_server:
        emitter = Emitter(redis_server.url)
        await redis_server.kill()
        try:
            with pytest.raises(ClusterError, match="nothing was sent"):
                await emitter.emit("a")
        finally:
            await emitter.aclose()
