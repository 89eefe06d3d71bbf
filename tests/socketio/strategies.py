"""Hypothesis strategies for Socket.IO packets (shared by the socketio test modules)."""

from __future__ import annotations

from hypothesis import strategies as st

from plexio.socketio import RESERVED_EVENTS, Packet
from plexio.typing import JSONValue

__all__ = [
    "ack_ids",
    "event_names",
    "json_values",
    "namespaces",
    "packets",
    "values_with_binary",
]

# JSON numbers that survive orjson and msgpack unchanged: 64-bit ints, finite floats.
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
# "_placeholder" is the one key a sender may not use in binary packets (it would be
# taken for an attachment, by the reference implementation too).
_keys = st.text(max_size=8).filter(lambda k: k != "_placeholder")


def _containers(children: st.SearchStrategy[JSONValue]) -> st.SearchStrategy[JSONValue]:
    return st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=4)


json_values: st.SearchStrategy[JSONValue] = st.recursive(_scalars, _containers, max_leaves=12)
values_with_binary: st.SearchStrategy[JSONValue] = st.recursive(
    _scalars | st.binary(max_size=16), _containers, max_leaves=12
)
namespaces = st.just("/") | st.text(max_size=12).filter(
    lambda s: "," not in s and "\x1e" not in s
).map(lambda s: "/" + s)
ack_ids = st.integers(min_value=0, max_value=10**16 - 1)
event_names = (
    st.text(max_size=12).filter(lambda s: s not in RESERVED_EVENTS)
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
)


def packets(binary: bool = True) -> st.SearchStrategy[Packet]:
    """Every packet kind; EVENT/ACK arguments contain nested bytes when ``binary``."""
    values = values_with_binary if binary else json_values
    dicts = st.dictionaries(_keys, json_values, max_size=4)
    return st.one_of(
        st.builds(Packet.connect, namespaces, st.none() | dicts),
        st.builds(Packet.disconnect, namespaces),
        st.builds(
            lambda ns, name, args, ack: Packet.event(ns, [name, *args], ack),
            namespaces,
            event_names,
            st.lists(values, max_size=4),
            st.none() | ack_ids,
        ),
        st.builds(Packet.ack, namespaces, ack_ids, st.lists(values, max_size=4)),
        st.builds(Packet.connect_error, namespaces, st.text(max_size=20), json_values),
    )
