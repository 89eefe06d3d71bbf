"""Communities: creating (with their first channel), reading, renaming, listing."""

from __future__ import annotations

from typing import Final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from community.errors import Conflict, Forbidden
from community.events import ChannelCreated, CommunityCreated, CommunityUpdated
from community.models import Channel, ChannelMember, Community, CommunityMember, Role, User
from community.records import CommunityRecord
from community.services.context import ServiceContext
from community.services.rows import channel_record, community_record, get_row
from community.services.rules import TextRules, is_clean

__all__ = ["DEFAULT_CHANNEL_NAME", "Communities"]

DEFAULT_CHANNEL_NAME: Final = "general"
"""Channel created with every community."""


class Communities:
    """The communities themselves (their members are :class:`~community.services.members.Members`'
    and their channels :class:`~community.services.channels.Channels`').

    Args:
        context: The shared collaborators.
    """

    def __init__(self, context: ServiceContext) -> None:
        self._context = context
        self._rules = TextRules(context.limits)

    async def create(self, owner_id: int, name: str, description: str = "") -> CommunityRecord:
        """Create a community owned by a user, with a ``general`` channel the owner is in.

        Publishes :class:`CommunityCreated` then :class:`ChannelCreated`.

        Args:
            owner_id: The creating user, who becomes owner and first member.
            name: Unique name, 1 to ``limits.name_max_length`` characters.
            description: Free text up to ``limits.description_max_length`` characters.

        Raises:
            InvalidInput: A value is malformed.
            NotFound: No such user.
            Conflict: The name is taken.
        """
        title = self._rules.name(name)
        about = self._rules.description(description, "description")
        now = self._context.clock()
        try:
            async with self._context.sessionmaker() as session, session.begin():
                await get_row(session, User, owner_id, "user")
                if await session.scalar(select(Community.id).where(Community.name == title)):
                    raise Conflict(f"a community named {title!r} already exists")
                community = Community(
                    name=title, description=about, owner_id=owner_id, created_at=now
                )
                session.add(community)
                await session.flush()
                session.add(
                    CommunityMember(
                        community_id=community.id, user_id=owner_id, role=Role.OWNER, joined_at=now
                    )
                )
                channel = Channel(
                    community_id=community.id,
                    name=DEFAULT_CHANNEL_NAME,
                    topic="",
                    created_by=owner_id,
                    created_at=now,
                )
                session.add(channel)
                await session.flush()
                session.add(ChannelMember(channel_id=channel.id, user_id=owner_id, joined_at=now))
                created = community_record(community)
                first_channel = channel_record(channel)
        except IntegrityError:
            raise Conflict(f"a community named {title!r} already exists") from None
        await self._context.publish(CommunityCreated(created), ChannelCreated(first_channel))
        return created

    async def get(self, community_id: int) -> CommunityRecord:
        """Load a community (public information: any user may see it).

        Raises:
            NotFound: No such community.
        """
        async with self._context.sessionmaker() as session:
            return community_record(await get_row(session, Community, community_id, "community"))

    async def find(self, name: str) -> CommunityRecord | None:
        """Look a community up by its exact name (surrounding blanks ignored); ``None`` if
        there is none."""
        if not is_clean(name) or len(name) > 4 * self._context.limits.name_max_length:
            return None
        async with self._context.sessionmaker() as session:
            community = await session.scalar(
                select(Community).where(Community.name == name.strip())
            )
            return None if community is None else community_record(community)

    async def update(
        self,
        user_id: int,
        community_id: int,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> CommunityRecord:
        """Rename a community or change its description (owner only).

        Publishes :class:`CommunityUpdated` when something changed.

        Args:
            user_id: The acting user.
            community_id: The community.
            name: New name, or ``None`` to keep it.
            description: New description, or ``None`` to keep it.

        Returns:
            The community after the change.

        Raises:
            InvalidInput: A value is malformed.
            NotFound: No such community.
            Forbidden: The user is not the owner.
            Conflict: The new name is taken.
        """
        cid = community_id
        title = None if name is None else self._rules.name(name)
        about = None if description is None else self._rules.description(description, "description")
        try:
            async with self._context.sessionmaker() as session, session.begin():
                community = await get_row(session, Community, cid, "community")
                if community.owner_id != user_id:
                    raise Forbidden("only the owner can change this community")
                changed = False
                if title is not None and title != community.name:
                    taken = await session.scalar(
                        select(Community.id).where(Community.name == title, Community.id != cid)
                    )
                    if taken:
                        raise Conflict(f"a community named {title!r} already exists")
                    community.name = title
                    changed = True
                if about is not None and about != community.description:
                    community.description = about
                    changed = True
                await session.flush()
                record = community_record(community)
        except IntegrityError:
            raise Conflict(f"a community named {title!r} already exists") from None
        if changed:
            await self._context.publish(CommunityUpdated(record))
        return record

    async def listing(
        self, *, after: int | None = None, limit: int | None = None
    ) -> list[CommunityRecord]:
        """List all communities by id, oldest first, for discovery.

        Args:
            after: Return communities with a larger id than this (a cursor), or ``None``.
            limit: Page size, at most ``limits.list_max_limit`` (the default).

        Raises:
            InvalidInput: The page size is too large.
        """
        maximum = self._context.limits.list_max_limit
        size = self._rules.page_size(limit, maximum, maximum)
        query = select(Community).order_by(Community.id).limit(size)
        if after is not None:
            query = query.where(Community.id > after)
        async with self._context.sessionmaker() as session:
            return [community_record(c) for c in await session.scalars(query)]

    async def of_user(self, user_id: int) -> list[CommunityRecord]:
        """List the communities a user is a member of, by id (empty for an unknown user)."""
        query = (
            select(Community)
            .join(CommunityMember, CommunityMember.community_id == Community.id)
            .where(CommunityMember.user_id == user_id)
            .order_by(Community.id)
        )
        async with self._context.sessionmaker() as session:
            return [community_record(c) for c in await session.scalars(query)]
