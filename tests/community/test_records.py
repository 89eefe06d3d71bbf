"""The records the services return, and their JSON form (community/records.py)."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta

import pytest
from community.events import MemberRemoved, RemovalReason
from community.records import ChannelRecord, ChannelView, MessageRecord, to_json
from hypothesis import given
from hypothesis import strategies as st

from community.services import Services
from tests.community.helpers import users

_times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(
    ids=st.tuples(*(st.integers(1, 2**63 - 1) for _ in range(4))),
    username=st.text(max_size=32),
    body=st.text(max_size=200),
    client_id=st.none() | st.text(max_size=64),
    created_at=_times,
    edited_after=st.none() | st.integers(0, 10**6),
    deleted=st.booleans(),
)
def test_message_json_is_the_generic_dataclass_form(
    ids: tuple[int, int, int, int],
    username: str,
    body: str,
    client_id: str | None,
    created_at: datetime,
    edited_after: int | None,
    deleted: bool,
) -> None:
    edited_at = None if edited_after is None else created_at + timedelta(seconds=edited_after)
    record = MessageRecord(
        id=ids[0],
        channel_id=ids[1],
        community_id=ids[2],
        author_id=ids[3],
        author_username=username,
        body=body,
        client_id=client_id,
        created_at=created_at,
        edited_at=edited_at,
        deleted=deleted,
    )
    generic = {
        f.name: (v.isoformat() if isinstance(v := getattr(record, f.name), datetime) else v)
        for f in fields(record)
    }
    data = to_json(record)
    assert data == generic
    assert isinstance(data, dict) and list(data) == [f.name for f in fields(record)]
    assert to_json([record, {"m": record}]) == [generic, {"m": generic}]


async def test_records_convert_to_json(services: Services) -> None:
    (alice,) = await users(services, "alice")
    community = await services.communities.create(alice.id, "Lounge")
    channel = (await services.channels.of_user(alice.id))[0]
    posted = await services.messages.post(alice.id, channel.id, "hi")
    data = to_json(posted)
    assert isinstance(data, dict)
    message = data["message"]
    assert isinstance(message, dict)
    assert message["body"] == "hi"
    assert message["community_id"] == community.id
    assert message["created_at"] == posted.message.created_at.isoformat()
    members = to_json(await services.members.listing(alice.id, community.id))
    assert isinstance(members, list) and isinstance(members[0], dict)
    assert members[0]["role"] == "owner"
    with pytest.raises(TypeError):
        to_json(object())


def test_event_records_convert_to_json() -> None:
    removed = MemberRemoved(
        community_id=1, user_id=2, reason=RemovalReason.LEFT, channel_ids=(3, 4), actor_id=2
    )
    assert to_json(removed) == {
        "community_id": 1,
        "user_id": 2,
        "reason": "left",
        "channel_ids": [3, 4],
        "actor_id": 2,
    }


def test_a_channel_view_is_the_channel_and_whether_one_joined_it() -> None:
    channel = ChannelRecord(
        id=1,
        community_id=2,
        name="general",
        topic="",
        created_by=None,
        created_at=datetime.now(UTC),
    )
    view = ChannelView.of(channel, joined=True)
    assert to_json(view) == {**to_json_dict(channel), "joined": True}
    assert ChannelView.of(view, joined=False).joined is False


def to_json_dict(value: object) -> dict[str, object]:
    data = to_json(value)
    assert isinstance(data, dict)
    return dict(data)


def _now() -> datetime:
    return datetime.now(UTC)
