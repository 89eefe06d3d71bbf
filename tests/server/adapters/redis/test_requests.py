"""plexio.server.adapters.redis.requests: gathering replies and naming silent servers."""

from __future__ import annotations

import asyncio

import pytest

from plexio.exceptions import ClusterTimeoutError
from plexio.server.adapters.redis.requests import AckRequest, Gather, Peers


async def test_gather_completes_when_every_server_answered() -> None:
    gather = Gather("fetch_sockets", 2, 5.0, set)
    gather.add("a", [1, 2])
    gather.add(None, [3])  # a Node server does not say who it is
    assert await gather.wait() == [1, 2, 3]
    gather.add("late", [4])  # after completion: ignored
    assert gather.replies == [1, 2, 3]


async def test_gather_with_nothing_to_wait_for() -> None:
    assert await Gather("x", 0, 5.0, set).wait() == []


async def test_a_server_that_left_no_longer_has_to_answer() -> None:
    gather = Gather("x", 2, 5.0, set)
    gather.add("a", ["ok"])
    gather.drop("b")
    assert await gather.wait() == ["ok"]


async def test_timeout_names_the_silent_servers() -> None:
    peers = Peers()
    for uid in ("a", "b", "c"):
        peers.saw(uid)
    gather = Gather("server_side_emit_with_ack 'x'", 3, 0.05, peers.known)
    gather.add("a", ["from-a"])
    with pytest.raises(ClusterTimeoutError) as err:
        await gather.wait()
    assert err.value.silent == ["b", "c"]
    assert (err.value.expected, err.value.answered) == (3, 1)
    assert err.value.responses == ["from-a"]
    assert str(err.value).startswith(
        "server_side_emit_with_ack 'x': 2 of 3 servers did not answer within 0.05 s;"
    )


async def test_timeout_when_no_silent_server_was_ever_heard_from() -> None:
    with pytest.raises(ClusterTimeoutError, match="none can be named"):
        await Gather("x", 1, 0.01, set).wait()


def test_peers_are_bounded_and_forgettable() -> None:
    peers = Peers()
    for n in range(5000):
        peers.saw(str(n))
    known = peers.known()
    assert len(known) == 1024 and "4999" in known and "0" not in known
    peers.forget("4999")
    assert "4999" not in peers.known()


async def test_gather_is_usable_from_another_task() -> None:
    gather = Gather("x", 1, 5.0, set)
    asyncio.get_running_loop().call_soon(gather.add, "a", ["v"])
    assert await gather.wait() == ["v"]


async def test_ack_request_names_the_servers_that_did_not_report() -> None:
    counts: list[int] = []
    timer = asyncio.get_running_loop().call_later(60, lambda: None)
    request = AckRequest(counts.append, lambda args: None, timer)
    request.report("b", 2)
    request.report("b", 2)  # a repeated report counts once
    assert counts == [2]
    assert request.silent({"b", "c", "d"}) == ["c", "d"]
    # a report without its sender's id (Node's classic adapter): nobody can be named
    request.report(None, 0)
    assert counts == [2, 0]
    assert request.silent({"b", "c", "d"}) == []
    timer.cancel()
