"""plexio.server.adapters.redis.forked: a forked copy of an adapter draws a new id."""

from __future__ import annotations

import os

import plexio
from plexio.server.adapters.redis import (
    RedisAdapter,
    ShardedRedisAdapter,
    create_adapter,
    create_sharded_adapter,
)


def test_adapters_made_before_a_fork_get_new_ids_in_the_child() -> None:
    classic = plexio.Server(adapter=create_adapter("redis://127.0.0.1:1")).of("/").adapter
    sharded = plexio.Server(adapter=create_sharded_adapter("redis://127.0.0.1:1")).of("/").adapter
    assert isinstance(classic, RedisAdapter) and isinstance(sharded, ShardedRedisAdapter)
    before = (classic.uid, classic.specific_response_channel, sharded.uid, sharded.response_channel)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        after = (
            classic.uid,
            classic.specific_response_channel,
            sharded.uid,
            sharded.response_channel,
        )
        os.write(write_fd, "|".join(after).encode())
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        after = pipe.read().split("|")
    os.waitpid(pid, 0)
    assert after[0] != before[0] and after[2] != before[2]
    assert after[1] == f"socket.io-response#/#{after[0]}#"
    assert after[3] == f"socket.io#/#{after[2]}#"
    assert (classic.uid, sharded.uid) == (before[0], before[2])  # the parent keeps its own
