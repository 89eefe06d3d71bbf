"""plexio.server.adapters.redis.wire: the codecs and value conversions (no Redis).

Byte-level expectations were read from what notepack.io and JSON.stringify produce;
the interop tests check the same formats against the real Node packages.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plexio.server.adapters.base import SocketDetails
from plexio.server.adapters.redis.wire import (
    WireError,
    decode_body,
    decode_details,
    decode_opts,
    encode_details,
    encode_opts,
    event_data,
    has_binary,
    new_uid,
    pack,
    to_json,
    unpack,
)
from plexio.server.broadcast import BroadcastFlags, BroadcastOptions

json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
values = st.recursive(
    json_scalars | st.binary(max_size=20) | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)
rooms = st.frozensets(st.text(min_size=1, max_size=10), max_size=4)


@given(values)
def test_msgpack_round_trip(value: Any) -> None:
    assert unpack(pack(value)) == value


@given(values)
def test_decode_body_takes_msgpack_and_json(value: Any) -> None:
    assert decode_body(pack({"v": value})) == {"v": value}
    if not has_binary(value):
        assert decode_body(to_json({"v": value})) == {"v": value}


def test_bytes_in_json_take_the_node_buffer_shape() -> None:
    assert to_json({"b": b"\x01\x02"}) == b'{"b":{"type":"Buffer","data":[1,2]}}'


def test_pack_writes_bin_and_str_as_notepack_does() -> None:
    # fixarray(3), fixstr "a", bin8 len 1, nil
    assert pack(["a", b"\x00", None]) == b"\x93\xa1a\xc4\x01\x00\xc0"


@given(rooms, rooms, st.booleans(), st.booleans(), st.none() | st.integers(1, 10_000))
def test_options_round_trip(
    to: frozenset[str], not_to: frozenset[str], volatile: bool, compress: bool, ms: int | None
) -> None:
    flags = BroadcastFlags(
        volatile=volatile, compress=compress, timeout=None if ms is None else ms / 1000
    )
    opts = BroadcastOptions(rooms=to, except_rooms=not_to, flags=flags)
    assert decode_opts(unpack(pack(encode_opts(opts, timeout=True)))) == opts
    without = decode_opts(encode_opts(opts))
    assert without.flags.timeout is None and without.rooms == to


def test_options_from_node_shapes() -> None:
    # Node sends numbers as rooms when the application joined a number; local never counts
    opts = decode_opts({"rooms": [1, "a"], "except": [2.0], "flags": {"local": True}})
    assert opts == BroadcastOptions(rooms=frozenset({"1", "a"}), except_rooms=frozenset({"2"}))
    assert decode_opts({}) == BroadcastOptions()
    for bad in ([], {"rooms": "a"}, {"rooms": [None]}, {"rooms": [True]}):
        with pytest.raises(WireError):
            decode_opts(bad)


def test_event_data() -> None:
    assert event_data({"type": 2, "data": ["e", 1], "nsp": "/"}, "/") == ["e", 1]
    assert event_data({"type": 5, "data": ["e"]}, "/") == ["e"]  # nsp defaults to "/"
    assert event_data({"type": 2, "data": ["e"], "nsp": "/other"}, "/") is None
    for bad in (None, {"type": 3, "data": ["e"]}, {"type": 2, "data": []}, {"type": 2}):
        with pytest.raises(WireError):
            event_data(bad, "/")


def test_details_round_trip_and_bad_shapes() -> None:
    details = SocketDetails("sid1", {"auth": {"a": 1}}, ["r", "sid1"], {"x": b"\x01"})
    assert decode_details(unpack(pack(encode_details(details)))) == details
    assert decode_details({"id": "s"}) == SocketDetails("s", {}, [], None)
    with pytest.raises(WireError):
        decode_details({"handshake": {}})


def test_bad_bodies_raise_wire_errors() -> None:
    for bad in (b"{not json", b"\xc1", b"\x92\x01"):
        with pytest.raises(WireError):
            decode_body(bad)


def test_uids() -> None:
    uid = new_uid()
    assert len(uid) == 6 and uid.isalnum()
    assert new_uid() != uid or new_uid() != uid
