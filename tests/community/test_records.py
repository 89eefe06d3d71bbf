"""JSON form of the service's records (community/records.py)."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta

from community.records import MessageRecord, to_json
from hypothesis import given
from hypothesis import strategies as st

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
