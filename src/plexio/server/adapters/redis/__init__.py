"""Redis cluster adapters, wire-compatible with Node's ``@socket.io/redis-adapter`` 8.

Needs the ``redis`` extra (``pip install 'plexio[redis]'``: redis-py and msgpack)::

    from plexio.server.adapters.redis import create_adapter, create_sharded_adapter

    sio = plexio.Server(adapter=create_adapter("redis://127.0.0.1:6379"))
    sio = plexio.Server(adapter=create_sharded_adapter("redis://127.0.0.1:7000"))
"""

from __future__ import annotations

from plexio.server.adapters.redis.classic import (
    RedisAdapter,
    RedisAdapterFactory,
    RedisAdapterOptions,
    create_adapter,
)
from plexio.server.adapters.redis.link import Kind, RedisLink, ShardedRedisLink
from plexio.server.adapters.redis.sharded import (
    ShardedRedisAdapter,
    ShardedRedisAdapterFactory,
    ShardedRedisAdapterOptions,
    SubscriptionMode,
    create_sharded_adapter,
)

__all__ = [
    "Kind",
    "RedisAdapter",
    "RedisAdapterFactory",
    "RedisAdapterOptions",
    "RedisLink",
    "ShardedRedisAdapter",
    "ShardedRedisAdapterFactory",
    "ShardedRedisAdapterOptions",
    "ShardedRedisLink",
    "SubscriptionMode",
    "create_adapter",
    "create_sharded_adapter",
]
