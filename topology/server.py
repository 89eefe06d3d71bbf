"""The measured gateway: both topologies on one plexio server, run as a subprocess.

``python -m topology.server '<json config>'`` builds the membership table, serves with
plexio's native listener on 127.0.0.1 (port 0: the kernel picks a free one), prints
``READY <port>`` on stdout and serves until stdin closes or the process is terminated.

Topology A: ``/socket/commu-{id}`` (a regex parent namespace). The middleware checks
the token in ``socket.handshake.auth`` on every CONNECT and the membership of the
community, then joins the rooms ``chan:{k}`` of the community's channels.

Topology B: ``/socket``. The middleware checks the token once. When the CONNECT's auth
says ``"subscribe": "server"`` (topology "B"; the flag only lets one server serve both
variants) it joins ``commu:{id}`` and ``commu:{id}:chan:{k}`` for every community
of the user from the membership table, before the CONNECT reply leaves, so the client is
fully subscribed when it sees the reply. Otherwise (topology "B-sub") the client asks
with a ``subscribe`` event carrying the community ids, and the ack reports the result.

``/debug`` answers a ``stats`` event with counts of the server's objects.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import re
import resource
import statistics
import sys
import time
from typing import Any

import plexio
from plexio import ConnectRefusedError
from topology.model import (
    MAIN_NAMESPACE,
    NAMESPACE_PATTERN,
    Membership,
    ModelParams,
    PubSub,
    make_token,
    verify_token,
)

__all__ = ["build_server", "main", "server_stats"]


def build_server(
    membership: Membership,
    ping_interval: float = 25.0,
    redis_url: str | None = None,
    pubsub: PubSub = PubSub.CLASSIC,
) -> plexio.Server:
    """The Socket.IO server with both topologies and the debug namespace.

    Args:
        membership: the membership table ("the database").
        ping_interval: Engine.IO ping interval in seconds.
        redis_url: when given, the server is one node of a cluster on plexio's Redis
            adapter (``plexio.server.adapters.redis``).
        pubsub: classic (``redis_url`` is a redis-server) or sharded (a Redis Cluster
            node; dynamic subscription mode, Node's default).

    Returns:
        The server (not yet serving).
    """
    if redis_url is not None:
        from plexio.server.adapters.redis import create_adapter, create_sharded_adapter

        adapter = (
            create_sharded_adapter(redis_url)
            if pubsub is PubSub.SHARDED
            else create_adapter(redis_url)
        )
        sio = plexio.Server(ping_interval=ping_interval, ping_timeout=20.0, adapter=adapter)
    else:
        sio = plexio.Server(ping_interval=ping_interval, ping_timeout=20.0)
    channels = membership.params.channels
    token_us = _token_verify_us()

    # ---------------------------------------------------------------- topology A
    communities = sio.of(re.compile(NAMESPACE_PATTERN))

    @communities.use
    def authenticate_community(socket: Any) -> None:
        user = verify_token(socket.handshake.auth.get("token"))
        if user is None:
            raise ConnectRefusedError("unauthorized")
        community = int(socket.nsp.name.rsplit("-", 1)[1])
        if not membership.is_member(user, community):
            raise ConnectRefusedError("not a member")
        socket.data["user"] = user
        socket.join([f"chan:{k}" for k in range(channels)])

    def send_in_community(socket: Any, message: Any) -> Any:
        channel = message.get("chan") if isinstance(message, dict) else None
        if not isinstance(channel, int) or not 0 <= channel < channels:
            return {"ok": False, "error": "bad channel"}
        payload = {"chan": channel, "author": socket.data["user"], "text": message.get("text")}
        socket.to(f"chan:{channel}").emit("message:new", payload)
        return {"ok": True}

    communities.on("message:send", send_in_community)

    def channel_in_community(join: bool) -> Any:
        def handler(socket: Any, message: Any) -> Any:
            channel = message.get("chan") if isinstance(message, dict) else None
            if not isinstance(channel, int) or not 0 <= channel < channels:
                return {"ok": False, "error": "bad channel"}
            (socket.join if join else socket.leave)(f"chan:{channel}")
            return {"ok": True}

        return handler

    communities.on("channel:join", channel_in_community(True))
    communities.on("channel:leave", channel_in_community(False))

    # ---------------------------------------------------------------- topology B
    main_ns = sio.of(MAIN_NAMESPACE)

    def rooms_of(community: int) -> list[str]:
        base = f"commu:{community}"
        return [base, *(f"{base}:chan:{k}" for k in range(channels))]

    @main_ns.use
    def authenticate_main(socket: Any) -> None:
        user = verify_token(socket.handshake.auth.get("token"))
        if user is None:
            raise ConnectRefusedError("unauthorized")
        socket.data["user"] = user
        if socket.handshake.auth.get("subscribe") == "server":
            joined = membership.of_user[user]
            socket.data["communities"] = set(joined)
            socket.join([room for c in joined for room in rooms_of(c)])
        else:
            socket.data["communities"] = set()

    def subscribe(socket: Any, wanted: Any) -> Any:
        if not isinstance(wanted, list) or len(wanted) > 10_000:
            return {"ok": False, "error": "expected a list of community ids"}
        user = socket.data["user"]
        granted = [c for c in wanted if isinstance(c, int) and membership.is_member(user, c)]
        socket.data["communities"].update(granted)
        socket.join([room for c in granted for room in rooms_of(c)])
        return {"ok": True, "joined": granted}

    main_ns.on("subscribe", subscribe)

    def unsubscribe(socket: Any, wanted: Any) -> Any:
        if not isinstance(wanted, list) or len(wanted) > 10_000:
            return {"ok": False, "error": "expected a list of community ids"}
        subscribed: set[int] = socket.data["communities"]
        left = [c for c in wanted if c in subscribed]
        subscribed.difference_update(left)
        for c in left:
            for room in rooms_of(c):
                socket.leave(room)
        return {"ok": True, "left": left}

    main_ns.on("unsubscribe", unsubscribe)

    def channel_in_main(join: bool) -> Any:
        def handler(socket: Any, message: Any) -> Any:
            if not isinstance(message, dict):
                return {"ok": False, "error": "bad message"}
            community, channel = message.get("commu"), message.get("chan")
            if community not in socket.data["communities"]:
                return {"ok": False, "error": "not subscribed"}
            if not isinstance(channel, int) or not 0 <= channel < channels:
                return {"ok": False, "error": "bad channel"}
            room = f"commu:{community}:chan:{channel}"
            (socket.join if join else socket.leave)(room)
            return {"ok": True}

        return handler

    main_ns.on("channel:join", channel_in_main(True))
    main_ns.on("channel:leave", channel_in_main(False))

    def send_in_main(socket: Any, message: Any) -> Any:
        if not isinstance(message, dict):
            return {"ok": False, "error": "bad message"}
        community, channel = message.get("commu"), message.get("chan")
        if community not in socket.data["communities"]:
            return {"ok": False, "error": "not subscribed"}
        if not isinstance(channel, int) or not 0 <= channel < channels:
            return {"ok": False, "error": "bad channel"}
        payload = {
            "commu": community,
            "chan": channel,
            "author": socket.data["user"],
            "text": message.get("text"),
        }
        socket.to(f"commu:{community}:chan:{channel}").emit("message:new", payload)
        return {"ok": True}

    main_ns.on("message:send", send_in_main)

    # ---------------------------------------------------------------- debug
    debug = sio.of("/debug")

    def stats(socket: Any, *_: Any) -> Any:
        return {**server_stats(sio), "token_verify_us": token_us}

    debug.on("stats", stats)

    return sio


def _token_verify_us(samples: int = 300) -> float:
    """Microseconds one token verification takes here (median of ``samples``)."""
    token = make_token(0)
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        verify_token(token)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def server_stats(sio: plexio.Server) -> dict[str, Any]:
    """Counts of the server's live objects (the debug connection included).

    Args:
        sio: the server.

    Returns:
        Engine.IO sessions, namespaces (static and dynamic children), namespace sockets,
        rooms and room memberships (socket id rooms included), tracked Python objects and
        the process's RSS and CPU time.
    """
    gc.collect()
    namespaces = sio.namespaces
    sockets = sum(len(ns.sockets) for ns in namespaces.values())
    rooms = 0
    memberships = 0
    for ns in namespaces.values():
        index: dict[str, set[str]] = getattr(ns.adapter, "rooms", {})
        rooms += len(index)
        memberships += sum(len(sids) for sids in index.values())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    with open("/proc/self/statm") as f:
        rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return {
        "engine_sessions": len(sio.engine.sockets),
        "namespaces": len(namespaces),
        "sockets": sockets,
        "rooms": rooms,
        "room_memberships": memberships,
        "gc_objects": len(gc.get_objects()),
        "rss_bytes": rss,
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }


async def _serve(config: dict[str, Any]) -> None:
    from plexio.native import serve

    membership = Membership(ModelParams(**config["model"]))
    sio = build_server(
        membership,
        float(config.get("ping_interval", 25.0)),
        config.get("redis"),
        PubSub(config.get("pubsub", PubSub.CLASSIC.value)),
    )
    loop = asyncio.get_running_loop()
    stop = loop.create_future()

    def ready(port: int) -> None:
        sys.stdout.write(f"READY {port}\n")
        sys.stdout.flush()

    def stdin_closed() -> None:
        if not stop.done():
            stop.set_result(None)

    # The parent holds our stdin open; when it goes away (or closes it), we stop.
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def watch_stdin() -> None:
        while await reader.read(4096):
            pass
        stdin_closed()

    async with asyncio.TaskGroup() as group:
        server_task = group.create_task(serve(sio, "127.0.0.1", 0, ready=ready, backlog=4096))
        group.create_task(watch_stdin())
        await stop
        server_task.cancel()


def main(argv: list[str] | None = None) -> None:
    """Entry point: ``python -m topology.server '<json config>'``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.exit("usage: python -m topology.server '<json config>'")
    config = json.loads(args[0])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
    if wanted > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    runner: Any = asyncio.run
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        pass
    try:
        runner(_serve(config))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
