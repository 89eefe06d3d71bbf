"""Property test: the services, given any value the boundaries let through (an id of the
:data:`community.inputs.Id` range, any string), either succeed or raise a documented
CommunityError (the REST API and the gateway rely on it to answer bad input), never a database
error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from community.errors import CommunityError
from community.inputs import MAX_ID
from community.records import UserRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from community.services import Services
from tests.community.helpers import PASSWORD

_ids = st.integers(min_value=1, max_value=3) | st.integers(min_value=1, max_value=MAX_ID)
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
_texts = _near_misses | st.text(st.characters(codec=None, categories=None), max_size=70)

ID, TEXT = "id", "text"
_Call = tuple[
    str, Callable[[Services], Callable[..., Awaitable[Any]]], tuple[object, ...], tuple[str, ...]
]

# Each method with valid arguments (user 1, community 1, channel 1, message 1 exist) and the
# kind of each argument; each example replaces one or two of them with another of their kind.
_CALLS: list[_Call] = [
    ("get user", lambda s: s.accounts.get, (1,), (ID,)),
    ("find user", lambda s: s.accounts.find, ("owner",), (TEXT,)),
    ("sign up", lambda s: s.accounts.sign_up, ("someone", PASSWORD, "Someone"), (TEXT, TEXT, TEXT)),
    ("log in", lambda s: s.accounts.log_in, ("owner", PASSWORD), (TEXT, TEXT)),
    ("find community", lambda s: s.communities.find, ("fuzz",), (TEXT,)),
    ("get community", lambda s: s.communities.get, (1,), (ID,)),
    ("communities of user", lambda s: s.communities.of_user, (1,), (ID,)),
    ("create community", lambda s: s.communities.create, (1, "name", "about"), (ID, TEXT, TEXT)),
    ("update community", lambda s: s.communities.update, (1, 1), (ID, ID)),
    ("is member", lambda s: s.members.is_member, (1, 1), (ID, ID)),
    ("join community", lambda s: s.members.join, (1, 1), (ID, ID)),
    ("leave community", lambda s: s.members.leave, (1, 1), (ID, ID)),
    ("remove member", lambda s: s.members.remove, (1, 1), (ID, ID)),
    ("members", lambda s: s.members.listing, (1, 1), (ID, ID)),
    ("create channel", lambda s: s.channels.create, (1, 1, "name", "topic"), (ID, ID, TEXT, TEXT)),
    ("get channel", lambda s: s.channels.get, (1, 1), (ID, ID)),
    ("channels of community", lambda s: s.channels.of_community, (1, 1), (ID, ID)),
    ("channels of user", lambda s: s.channels.of_user, (1, 1), (ID, ID)),
    ("is channel member", lambda s: s.channels.is_member, (1, 1), (ID, ID)),
    ("join channel", lambda s: s.channels.join, (1, 1), (ID, ID)),
    ("leave channel", lambda s: s.channels.leave, (1, 1), (ID, ID)),
    ("post", lambda s: s.messages.post, (1, 1, "body", "key"), (ID, ID, TEXT, TEXT)),
    ("get message", lambda s: s.messages.get, (1, 1), (ID, ID)),
    ("edit message", lambda s: s.messages.edit, (1, 1, "body"), (ID, ID, TEXT)),
    ("delete message", lambda s: s.messages.delete, (1, 1), (ID, ID)),
    ("history", lambda s: s.messages.history, (1, 1), (ID, ID)),
]


@pytest.fixture
async def owner(services: Services) -> UserRecord:
    """User 1, owner of community 1 and its channel 1, with message 1."""
    user = await services.accounts.sign_up("owner", PASSWORD)
    community = await services.communities.create(user.id, "fuzz")
    channel = (await services.channels.of_user(user.id, community.id))[0]
    await services.messages.post(user.id, channel.id, "first", "k")
    return user


async def _call(services: Services, call: _Call, args: list[object]) -> None:
    method = call[1](services)
    try:
        await method(*args)
    except CommunityError as exc:
        assert exc.message, (call[0], args)
        assert exc.code != "error"


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), call=st.sampled_from(_CALLS))
async def test_any_value_the_boundaries_let_through_raises_only_community_errors(
    services: Services, owner: UserRecord, data: st.DataObject, call: _Call
) -> None:
    args = list(call[2])
    kinds = call[3]
    for _ in range(data.draw(st.integers(1, 2))):
        position = data.draw(st.integers(0, len(args) - 1))
        args[position] = data.draw(_ids if kinds[position] == ID else _texts)
    await _call(services, call, args)


async def test_every_argument_with_every_near_miss_value(
    services: Services, owner: UserRecord
) -> None:
    # Exhaustive companion of the random test: each argument of each method, in turn, gets
    # each hostile-but-plausible value of its kind (NUL, lone surrogate, blank, huge ...).
    hostile = {
        ID: [1, 2, 3, 999, 2**31, 2**32 + 1, MAX_ID],
        TEXT: ["", " ", "\x00", "a\x00b", "\ud800", "x" * 5000, "line\nbreak", "\x7f", "é"],
    }
    for call in _CALLS:
        kinds = call[3]
        for position, kind in enumerate(kinds):
            for value in hostile[kind]:
                args = list(call[2])
                args[position] = value
                await _call(services, call, args)
