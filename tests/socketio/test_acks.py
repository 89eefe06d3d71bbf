"""Tests of plexio.socketio.acks: the ack id counter both connection roles use."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plexio.config import Limits
from plexio.socketio.acks import AckIds
from plexio.socketio.client import ClientConnection
from plexio.socketio.connection import ServerConnection
from plexio.socketio.parser import JsonParser


def test_counts_up_from_zero_and_wraps_before_the_digit_limit() -> None:
    ids = AckIds(max_digits=1)
    assert [ids.allocate() for _ in range(12)] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]


def test_at_least_skips_ahead_and_wraps_past_the_limit() -> None:
    ids = AckIds(max_digits=2)
    assert ids.allocate(at_least=40) == 40
    assert ids.next == 41
    assert ids.allocate(at_least=3) == 41  # never back
    assert ids.allocate(at_least=100) == 0  # past 99: wraps
    assert ids.next == 1


def test_a_limit_of_no_digit_is_refused() -> None:
    with pytest.raises(ValueError):
        AckIds(max_digits=0)


@given(st.integers(1, 3), st.lists(st.integers(0, 2000), max_size=50))
def test_ids_always_fit_the_digits(max_digits: int, floors: list[int]) -> None:
    ids = AckIds(max_digits)
    for floor in floors:
        ack_id = ids.allocate(floor)
        assert 0 <= ack_id < 10**max_digits
        assert 0 <= ids.next < 10**max_digits


def test_both_roles_use_the_same_rule() -> None:
    limits = Limits(max_ack_id_digits=1)
    server = ServerConnection(JsonParser(), limits)
    client = ClientConnection(JsonParser(), limits)
    assert [server.allocate_ack_id() for _ in range(11)] == [*range(10), 0]
    assert [client.allocate_ack_id() for _ in range(11)] == [*range(10), 0]
