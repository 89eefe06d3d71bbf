"""Property test: service methods given arbitrary socket-payload values either succeed or raise
a documented CommunityError (the gateway relies on it to answer bad input)."""

from __future__ import annotations

from typing import Any

import pytest
from community.errors import CommunityError
from community.records import UserRecord
from community.service import CommunityService
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.community.helpers import PASSWORD

_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(st.characters(codec=None, categories=None), max_size=70)
    | st.binary(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=4), inner, max_size=2)
    ),
    max_leaves=4,
)
_small_ids = st.integers(min_value=-1, max_value=3)
# Values close to the real ones reach past the first checks, deep into the database.
_near_misses = st.sampled_from(
    [
        "ok",
        "k",
        "owner",
        "fuzz",
        "general",
        PASSWORD,
        "",
        " ",
        "\x00",
        "a\x00b",
        "\ud800",
        "x" * 5000,
    ]
)
_arg = _small_ids | _near_misses | _values

# Valid arguments for each method (user 1, community 1, channel 1, message 1 exist); each
# example replaces one or two of them with an arbitrary value.
_CALLS: list[tuple[str, tuple[object, ...]]] = [
    ("authenticate_token", ("token",)),
    ("get_user", (1,)),
    ("find_user", ("owner",)),
    ("find_community", ("fuzz",)),
    ("get_community", (1,)),
    ("list_user_communities", (1,)),
    ("is_community_member", (1, 1)),
    ("is_channel_member", (1, 1)),
    ("join_community", (1, 1)),
    ("leave_community", (1, 1)),
    ("remove_member", (1, 1)),
    ("list_members", (1, 1)),
    ("create_community", (1, "name", "description")),
    ("update_community", (1, 1)),
    ("create_channel", (1, 1, "name", "topic")),
    ("get_channel", (1, 1)),
    ("list_community_channels", (1, 1)),
    ("list_user_channels", (1, 1)),
    ("join_channel", (1, 1)),
    ("leave_channel", (1, 1)),
    ("create_message", (1, 1, "body", "key")),
    ("get_message", (1, 1)),
    ("edit_message", (1, 1, "body")),
    ("delete_message", (1, 1)),
    ("message_history", (1, 1)),
    ("sign_up", ("someone", PASSWORD, "Someone")),
    ("log_in", ("owner", PASSWORD)),
]


@pytest.fixture
async def owner(service: CommunityService) -> UserRecord:
    """User 1, owner of community 1 and its channel 1, with message 1."""
    user = await service.sign_up("owner", PASSWORD)
    community = await service.create_community(user.id, "fuzz")
    channel = (await service.list_user_channels(user.id, community.id))[0]
    await service.create_message(user.id, channel.id, "first", "k")
    return user


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    call=st.sampled_from(_CALLS),
    replacements=st.lists(st.tuples(st.integers(0, 3), _arg), min_size=1, max_size=2),
)
async def test_arbitrary_arguments_raise_only_community_errors(
    service: CommunityService,
    owner: UserRecord,
    call: tuple[str, tuple[object, ...]],
    replacements: list[tuple[int, Any]],
) -> None:
    name, defaults = call
    args = list(defaults)
    for position, value in replacements:
        args[position % len(args)] = value
    method = getattr(service, name)
    try:
        await method(*args)
    except CommunityError as exc:
        assert exc.message
        assert exc.code != "error"


async def test_every_argument_with_every_near_miss_value(
    service: CommunityService, owner: UserRecord
) -> None:
    # Exhaustive companion of the random test: each argument of each method, in turn, gets
    # each hostile-but-plausible value (NUL, lone surrogate, blank, huge, wrong type, ...).
    hostile: list[object] = [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\ud800",
        "x" * 5000,
        "line\nbreak",
        0,
        -1,
        2**63,
        10**40,
        True,
        1.0,
        None,
        b"1",
        [1],
        {"id": 1},
    ]
    for name, defaults in _CALLS:
        method = getattr(service, name)
        for position in range(len(defaults)):
            for value in hostile:
                args = list(defaults)
                args[position] = value
                try:
                    await method(*args)
                except CommunityError as exc:
                    assert exc.message, (name, position, value)
