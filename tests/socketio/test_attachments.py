"""Tests of plexio.socketio.attachments: extraction, the orjson hook, re-insertion."""

from __future__ import annotations

import copy

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from plexio.exceptions import DecodeError
from plexio.socketio.attachments import (
    AttachmentCollector,
    extract,
    has_binary,
    is_binary,
    reinsert,
)
from plexio.typing import JSONValue
from tests.socketio.strategies import json_values, values_with_binary


def ph(num: JSONValue) -> dict[str, JSONValue]:
    return {"_placeholder": True, "num": num}


def test_is_binary() -> None:
    assert is_binary(b"") and is_binary(bytearray()) and is_binary(memoryview(b""))
    assert not is_binary("x") and not is_binary([b""])


def test_extract_numbers_buffers_depth_first() -> None:
    data = ["message-back", b"\x01\x02\x03", {"a": [b"\x04", {"b": bytearray(b"\x05")}]}, b""]
    new, buffers = extract(data)
    assert new == ["message-back", ph(0), {"a": [ph(1), {"b": ph(2)}]}, ph(3)]
    assert buffers == [b"\x01\x02\x03", b"\x04", b"\x05", b""]
    assert all(type(b) is bytes for b in buffers)
    # The input is untouched.
    assert data[1] == b"\x01\x02\x03" and data[2] == {"a": [b"\x04", {"b": bytearray(b"\x05")}]}


def test_extract_shares_containers_without_binary() -> None:
    plain = {"k": [1, 2]}
    data = [plain, (b"x", 2), ("no", "binary")]
    new, buffers = extract(data)
    assert new[0] is plain
    assert new[1] == [ph(0), 2]  # a tuple on the path to a buffer becomes a list
    assert new[2] is data[2]
    assert buffers == [b"x"]


def test_extract_without_binary_returns_the_same_object() -> None:
    data = ["e", {"a": [1, "b", None, 2.5, True]}, ()]
    new, buffers = extract(data)
    assert new is data
    assert buffers == []


def test_extract_of_a_bare_buffer_and_scalar() -> None:
    assert extract(memoryview(b"ab")) == (ph(0), [b"ab"])
    assert extract("text") == ("text", [])


def test_has_binary() -> None:
    assert not has_binary(["e", {"a": [1, "x"]}, ("t",)])
    assert has_binary(["e", {"a": [1, ("t", bytearray(b"x"))]}])
    assert has_binary({"k": b""})
    assert has_binary(b"")
    assert not has_binary(None)


@given(values_with_binary)
def test_extract_agrees_with_has_binary_and_the_orjson_hook(data: JSONValue) -> None:
    snapshot = copy.deepcopy(data)
    new, buffers = extract(data)
    assert data == snapshot
    assert bool(buffers) == has_binary(data)
    if not buffers:
        assert new is data
    collector = AttachmentCollector()
    assert orjson.dumps(data, default=collector) == orjson.dumps(new)
    assert collector.buffers == buffers


@given(values_with_binary)
def test_reinsert_inverts_extract(data: JSONValue) -> None:
    new, buffers = extract(data)
    decoded = orjson.loads(orjson.dumps(new))
    assert reinsert(decoded, buffers) == data


def test_collector_refuses_other_types() -> None:
    with pytest.raises(TypeError):
        AttachmentCollector()(object())
    with pytest.raises(TypeError):
        orjson.dumps([object()], default=AttachmentCollector())


def test_reinsert_mutates_in_place() -> None:
    data = ["e", {"x": ph(1)}, [ph(0)]]
    assert reinsert(data, [b"a", b"b"]) is data
    assert data == ["e", {"x": b"b"}, [b"a"]]


def test_reinsert_top_level_placeholder_and_scalar() -> None:
    assert reinsert(ph(0), [b"a"]) == b"a"
    assert reinsert("x", []) == "x"


def test_reinsert_ignores_non_placeholder_dicts() -> None:
    data = [{"_placeholder": 1, "num": 0}, {"_placeholder": False}, ph(0)]
    assert reinsert(data, [b"z"]) == [{"_placeholder": 1, "num": 0}, {"_placeholder": False}, b"z"]


def test_reinsert_survives_deep_nesting() -> None:
    depth = 1000  # orjson's limit is 1024; deeper than Python's default recursion limit
    data = orjson.loads("[" * depth + orjson.dumps(ph(0)).decode() + "]" * depth)
    result = reinsert(data, [b"deep"])
    for _ in range(depth):
        result = result[0]
    assert result == b"deep"


@pytest.mark.parametrize(
    ("data", "buffers"),
    [
        ([ph(1)], [b"a"]),  # out of range
        ([ph(-1)], [b"a"]),
        ([ph(0.0)], [b"a"]),  # not an int
        ([ph(True)], [b"a", b"b"]),
        ([ph("0")], [b"a"]),
        ([{"_placeholder": True}], [b"a"]),
        ([ph(0), ph(0)], [b"a", b"b"]),  # repeated
        ([ph(0)], [b"a", b"b"]),  # unreferenced buffer
        (["no placeholder"], [b"a"]),
        ({"k": ph(3)}, [b"a"]),
    ],
    ids=repr,
)
def test_reinsert_rejects_invalid_placeholders(data: JSONValue, buffers: list[bytes]) -> None:
    with pytest.raises(DecodeError):
        reinsert(data, buffers)


@given(json_values, st.lists(st.binary(max_size=4), max_size=3))
def test_reinsert_raises_only_decode_error(data: JSONValue, buffers: list[bytes]) -> None:
    try:
        reinsert(data, buffers)
    except DecodeError:
        pass
