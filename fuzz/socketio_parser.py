"""Fuzz the Socket.IO decoders (JsonParser and MsgPackParser).

Invariant (DESIGN.md convention 9): any sequence of Engine.IO messages either decodes
or raises :class:`~plexio.exceptions.DecodeError`; a decoded packet re-encodes and
decodes to an equal packet. Any other exception is a bug.

With atheris installed (``pip install atheris``)::

    python -m fuzz.socketio_parser -atheris_runs=1000000

Without it, :func:`fuzz.run.plain_loop`'s random mutations of a small seed corpus::

    python -m fuzz.socketio_parser --runs 200000 --seed 1
"""

from __future__ import annotations

import argparse
import sys

from fuzz.run import plain_loop
from plexio.exceptions import DecodeError
from plexio.socketio import JsonParser, Packet, Parser
from plexio.socketio.msgpack import MsgPackParser

__all__ = ["SEEDS", "main", "test_one_input"]

_PARSERS: tuple[Parser, ...] = (JsonParser(), MsgPackParser())
_SEPARATOR = b"\xff"  # splits the input into messages (never valid UTF-8)

SEEDS: list[bytes] = [
    b'\x002["message-back",1,"2",{"3":[true]}]',
    b'\x003456[1,"2",{"3":[false]}]',
    b'\x0052-["m",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]\xffb\x01\x02\xffb\x03',
    b'\x0062-/admin,789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]\xffba\xffbb',
    b'\x004/random,{"message":"Invalid namespace"}',
    b"\x000/custom\xff1/custom,\xff0{}",
    b"\x01b\x84\xa4type\x02\xa4data\x92\xa5hello\x01\xa3nsp\xa1/\xa2id\x03",
    b"\x01b\x83\xa4type\x00\xa4data\x81\xa3sid\xa3abc\xa3nsp\xa6/admin",
]


def _messages(data: bytes) -> list[str | bytes]:
    # Each chunk: leading "b" = binary message, otherwise text (UTF-8, errors replaced).
    messages: list[str | bytes] = []
    for chunk in data.split(_SEPARATOR):
        if chunk[:1] == b"b":
            messages.append(chunk[1:])
        else:
            messages.append(chunk.decode("utf-8", "replace"))
    return messages


def _check_round_trip(parser: Parser, packet: Packet) -> None:
    decoder = parser.decoder()
    result = None
    for message in parser.encode(packet):
        result = decoder.feed(message)
    if result != packet:
        raise AssertionError(f"round trip changed {packet!r} into {result!r}")


def test_one_input(data: bytes) -> None:
    """Feed one fuzz input: first byte picks the parser, the rest are messages."""
    if not data:
        return
    parser = _PARSERS[data[0] % len(_PARSERS)]
    decoder = parser.decoder()
    for message in _messages(data[1:]):
        try:
            packet = decoder.feed(message)
        except DecodeError:
            continue
        if packet is not None:
            _check_round_trip(parser, packet)


def main() -> None:
    """Run under atheris when it is installed, else a seeded random mutation loop."""
    try:
        import atheris  # type: ignore[import-untyped]  # optional fuzzing engine, no stubs
    except ImportError:
        cli = argparse.ArgumentParser(description=__doc__)
        cli.add_argument("--runs", type=int, default=100_000)
        cli.add_argument("--seed", type=int, default=0)
        args = cli.parse_args()
        plain_loop(args.runs, args.seed, SEEDS, test_one_input)
        print(f"{args.runs} inputs, no invariant broken")
        return
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
