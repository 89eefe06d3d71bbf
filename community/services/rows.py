"""The one place that knows both the ORM rows (:mod:`community.models`) and the records
(:mod:`community.records`) the services hand out: loading a row by id and turning rows into
records."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from community.errors import NotFound
from community.models import Channel, Community, CommunityMember, Message, Role, User
from community.records import (
    ChannelRecord,
    CommunityRecord,
    MemberRecord,
    MessageRecord,
    UserRecord,
)

__all__ = [
    "channel_record",
    "community_record",
    "get_row",
    "load_message",
    "member_record",
    "message_record",
    "user_record",
]

_Row = TypeVar("_Row", User, Community, Channel)


async def get_row(session: AsyncSession, model: type[_Row], key: int, what: str) -> _Row:
    """Load a row by primary key.

    Raises:
        NotFound: There is none (``unknown {what}``).
    """
    found = await session.get(model, key)
    if found is None:
        raise NotFound(f"unknown {what}")
    return found


async def load_message(session: AsyncSession, mid: int) -> tuple[Message, int, str]:
    """Load a message that was not deleted, with its community id and author's username.

    Raises:
        NotFound: No such message, or it was deleted.
    """
    row = (
        await session.execute(
            select(Message, Channel.community_id, User.username)
            .join(Channel, Channel.id == Message.channel_id)
            .join(User, User.id == Message.author_id)
            .where(Message.id == mid)
        )
    ).first()
    if row is None or row[0].deleted_at is not None:
        raise NotFound("unknown message")
    message, community_id, username = row
    return message, community_id, username


def user_record(user: User) -> UserRecord:
    """The record of a user row (without its password hash)."""
    return UserRecord(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        created_at=user.created_at,
    )


def community_record(community: Community) -> CommunityRecord:
    """The record of a community row."""
    return CommunityRecord(
        id=community.id,
        name=community.name,
        description=community.description,
        owner_id=community.owner_id,
        created_at=community.created_at,
    )


def member_record(membership: CommunityMember, user: User) -> MemberRecord:
    """The record of a community membership row and its user."""
    return MemberRecord(
        community_id=membership.community_id,
        user_id=membership.user_id,
        username=user.username,
        display_name=user.display_name,
        role=Role(membership.role),
        joined_at=membership.joined_at,
    )


def channel_record(channel: Channel) -> ChannelRecord:
    """The record of a channel row."""
    return ChannelRecord(
        id=channel.id,
        community_id=channel.community_id,
        name=channel.name,
        topic=channel.topic,
        created_by=channel.created_by,
        created_at=channel.created_at,
    )


def message_record(message: Message, community_id: int, username: str) -> MessageRecord:
    """The record of a message row, with its channel's community and its author's username."""
    return MessageRecord(
        id=message.id,
        channel_id=message.channel_id,
        community_id=community_id,
        author_id=message.author_id,
        author_username=username,
        body=message.body,
        client_id=message.client_id,
        created_at=message.created_at,
        edited_at=message.edited_at,
        deleted=message.deleted_at is not None,
    )
