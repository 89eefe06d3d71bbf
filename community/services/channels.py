"""Channels and channel membership: creating, reading, listing, joining, leaving.

Joining is one of the frequent writes: it goes through the group-commit
:class:`~community.writer.Writer` as Core statements built once.
"""

from __future__ import annotations

from functools import partial

from sqlalchemy import bindparam, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from community.errors import Conflict, Forbidden, InvalidInput, NotFound
from community.events import (
    ChannelCreated,
    ChannelMemberJoined,
    ChannelMemberRemoved,
    RemovalReason,
)
from community.models import Channel, ChannelMember, CommunityMember
from community.records import ChannelRecord, ChannelView
from community.services.context import ServiceContext
from community.services.members import require_member
from community.services.rows import channel_record, get_row
from community.services.rules import TextRules

__all__ = ["Channels"]

_CHANNEL_FOR_JOIN = (
    select(
        Channel.id,
        Channel.community_id,
        Channel.name,
        Channel.topic,
        Channel.created_by,
        Channel.created_at,
        ChannelMember.user_id,
    )
    .outerjoin(
        ChannelMember,
        (ChannelMember.channel_id == Channel.id) & (ChannelMember.user_id == bindparam("uid")),
    )
    .where(Channel.id == bindparam("chid"))
)
_COMMUNITY_MEMBER_LOCKED = (
    select(CommunityMember.user_id)
    .where(
        CommunityMember.community_id == bindparam("cid"),
        CommunityMember.user_id == bindparam("uid"),
    )
    .with_for_update(read=True)
)
_ADD_CHANNEL_MEMBER = insert(ChannelMember)


class Channels:
    """The channels of the communities and who is in each.

    Args:
        context: The shared collaborators.
    """

    def __init__(self, context: ServiceContext) -> None:
        self._context = context
        self._rules = TextRules(context.limits)

    async def create(
        self, user_id: int, community_id: int, name: str, topic: str = ""
    ) -> ChannelRecord:
        """Create a channel in a community (any member may); the creator joins it.

        Publishes :class:`ChannelCreated`.

        Args:
            user_id: The creating user.
            community_id: The community.
            name: Lower-cased, blanks turned into ``-``; then letters, digits, ``_`` and ``-``
                only, unique in the community.
            topic: Free text up to ``limits.description_max_length`` characters.

        Raises:
            InvalidInput: A value is malformed.
            NotFound: No such community.
            Forbidden: The user is not a member.
            Conflict: The name is taken in this community.
        """
        cid = community_id
        title = self._rules.channel_name(name)
        about = self._rules.description(topic, "topic")
        now = self._context.clock()
        try:
            async with self._context.sessionmaker() as session, session.begin():
                await require_member(session, cid, user_id, lock=True)
                taken = await session.scalar(
                    select(Channel.id).where(Channel.community_id == cid, Channel.name == title)
                )
                if taken:
                    raise Conflict(f"a channel named {title!r} already exists here")
                channel = Channel(
                    community_id=cid, name=title, topic=about, created_by=user_id, created_at=now
                )
                session.add(channel)
                await session.flush()
                session.add(ChannelMember(channel_id=channel.id, user_id=user_id, joined_at=now))
                record = channel_record(channel)
        except IntegrityError:
            raise Conflict(f"a channel named {title!r} already exists here") from None
        await self._context.publish(ChannelCreated(record))
        return record

    async def get(self, user_id: int, channel_id: int) -> ChannelRecord:
        """Load a channel (community members only).

        Raises:
            NotFound: No such channel.
            Forbidden: Not a member of the channel's community.
        """
        async with self._context.sessionmaker() as session:
            channel = await get_row(session, Channel, channel_id, "channel")
            await require_member(session, channel.community_id, user_id)
            return channel_record(channel)

    async def of_community(self, user_id: int, community_id: int) -> list[ChannelView]:
        """List the channels of a community (community members only), by id, with whether the
        asking user joined each.

        Args:
            user_id: The asking user.
            community_id: The community.

        Raises:
            NotFound: No such community.
            Forbidden: Not a member.
        """
        query = (
            select(Channel, ChannelMember.user_id)
            .outerjoin(
                ChannelMember,
                (ChannelMember.channel_id == Channel.id) & (ChannelMember.user_id == user_id),
            )
            .where(Channel.community_id == community_id)
            .order_by(Channel.id)
        )
        async with self._context.sessionmaker() as session:
            await require_member(session, community_id, user_id)
            rows = (await session.execute(query)).all()
        return [
            ChannelView.of(channel_record(channel), joined=member is not None)
            for channel, member in rows
        ]

    async def of_user(self, user_id: int, community_id: int | None = None) -> list[ChannelRecord]:
        """List the channels a user is a member of (e.g. the rooms to join on connect), by id.

        Args:
            user_id: The user.
            community_id: Only this community's channels, or all when ``None``.
        """
        query = (
            select(Channel)
            .join(ChannelMember, ChannelMember.channel_id == Channel.id)
            .where(ChannelMember.user_id == user_id)
            .order_by(Channel.id)
        )
        if community_id is not None:
            query = query.where(Channel.community_id == community_id)
        async with self._context.sessionmaker() as session:
            return [channel_record(c) for c in await session.scalars(query)]

    async def is_member(self, user_id: int, channel_id: int) -> bool:
        """Tell whether a user is a member of a channel (``False`` for unknown ids)."""
        async with self._context.sessionmaker() as session:
            return await session.get(ChannelMember, (channel_id, user_id)) is not None

    async def join(
        self, user_id: int, channel_id: int, *, community_id: int | None = None
    ) -> ChannelRecord:
        """Join a channel of a community the user is a member of.

        Publishes :class:`ChannelMemberJoined`.

        Args:
            user_id: The user.
            channel_id: The channel.
            community_id: The community the caller believes the channel is in (the gateway's
                payload names it), or ``None``; a mismatch is :class:`InvalidInput`.

        Returns:
            The channel.

        Raises:
            NotFound: No such channel.
            Forbidden: Not a member of the channel's community.
            InvalidInput: The channel is not in ``community_id``.
            Conflict: Already a member of the channel.
        """
        try:
            record = await self._context.writer.run(
                partial(self._join, user_id, channel_id, community_id)
            )
        except IntegrityError:
            raise Conflict("already a member of this channel") from None
        await self._context.publish(ChannelMemberJoined(channel=record, user_id=user_id))
        return record

    def _join(
        self, uid: int, chid: int, expected: int | None, connection: Connection
    ) -> ChannelRecord:
        row = connection.execute(_CHANNEL_FOR_JOIN, {"uid": uid, "chid": chid}).first()
        if row is None:
            raise NotFound("unknown channel")
        record = ChannelRecord(*row[:6])
        # Share-locked until commit (PostgreSQL), so that a concurrent removal from the
        # community, which write-locks it first, cannot miss this membership.
        member = connection.scalar(
            _COMMUNITY_MEMBER_LOCKED, {"cid": record.community_id, "uid": uid}
        )
        if member is None:
            raise Forbidden("not a member of this community")
        if expected is not None and record.community_id != expected:
            raise InvalidInput("the channel is not in this community")
        if row[6] is not None:
            raise Conflict("already a member of this channel")
        connection.execute(
            _ADD_CHANNEL_MEMBER,
            {"channel_id": chid, "user_id": uid, "joined_at": self._context.clock()},
        )
        return record

    async def leave(self, user_id: int, channel_id: int) -> ChannelRecord:
        """Leave a channel. Publishes :class:`ChannelMemberRemoved` with reason ``LEFT``.

        Raises:
            NotFound: No such channel.
            Forbidden: Not a member of the channel.
        """
        async with self._context.sessionmaker() as session, session.begin():
            channel = await get_row(session, Channel, channel_id, "channel")
            membership = await session.get(ChannelMember, (channel_id, user_id))
            if membership is None:
                raise Forbidden("not a member of this channel")
            await session.delete(membership)
            record = channel_record(channel)
        await self._context.publish(
            ChannelMemberRemoved(channel=record, user_id=user_id, reason=RemovalReason.LEFT)
        )
        return record
