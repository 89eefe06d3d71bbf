"""plexio's Socket.IO codecs against the official npm parsers, packet by packet.

``js/codec_check.js`` runs ``socket.io-parser`` 4.x and ``socket.io-msgpack-parser`` 3.x
(from ``tests/interop/js/node_modules``) on a few hundred seeded random packets with
nested binary values. For each packet: Node decodes plexio's wire form to the same
packet, plexio decodes Node's wire form to the same packet, and both write the same
messages (the generator avoids the two places where equal JSON may be spelt
differently: integral floats and integer-like object keys, which JS reorders).
"""

from __future__ import annotations

import base64
import json
import random
import string
from pathlib import Path
from typing import Any

import pytest

from plexio.socketio.msgpack import MsgPackParser
from plexio.socketio.packets import RESERVED_EVENTS, Packet, PacketType
from plexio.socketio.parser import JsonParser, Parser
from plexio.typing import JSONValue
from tests.helpers.node import require_node, run_node_script

pytestmark = pytest.mark.interop

SCRIPT = Path(__file__).with_name("js") / "codec_check.js"
MODULES = Path(__file__).parents[1] / "interop" / "js" / "node_modules"
TAG = "\x00bin"
PARSERS: dict[str, Parser] = {"json": JsonParser(), "msgpack": MsgPackParser()}
_TEXT = string.ascii_letters + string.digits + ' -_/?#é☃😀\n\t"\\\x01\x1f\x7f\u2028'


class _Generator:
    """Seeded random packets whose JSON spelling is the same in Python and JS."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def text(self, alphabet: str = _TEXT, size: int = 8) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(self.rng.randint(0, size)))

    def key(self) -> str:
        return "k" + self.text(string.ascii_letters, 5)

    def scalar(self, binary: bool) -> JSONValue:
        kinds = ["none", "bool", "int", "bigint", "float", "text"] + ["bytes"] * binary
        match self.rng.choice(kinds):
            case "none":
                return None
            case "bool":
                return self.rng.random() < 0.5
            case "int":
                return self.rng.randint(-70_000, 70_000)
            case "bigint":
                return self.rng.choice([-1, 1]) * self.rng.randint(2**31, 2**53)
            case "float":
                return self.rng.randint(-1000, 1000) + self.rng.choice([0.5, 0.25, -0.125, 0.1])
            case "text":
                return self.text()
            case _:
                return self.rng.randbytes(self.rng.randint(0, 6))

    def value(self, binary: bool, depth: int = 0) -> JSONValue:
        roll = self.rng.random()
        if depth < 3 and roll < 0.2:
            return [self.value(binary, depth + 1) for _ in range(self.rng.randint(0, 3))]
        if depth < 3 and roll < 0.4:
            return {
                self.key(): self.value(binary, depth + 1) for _ in range(self.rng.randint(0, 3))
            }
        return self.scalar(binary)

    def namespace(self) -> str:
        if self.rng.random() < 0.5:
            return "/"
        return "/" + self.text(string.ascii_letters + string.digits + "-_/é", 10)

    def packet(self) -> Packet:
        ns = self.namespace()
        kind = self.rng.choice(["connect", "disconnect", "event", "ack", "error"])
        if kind == "connect":
            auth = None if self.rng.random() < 0.3 else {self.key(): self.value(False)}
            return Packet.connect(ns, auth)
        if kind == "disconnect":
            return Packet.disconnect(ns)
        args = [self.value(True) for _ in range(self.rng.randint(0, 4))]
        ack_id = self.rng.choice([None, 0, self.rng.randint(1, 10**15)])
        if kind == "event":
            name: JSONValue = self.rng.choice([self.text(), self.rng.randint(0, 99)])
            if name in RESERVED_EVENTS:
                name = "x"
            return Packet.event(ns, [name, *args], ack_id)
        if kind == "ack":
            return Packet.ack(ns, ack_id or 0, args)
        if self.rng.random() < 0.2:
            return Packet(PacketType.CONNECT_ERROR, ns, self.text())
        return Packet.connect_error(ns, self.text(), self.value(False))


def to_desc(value: JSONValue) -> JSONValue:
    if isinstance(value, bytes):
        return {TAG: base64.b64encode(value).decode()}
    if isinstance(value, list):
        return [to_desc(v) for v in value]
    if isinstance(value, dict):
        return {k: to_desc(v) for k, v in value.items()}
    return value


def from_desc(value: JSONValue) -> JSONValue:
    if isinstance(value, list):
        return [from_desc(v) for v in value]
    if isinstance(value, dict):
        if TAG in value:
            return base64.b64decode(value[TAG])
        return {k: from_desc(v) for k, v in value.items()}
    return value


def to_wire(message: str | bytes) -> dict[str, str]:
    if isinstance(message, str):
        return {"text": message}
    return {"binary": base64.b64encode(message).decode()}


def from_wire(item: dict[str, str]) -> str | bytes:
    return item["text"] if "text" in item else base64.b64decode(item["binary"])


@pytest.mark.parametrize("parser_name", sorted(PARSERS))
async def test_codec_matches_the_npm_parser(parser_name: str, tmp_path: Path) -> None:
    require_node()
    if not MODULES.is_dir():
        pytest.fail(f"{MODULES} is missing (run `make system-deps` / npm ci in tests/interop/js)")
    parser = PARSERS[parser_name]
    generator = _Generator(seed=20_240_501)
    packets = [generator.packet() for _ in range(400)]
    cases: list[dict[str, Any]] = []
    for packet in packets:
        cases.append(
            {
                "parser": parser_name,
                "packet": {
                    "type": int(packet.type),
                    "nsp": packet.namespace,
                    "data": to_desc(packet.data),
                    "id": packet.ack_id,
                },
                "wire": [to_wire(m) for m in parser.encode(packet)],
            }
        )
    source = tmp_path / "cases.jsonl"
    source.write_text("".join(json.dumps(case) + "\n" for case in cases), encoding="utf-8")
    results = await run_node_script(SCRIPT, args=[str(source)], timeout=60)
    assert len(results) == len(packets)
    for packet, case, result in zip(packets, cases, results, strict=True):
        # 1. Node decodes plexio's encoding to the same packet.
        assert "error" not in result, (str(packet), result)
        node_packet = result["decoded"]
        assert node_packet["nsp"] == packet.namespace, str(packet)
        assert node_packet["id"] == packet.ack_id, str(packet)
        assert from_desc(node_packet["data"]) == packet.data, str(packet)
        assert node_packet["type"] == packet.type, str(packet)
        # 2. plexio decodes Node's encoding to the same packet.
        decoder = parser.decoder()
        decoded = None
        for item in result["wire"]:
            decoded = decoder.feed(from_wire(item))
        assert decoded == packet
        # 3. Both write the very same messages.
        assert result["wire"] == case["wire"], str(packet)
