"""The measurement client's codec and helpers, and the command line's checks."""

from __future__ import annotations

import asyncio

import pytest
from topology.cli import parse_args, plan_points
from topology.model import Membership, ModelParams, make_token, verify_token
from topology.runner import PointSpec, percentile
from topology.wire import (
    ProtocolError,
    Traffic,
    _HttpConnection,
    decode_packet,
    encode_connect,
    encode_event,
)


def test_connect_and_event_round_trip_through_the_decoder() -> None:
    connect = encode_connect("/socket/commu-7", {"token": "t"})
    assert connect == '0/socket/commu-7,{"token":"t"}'
    packet = decode_packet(connect)
    assert (packet.type, packet.namespace, packet.ack_id, packet.data) == (
        0,
        "/socket/commu-7",
        None,
        {"token": "t"},
    )
    event = encode_event("/socket", ["message:send", {"chan": 1}], 12)
    assert event == '2/socket,12["message:send",{"chan":1}]'
    packet = decode_packet(event)
    assert (packet.type, packet.namespace, packet.ack_id) == (2, "/socket", 12)
    assert packet.data == ["message:send", {"chan": 1}]
    main = decode_packet('31[{"ok":true}]')
    assert (main.namespace, main.ack_id, main.data) == ("/", 1, [{"ok": True}])
    assert decode_packet("1/socket,").namespace == "/socket"


@pytest.mark.parametrize("bad", ["", "x", '2["unterminated', "2/socket,{bad json}"])
def test_decoder_rejects_garbage(bad: str) -> None:
    with pytest.raises(ProtocolError):
        decode_packet(bad)


def test_traffic_arithmetic() -> None:
    a = Traffic(bytes_tx=10, frames_rx=2)
    b = a.copy()
    b.add(Traffic(bytes_tx=5, round_trips=1))
    assert b.minus(a).as_dict()["bytes_tx"] == 5
    assert b.round_trips == 1 and a.round_trips == 0


def test_membership_is_deterministic_and_consistent() -> None:
    params = ModelParams(users=30, per_user=4, members=10)
    one, two = Membership(params), Membership(params)
    assert one.of_user == two.of_user
    assert params.pool == 12
    for user, communities in enumerate(one.of_user):
        assert len(set(communities)) == 4
        assert all(one.is_member(user, c) for c in communities)
        assert all(user in one.members[c] for c in communities)
    total = sum(len(m) for m in one.members.values())
    assert total == 30 * 4
    assert not one.is_member(99, 0)


def test_tokens_verify_and_forgeries_do_not() -> None:
    assert verify_token(make_token(42)) == 42
    assert verify_token(make_token(42)[:-2] + "xx") is None
    assert verify_token(None) is None
    assert verify_token("not-a-jwt") is None


def test_percentile() -> None:
    assert percentile([], 50) == 0.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([1.0, 2.0], 100) == 2.0
    assert percentile([0.0, 10.0], 25) == 2.5


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        PointSpec("C", "websocket", 1, 1)
    with pytest.raises(ValueError):
        PointSpec("A", "carrier-pigeon", 1, 1)
    with pytest.raises(ValueError):
        PointSpec("A", "websocket", 0, 1)
    with pytest.raises(ValueError):
        ModelParams(users=1, per_user=0)
    with pytest.raises(SystemExit):
        parse_args(["--per-user", "1,zero"])
    with pytest.raises(SystemExit):
        parse_args(["--topologies", "A,Z"])
    with pytest.raises(SystemExit):
        parse_args(["--users", "0"])


def test_smoke_plan_covers_every_topology_and_transport() -> None:
    points = plan_points(parse_args(["--smoke"]))
    assert {(s.topology, s.transport) for _, s in points} == {
        (t, tr) for t in ("A", "B", "B-sub") for tr in ("websocket", "polling")
    }
    assert {sweep for sweep, _ in points} == {"communities", "users"}
    full = plan_points(parse_args([]))
    assert max(s.per_user for _, s in full) == 50
    assert max(s.users for _, s in full) == 1000


async def test_polling_reopens_a_keep_alive_connection_the_server_closed() -> None:
    async def answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()  # an idle keep-alive connection the server gives up on

    server = await asyncio.start_server(answer_once, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        traffic = Traffic()
        conn = _HttpConnection("127.0.0.1", port, traffic, 5.0)
        assert await conn.request("GET", "/a") == (200, b"ok")
        await asyncio.sleep(0.1)  # the close arrives
        assert await conn.request("GET", "/b") == (200, b"ok")
        await conn.close()
    assert traffic.tcp_connections == 2 and traffic.http_requests == 2
