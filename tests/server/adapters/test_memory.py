"""plexio.server.adapters.memory (and the base Adapter): the in-process room index.

The emitter is a real namespace of a real (unserved) :class:`plexio.Server`; the index
is exercised with socket ids that have no live socket, which is what a remote or
just-disconnected socket looks like to the adapter.
"""

from __future__ import annotations

from typing import Any

import plexio
from plexio.server.adapters import Adapter, InMemoryAdapter
from plexio.server.broadcast import BroadcastOptions
from plexio.socketio.packets import Packet
from plexio.socketio.parser import JsonParser


class CountingParser(JsonParser):
    def __init__(self) -> None:
        self.count = 0

    def encode(self, packet: Packet) -> list[str | bytes]:
        self.count += 1
        return super().encode(packet)


def make() -> tuple[plexio.Server, InMemoryAdapter, CountingParser]:
    parser = CountingParser()
    server = plexio.Server(parser=parser)
    adapter = server.sockets.adapter
    assert isinstance(adapter, InMemoryAdapter)
    assert isinstance(adapter, Adapter)
    return server, adapter, parser


def opts(rooms: Any = (), except_rooms: Any = ()) -> BroadcastOptions:
    return BroadcastOptions(rooms=frozenset(rooms), except_rooms=frozenset(except_rooms))


def test_index_add_delete_del_all() -> None:
    _, adapter, _ = make()
    adapter.add_all("s1", ["s1", "a", "b"])
    adapter.add_all("s2", ["s2", "a"])
    adapter.add_all("s2", [])  # nothing new
    assert adapter.rooms == {"s1": {"s1"}, "a": {"s1", "s2"}, "b": {"s1"}, "s2": {"s2"}}
    assert adapter.socket_rooms("s1") == {"s1", "a", "b"}
    adapter.delete("s1", "b")
    assert "b" not in adapter.rooms  # empty rooms disappear
    adapter.delete("s1", "never")
    adapter.delete("ghost", "a")
    assert adapter.rooms["a"] == {"s1", "s2"}
    adapter.del_all("s1")
    assert adapter.rooms == {"a": {"s2"}, "s2": {"s2"}}
    assert "s1" not in adapter.sids
    assert adapter.socket_rooms("s1") == set()
    adapter.del_all("s1")  # twice: fine
    adapter.del_all("s2")
    assert adapter.rooms == {}
    assert adapter.sids == {}


def test_targets() -> None:
    _, adapter, _ = make()
    adapter.add_all("s1", ["s1", "red", "blue"])
    adapter.add_all("s2", ["s2", "red"])
    adapter.add_all("s3", ["s3", "blue", "muted"])
    assert sorted(adapter.targets(opts())) == ["s1", "s2", "s3"]
    assert sorted(adapter.targets(opts(["red"]))) == ["s1", "s2"]
    assert sorted(adapter.targets(opts(["red", "blue"]))) == ["s1", "s2", "s3"]
    assert sorted(adapter.targets(opts(["blue"], ["muted"]))) == ["s1"]
    assert sorted(adapter.targets(opts((), ["red"]))) == ["s3"]
    assert adapter.targets(opts(["nobody"])) == []
    assert adapter.targets(opts((), ["nobody"])) != []


async def test_operations_without_live_sockets() -> None:
    server, adapter, parser = make()
    adapter.add_all("ghost", ["ghost", "room"])
    # nobody targeted: nothing is even encoded
    adapter.broadcast(Packet.event("/", ["x"]), opts(["empty"]))
    assert parser.count == 0
    # targeted, but no live socket: encoded once, delivered to nobody
    adapter.broadcast(Packet.event("/", ["x"]), opts())
    assert parser.count == 1
    acks: list[Any] = []
    counts: list[int] = []
    await adapter.broadcast_with_ack(
        Packet.event("/", ["x"], 1), opts(), counts.append, acks.append
    )
    assert counts == [0]
    assert (
        await adapter.broadcast_with_ack(
            Packet.event("/", ["x"], 2), opts(["empty"]), counts.append, acks.append
        )
        == 1  # one server reports a count: this one
    )
    assert counts == [0, 0]
    assert await adapter.fetch_sockets(opts()) == []
    adapter.add_sockets(opts(["room"]), frozenset({"new"}))
    assert adapter.rooms["new"] == {"ghost"}
    adapter.del_sockets(opts(["room"]), frozenset({"new", "room"}))
    assert adapter.socket_rooms("ghost") == {"ghost"}
    adapter.disconnect_sockets(opts(), close=False)  # unknown socket: ignored
    assert await adapter.server_side_emit(["event", 1]) is None
    assert await adapter.server_side_emit_with_ack(["event", 1]) == []
    assert await adapter.all_rooms() == {"ghost"}
    assert await adapter.server_count() == 1
    await adapter.init()
    await adapter.close()
    assert server.sockets.adapter is adapter
