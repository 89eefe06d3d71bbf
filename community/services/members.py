"""Community membership: joining, leaving, removal by the owner, listing members.

Leaving a community (or being removed from it) leaves all its channels in the same
transaction; :func:`require_member` is the membership check the other services share.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from community.errors import Conflict, Forbidden, NotFound
from community.events import MemberJoined, MemberRemoved, RemovalReason
from community.models import Channel, ChannelMember, Community, CommunityMember, Role, User
from community.records import MemberRecord
from community.services.context import ServiceContext
from community.services.rows import get_row, member_record
from community.services.rules import TextRules

__all__ = ["Members", "require_member"]


async def require_member(
    session: AsyncSession, community_id: int, user_id: int, *, lock: bool = False
) -> Community:
    """Load a community the user is a member of.

    Args:
        session: The session of the caller's transaction.
        community_id: The community.
        user_id: The user.
        lock: Share-lock the membership row until commit (PostgreSQL; SQLite transactions are
            serialized anyway), so that a concurrent leave or removal, which write-locks it
            first, cannot miss a channel membership being added meanwhile.

    Raises:
        NotFound: No such community.
        Forbidden: The user is not a member.
    """
    community = await get_row(session, Community, community_id, "community")
    found = await session.get(
        CommunityMember,
        (community_id, user_id),
        with_for_update={"read": True} if lock else None,
    )
    if found is None:
        raise Forbidden("not a member of this community")
    return community


class Members:
    """Who is a member of which community.

    Args:
        context: The shared collaborators.
    """

    def __init__(self, context: ServiceContext) -> None:
        self._context = context
        self._rules = TextRules(context.limits)

    async def is_member(self, user_id: int, community_id: int) -> bool:
        """Tell whether a user is a member of a community (``False`` for unknown ids)."""
        async with self._context.sessionmaker() as session:
            return await session.get(CommunityMember, (community_id, user_id)) is not None

    async def join(self, user_id: int, community_id: int) -> MemberRecord:
        """Make a user a member of a community. Publishes :class:`MemberJoined`.

        Raises:
            NotFound: No such user or community.
            Conflict: Already a member.
        """
        uid, cid = user_id, community_id
        try:
            async with self._context.sessionmaker() as session, session.begin():
                user = await get_row(session, User, uid, "user")
                await get_row(session, Community, cid, "community")
                if await session.get(CommunityMember, (cid, uid)) is not None:
                    raise Conflict("already a member of this community")
                membership = CommunityMember(
                    community_id=cid, user_id=uid, role=Role.MEMBER, joined_at=self._context.clock()
                )
                session.add(membership)
                await session.flush()
                record = member_record(membership, user)
        except IntegrityError:
            raise Conflict("already a member of this community") from None
        await self._context.publish(MemberJoined(record))
        return record

    async def leave(self, user_id: int, community_id: int) -> None:
        """Leave a community, and with it all its channels.

        Publishes :class:`MemberRemoved` with reason ``LEFT``.

        Raises:
            NotFound: No such community.
            Forbidden: Not a member.
            Conflict: The owner cannot leave their community.
        """
        event = await self._remove(community_id, user_id, actor_id=user_id, missing=Forbidden)
        await self._context.publish(event)

    async def remove(self, community_id: int, user_id: int, *, actor_id: int | None = None) -> None:
        """Remove a user from a community, and from all its channels.

        Publishes :class:`MemberRemoved` (reason ``REMOVED``, or ``LEFT`` when the actor is the
        user), so that the gateway can take the user's sockets out of the rooms.

        Args:
            community_id: The community.
            user_id: The user to remove.
            actor_id: The user asking for it, who must be the owner (or the user themselves);
                ``None`` when the application itself removes the member (no permission check).

        Raises:
            NotFound: No such community, or the user is not a member.
            Forbidden: The actor is not the owner.
            Conflict: The owner cannot be removed.
        """
        event = await self._remove(community_id, user_id, actor_id=actor_id, missing=NotFound)
        await self._context.publish(event)

    async def _remove(
        self, cid: int, uid: int, *, actor_id: int | None, missing: type[NotFound | Forbidden]
    ) -> MemberRemoved:
        async with self._context.sessionmaker() as session, session.begin():
            community = await get_row(session, Community, cid, "community")
            if actor_id is not None and actor_id != uid and community.owner_id != actor_id:
                raise Forbidden("only the owner can remove members")
            # Write-lock the membership before reading the channel memberships: a concurrent
            # channel join or creation holds a share lock on it until it commits.
            membership = await session.get(CommunityMember, (cid, uid), with_for_update=True)
            if membership is None:
                raise missing("not a member of this community")
            if community.owner_id == uid:
                raise Conflict("the owner cannot leave or be removed from their community")
            channel_ids = tuple(
                await session.scalars(
                    select(ChannelMember.channel_id)
                    .join(Channel, Channel.id == ChannelMember.channel_id)
                    .where(Channel.community_id == cid, ChannelMember.user_id == uid)
                    .order_by(ChannelMember.channel_id)
                )
            )
            if channel_ids:
                await session.execute(
                    delete(ChannelMember).where(
                        ChannelMember.user_id == uid, ChannelMember.channel_id.in_(channel_ids)
                    )
                )
            await session.delete(membership)
        reason = RemovalReason.LEFT if actor_id == uid else RemovalReason.REMOVED
        return MemberRemoved(
            community_id=cid,
            user_id=uid,
            reason=reason,
            channel_ids=channel_ids,
            actor_id=actor_id,
        )

    async def listing(
        self,
        user_id: int,
        community_id: int,
        *,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[MemberRecord]:
        """List the members of a community (members only), by user id.

        Args:
            user_id: The asking user.
            community_id: The community.
            after: Return members with a larger user id than this (a cursor), or ``None``.
            limit: Page size, at most ``limits.list_max_limit`` (the default).

        Raises:
            InvalidInput: The page size is too large.
            NotFound: No such community.
            Forbidden: The asking user is not a member.
        """
        maximum = self._context.limits.list_max_limit
        size = self._rules.page_size(limit, maximum, maximum)
        async with self._context.sessionmaker() as session:
            await require_member(session, community_id, user_id)
            query = (
                select(CommunityMember, User)
                .join(User, User.id == CommunityMember.user_id)
                .where(CommunityMember.community_id == community_id)
                .order_by(CommunityMember.user_id)
                .limit(size)
            )
            if after is not None:
                query = query.where(CommunityMember.user_id > after)
            rows = (await session.execute(query)).all()
            return [member_record(membership, user) for membership, user in rows]
