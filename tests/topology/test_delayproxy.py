"""The delay proxy: forwards both ways in order, counts bytes, chunks and round trips, in
total and per connection."""

from __future__ import annotations

import asyncio
import os

import pytest
from topology.delayproxy import DelayProxy
from topology.procstat import tcp_ports_of


async def _echo_server() -> tuple[asyncio.Server, int]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _exchange(port: int, messages: list[bytes]) -> list[bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answers = []
    for message in messages:
        writer.write(message)
        await writer.drain()
        answers.append(await reader.readexactly(len(message)))
    writer.close()
    await writer.wait_closed()
    return answers


async def test_sequential_exchanges_are_counted_as_round_trips() -> None:
    server, port = await _echo_server()
    async with server, DelayProxy("127.0.0.1", port, one_way_delay=0.05) as proxy:
        answers = await _exchange(proxy.port, [b"one", b"two", b"three"])
        assert answers == [b"one", b"two", b"three"]
        # The TCP handshake, then three request/answer waits.
        assert proxy.stats.round_trips == 4
        assert proxy.stats.connections == 1
        assert proxy.stats.bytes_up == proxy.stats.bytes_down == len(b"onetwothree")
        assert proxy.stats.chunks_up == proxy.stats.chunks_down == 3


async def test_without_the_handshake_only_the_exchanges_count() -> None:
    server, port = await _echo_server()
    async with server, DelayProxy("127.0.0.1", port, 0.05, tcp_handshake=False) as proxy:
        await _exchange(proxy.port, [b"a", b"b"])
        assert proxy.stats.round_trips == 2


async def test_a_capped_link_still_delivers_everything_in_order() -> None:
    server, port = await _echo_server()
    payload = bytes(range(256)) * 64  # 16 KiB, several chunks at 1 Mbit/s
    async with server, DelayProxy("127.0.0.1", port, 0.0, bandwidth_bps=1e6) as proxy:
        assert await _exchange(proxy.port, [payload]) == [payload]
        assert proxy.stats.bytes_up == proxy.stats.bytes_down == len(payload)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="one_way_delay"):
        DelayProxy("127.0.0.1", 1, -1.0)
    with pytest.raises(ValueError, match="bandwidth"):
        DelayProxy("127.0.0.1", 1, 0.0, bandwidth_bps=0)


async def test_watched_byte_strings_are_counted_across_chunks() -> None:
    server, port = await _echo_server()
    watch = {"ping": ("up", b"PING"), "pong": ("down", b"ping")}
    async with server, DelayProxy("127.0.0.1", port, 0.0, watch=watch) as proxy:
        # "PI" + "NG" arrive in two chunks (each waits for its echo): still one match.
        await _exchange(proxy.port, [b"xxPI", b"NGyy ping PING"])
        assert proxy.stats.matches == {"ping": 3, "pong": 3}
    with pytest.raises(ValueError, match="watch"):
        DelayProxy("127.0.0.1", 1, watch={"bad": ("sideways", b"x")})


async def test_counts_are_kept_per_connection_by_peer_port() -> None:
    # What the cluster measurement attributes to each gateway process: a connection's own
    # counters, keyed by its peer port, which the process holding the socket owns.
    server, port = await _echo_server()
    watch = {"ping": ("up", b"ping")}
    async with (
        server,
        DelayProxy("127.0.0.1", port, 0.0, tcp_handshake=False, watch=watch) as proxy,
    ):
        first = await asyncio.open_connection("127.0.0.1", proxy.port)
        second = await asyncio.open_connection("127.0.0.1", proxy.port)
        try:
            for (reader, writer), text in ((first, b"ping ping "), (second, b"PING")):
                writer.write(text)
                await writer.drain()
                await reader.readexactly(len(text))
            ports = [w.get_extra_info("sockname")[1] for _, w in (first, second)]
            assert set(proxy.peers) == set(ports)
            one, two = (proxy.peers[p] for p in ports)
            assert (one.matches["ping"], one.bytes_up, one.connections) == (2, 10, 1)
            assert (two.matches["ping"], two.bytes_up, two.bytes_down) == (1, 4, 4)
            assert proxy.stats.matches["ping"] == 3
            assert set(ports) <= tcp_ports_of(os.getpid())
        finally:
            for _, writer in (first, second):
                writer.close()
