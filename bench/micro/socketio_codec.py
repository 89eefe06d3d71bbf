"""Micro-benchmark of the Socket.IO codecs (not run by the test suite).

Usage: ``python -m bench.micro.socketio_codec [--number N]``. Prints µs per operation
for encoding and decoding typical packets with :class:`JsonParser` and, when the
``msgpack`` package is installed, :class:`MsgPackParser`.
"""

from __future__ import annotations

import argparse
import time
import timeit
from collections.abc import Callable

from plexio.socketio import Decoder, JsonParser, Packet, Parser

__all__ = ["main"]

_CHAT = Packet.event("/", ["chat message", {"user": "alice", "text": "hello world " * 4, "ts": 1}])
_PACKETS: dict[str, Packet] = {
    "event small": Packet.event("/", ["ping", 1]),
    "event chat": _CHAT,
    "event ns+ack": Packet.event(
        "/socket/commu-42", ["chat message", {"text": "hi", "n": [1, 2, 3]}], 17
    ),
    "ack": Packet.ack("/", 456, [1, "2", {"3": [False]}]),
    "binary 2x1KiB": Packet.event(
        "/", ["file", {"name": "a.bin", "part": b"x" * 1024}, b"y" * 1024]
    ),
    "connect reply": Packet.connect("/", {"sid": "abcdefghijklmnopqrst"}),
}


def _time(label: str, func: Callable[[], object], number: int) -> None:
    # CPU time, not wall time: stable on a shared machine.
    best = min(timeit.repeat(func, number=number, repeat=5, timer=time.process_time))
    print(f"  {label:<28} {best / number * 1e6:8.3f} µs/op")


def _bench(name: str, parser: Parser, number: int) -> None:
    print(name)
    for label, packet in _PACKETS.items():
        messages = parser.encode(packet)

        def encode(p: Packet = packet) -> object:
            return parser.encode(p)

        # One decoder per connection: reuse it, as a session does.
        session_decoder = parser.decoder()

        def decode(
            msgs: list[str | bytes] = messages, decoder: Decoder = session_decoder
        ) -> object:
            result = None
            for message in msgs:
                result = decoder.feed(message)
            return result

        assert decode() == packet
        _time(f"encode {label}", encode, number)
        _time(f"decode {label}", decode, number)

    def build_and_encode() -> object:
        return parser.encode(Packet.event("/", ["chat message", "hello"]))

    _time("build+encode event", build_and_encode, number)


def main() -> None:
    """Run the benchmark and print the results."""
    cli = argparse.ArgumentParser(description=__doc__)
    cli.add_argument("--number", type=int, default=50_000)
    args = cli.parse_args()
    _bench("JsonParser", JsonParser(), args.number)
    try:
        from plexio.socketio.msgpack import MsgPackParser
    except ImportError:  # optional dependency
        return
    _bench("MsgPackParser", MsgPackParser(), args.number)


if __name__ == "__main__":
    main()
