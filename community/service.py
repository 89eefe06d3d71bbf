"""Service layer of the community application: every rule about users, communities, channels and
messages, shared by the REST API and the socket gateway.

:class:`CommunityService` takes a SQLAlchemy ``async_sessionmaker`` and opens one short
transaction per call. Arguments may come straight from untrusted clients (socket payloads): every
method checks their types and sizes and raises a :class:`~community.errors.CommunityError`
subclass with a message safe to show, never a database error. After a transaction that changed
something has committed, the matching events from :mod:`community.events` are published on
:attr:`CommunityService.events`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from community.db import create_writer_engine, from_sqlite_time, to_sqlite_time
from community.errors import (
    AuthenticationFailed,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
)
from community.events import (
    ChannelCreated,
    ChannelMemberJoined,
    ChannelMemberRemoved,
    CommunityCreated,
    CommunityEvent,
    CommunityUpdated,
    EventBus,
    MemberJoined,
    MemberRemoved,
    MessageCreated,
    MessageDeleted,
    MessageEdited,
    RemovalReason,
)
from community.message_log import Membership, MessageLog
from community.models import (
    Channel,
    ChannelMember,
    Community,
    CommunityMember,
    Message,
    Role,
    User,
)
from community.records import (
    ChannelRecord,
    CommunityRecord,
    HistoryPage,
    IssuedToken,
    MemberRecord,
    MessageRecord,
    PostedMessage,
    UserRecord,
)
from community.security import PasswordHashing, decode_token, encode_token
from community.settings import Limits
from community.writer import Writer

__all__ = ["DEFAULT_CHANNEL_NAME", "MAX_ID", "USERNAME_PATTERN", "CommunityService", "utc_now"]

MAX_ID = 2**63 - 1
"""Largest id any table can hold (signed 64-bit); larger numbers cannot name anything."""

USERNAME_PATTERN = r"[a-z0-9][a-z0-9_.-]{2,31}"
"""Usernames after lower-casing: 3 to 32 characters, letters, digits, ``_ . -``."""

DEFAULT_CHANNEL_NAME = "general"
"""Channel created with every community."""

_USERNAME_RE = re.compile(USERNAME_PATTERN)
_CHANNEL_NAME_RE = re.compile(r"[\w-]+")
# Exactly the characters of Unicode category Cc (C0 controls, DEL, C1 controls).
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f]")


# Statements of the frequent requests, built once (SQLAlchemy caches their compiled form).
_MESSAGE_FOR_EDIT = (
    select(
        Message.author_id,
        Message.channel_id,
        Message.client_id,
        Message.created_at,
        Message.deleted_at,
        Channel.community_id,
        User.username,
        ChannelMember.user_id.label("member"),
    )
    .join(Channel, Channel.id == Message.channel_id)
    .join(User, User.id == Message.author_id)
    .outerjoin(
        ChannelMember,
        (ChannelMember.channel_id == Message.channel_id)
        & (ChannelMember.user_id == bindparam("uid")),
    )
    .where(Message.id == bindparam("mid"))
)
_EDIT_MESSAGE = (
    update(Message)
    .where(Message.id == bindparam("mid"))
    .values(body=bindparam("body"), edited_at=bindparam("edited_at"))
)
# The same two statements for SQLite's driver (see CommunityService._edit); times are stored as
# SQLAlchemy's DateTime stores them there: naive UTC text.
_SQLITE_MESSAGE_FOR_EDIT = (
    "SELECT m.author_id, m.channel_id, m.client_id, m.created_at, m.deleted_at, "
    "c.community_id, u.username, cm.user_id FROM messages AS m "
    "JOIN channels AS c ON c.id = m.channel_id JOIN users AS u ON u.id = m.author_id "
    "LEFT OUTER JOIN channel_members AS cm ON cm.channel_id = m.channel_id AND cm.user_id = ? "
    "WHERE m.id = ?"
)
_SQLITE_EDIT_MESSAGE = "UPDATE messages SET body = ?, edited_at = ? WHERE id = ?"


class _EditRow(NamedTuple):
    author_id: int
    channel_id: int
    client_id: str | None
    created_at: Any
    deleted_at: Any
    community_id: int
    username: str
    member: int | None


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


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime (the default service clock)."""
    return datetime.now(UTC)


class CommunityService:
    """Users, communities, channels and messages on top of one database.

    Args:
        sessionmaker: Factory of async sessions (see :func:`community.db.create_sessionmaker`).
        secret: HS256 key for access tokens.
        token_ttl: Access token lifetime.
        limits: Input size limits.
        events: Event registry; a new one when omitted.
        clock: Returns the current aware UTC time; injectable for tests.
        passwords: Password hashing; argon2id defaults when omitted.
        writer: The group-commit writer of the frequent writes (messages, edits, channel
            joins); one on the sessionmaker's engine when omitted. :meth:`close` closes it.

    Attributes:
        events: The registry on which committed changes are published.
        limits: The input size limits in force.
        writer: The group-commit writer of the frequent writes.
        messages: The log that stores messages in group commits.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        secret: str,
        token_ttl: timedelta,
        limits: Limits | None = None,
        events: EventBus | None = None,
        clock: Callable[[], datetime] = utc_now,
        passwords: PasswordHashing | None = None,
        writer: Writer | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._secret = secret
        self._token_ttl = token_ttl
        self.limits = limits if limits is not None else Limits()
        self.events = events if events is not None else EventBus()
        self._clock = clock
        self._passwords = passwords if passwords is not None else PasswordHashing()
        if writer is None:
            engine = sessionmaker.kw.get("bind")
            if not isinstance(engine, AsyncEngine):
                raise TypeError("the sessionmaker must be bound to an AsyncEngine")
            url = engine.url.render_as_string(hide_password=False)
            writer = Writer(engine, create_writer_engine(url))
        self.writer = writer
        self.messages = MessageLog(writer, clock)

    async def close(self) -> None:
        """Finish the queued writes and release the writer's connection and thread."""
        await self.writer.close()

    # ------------------------------------------------------------------ users and tokens

    async def sign_up(
        self, username: object, password: object, display_name: object = None
    ) -> UserRecord:
        """Register a user.

        Args:
            username: 3 to 32 characters among letters, digits, ``_ . -``; case-insensitive
                (stored lower-case).
            password: Between ``limits.password_min_length`` and ``password_max_length``
                characters.
            display_name: Shown name; the username when omitted or empty.

        Returns:
            The new user.

        Raises:
            InvalidInput: A value is malformed.
            Conflict: The username is taken.
        """
        name = _username(username)
        secret = self._password(password)
        if display_name is None or display_name == "":
            display_name = name if not isinstance(username, str) else username.strip()
        shown = _text(display_name, "display_name", min_length=1, max_length=64, single_line=True)
        # Answer a taken name before paying for a hash; the unique index settles races.
        async with self._sessionmaker() as session:
            if await session.scalar(select(User.id).where(User.username == name)):
                raise Conflict(f"username {name!r} is taken")
        password_hash = await self._passwords.hash(secret)
        try:
            async with self._sessionmaker() as session, session.begin():
                user = User(
                    username=name,
                    display_name=shown,
                    password_hash=password_hash,
                    created_at=self._clock(),
                )
                session.add(user)
                await session.flush()
                return _user_record(user)
        except IntegrityError:
            raise Conflict(f"username {name!r} is taken") from None

    async def log_in(self, username: object, password: object) -> UserRecord:
        """Check a username and password.

        Args:
            username: The username (any case).
            password: The password.

        Returns:
            The user.

        Raises:
            AuthenticationFailed: Unknown user or wrong password (the same error for both).
        """
        if not isinstance(username, str) or not isinstance(password, str):
            raise AuthenticationFailed("wrong username or password")
        name = username.strip().lower()
        if len(password) > self.limits.password_max_length or not _is_clean(password):
            raise AuthenticationFailed("wrong username or password")
        user: User | None = None
        if _USERNAME_RE.fullmatch(name):
            async with self._sessionmaker() as session:
                user = await session.scalar(select(User).where(User.username == name))
        ok = await self._passwords.verify(user.password_hash if user else None, password)
        if user is None or not ok:
            raise AuthenticationFailed("wrong username or password")
        return _user_record(user)

    def issue_token(self, user_id: int) -> IssuedToken:
        """Sign an access token for a user.

        Args:
            user_id: The user.

        Returns:
            The token and its expiry time.
        """
        now = self._clock()
        token = encode_token(self._secret, user_id, now=now, ttl=self._token_ttl)
        # The exp claim has whole seconds; report exactly what the token says.
        expires_at = datetime.fromtimestamp(int((now + self._token_ttl).timestamp()), UTC)
        return IssuedToken(token=token, expires_at=expires_at)

    async def authenticate_token(self, token: object) -> UserRecord:
        """Verify an access token and load its user (what the gateway calls on connect).

        Args:
            token: The token as received (from ``Authorization: Bearer`` or the socket ``auth``
                payload); non-strings are rejected.

        Returns:
            The authenticated user.

        Raises:
            TokenExpired: The token has expired.
            AuthenticationFailed: The token is malformed or forged, or its user no longer exists.
        """
        claims = decode_token(self._secret, token, now=self._clock())
        if not 1 <= claims.user_id <= MAX_ID:
            raise AuthenticationFailed("invalid token")
        async with self._sessionmaker() as session:
            user = await session.get(User, claims.user_id)
            if user is None:
                raise AuthenticationFailed("unknown user")
            return _user_record(user)

    async def get_user(self, user_id: object) -> UserRecord:
        """Load a user.

        Args:
            user_id: The user id.

        Returns:
            The user.

        Raises:
            InvalidInput: The id is not an integer.
            NotFound: No such user.
        """
        uid = _id(user_id, "user")
        async with self._sessionmaker() as session:
            return _user_record(await _get(session, User, uid, "user"))

    async def find_user(self, username: object) -> UserRecord | None:
        """Look a user up by username (any case).

        Args:
            username: The username.

        Returns:
            The user, or ``None`` if there is none (or the name is not a valid username).

        Raises:
            InvalidInput: The username is not a string.
        """
        if not isinstance(username, str):
            raise InvalidInput("username must be a string")
        name = username.strip().lower()
        if not _USERNAME_RE.fullmatch(name):
            return None
        async with self._sessionmaker() as session:
            user = await session.scalar(select(User).where(User.username == name))
            return None if user is None else _user_record(user)

    # ------------------------------------------------------------------ communities

    async def create_community(
        self, owner_id: object, name: object, description: object = ""
    ) -> CommunityRecord:
        """Create a community owned by a user, with a ``general`` channel the owner is in.

        Publishes :class:`CommunityCreated` then :class:`ChannelCreated`.

        Args:
            owner_id: The creating user, who becomes owner and first member.
            name: Unique name, 1 to ``limits.name_max_length`` characters.
            description: Free text up to ``limits.description_max_length`` characters.

        Returns:
            The community.

        Raises:
            InvalidInput: A value is malformed.
            NotFound: No such user.
            Conflict: The name is taken.
        """
        uid = _id(owner_id, "user")
        title = self._name(name)
        about = self._description(description, "description")
        now = self._clock()
        try:
            async with self._sessionmaker() as session, session.begin():
                await _get(session, User, uid, "user")
                if await session.scalar(select(Community.id).where(Community.name == title)):
                    raise Conflict(f"a community named {title!r} already exists")
                community = Community(name=title, description=about, owner_id=uid, created_at=now)
                session.add(community)
                await session.flush()
                session.add(
                    CommunityMember(
                        community_id=community.id, user_id=uid, role=Role.OWNER, joined_at=now
                    )
                )
                channel = Channel(
                    community_id=community.id,
                    name=DEFAULT_CHANNEL_NAME,
                    topic="",
                    created_by=uid,
                    created_at=now,
                )
                session.add(channel)
                await session.flush()
                session.add(ChannelMember(channel_id=channel.id, user_id=uid, joined_at=now))
                created = _community_record(community)
                first_channel = _channel_record(channel)
        except IntegrityError:
            raise Conflict(f"a community named {title!r} already exists") from None
        await self._publish(CommunityCreated(created), ChannelCreated(first_channel))
        return created

    async def get_community(self, community_id: object) -> CommunityRecord:
        """Load a community (public information: any user may see it).

        Args:
            community_id: The community.

        Returns:
            The community.

        Raises:
            InvalidInput: The id is not an integer.
            NotFound: No such community.
        """
        cid = _id(community_id, "community")
        async with self._sessionmaker() as session:
            return _community_record(await _get(session, Community, cid, "community"))

    async def find_community(self, name: object) -> CommunityRecord | None:
        """Look a community up by its exact name.

        Args:
            name: The name (surrounding blanks are ignored).

        Returns:
            The community, or ``None``.

        Raises:
            InvalidInput: The name is not a string.
        """
        if not isinstance(name, str):
            raise InvalidInput("name must be a string")
        if not _is_clean(name) or len(name) > 4 * self.limits.name_max_length:
            return None
        async with self._sessionmaker() as session:
            community = await session.scalar(
                select(Community).where(Community.name == name.strip())
            )
            return None if community is None else _community_record(community)

    async def update_community(
        self,
        user_id: object,
        community_id: object,
        *,
        name: object = None,
        description: object = None,
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
        uid = _id(user_id, "user")
        cid = _id(community_id, "community")
        title = None if name is None else self._name(name)
        about = None if description is None else self._description(description, "description")
        try:
            async with self._sessionmaker() as session, session.begin():
                community = await _get(session, Community, cid, "community")
                if community.owner_id != uid:
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
                record = _community_record(community)
        except IntegrityError:
            raise Conflict(f"a community named {title!r} already exists") from None
        if changed:
            await self._publish(CommunityUpdated(record))
        return record

    async def list_communities(
        self, *, after: object = None, limit: object = None
    ) -> list[CommunityRecord]:
        """List all communities by id, for discovery.

        Args:
            after: Return communities with a larger id than this (a cursor), or ``None``.
            limit: Page size, 1 to ``limits.list_max_limit`` (the default).

        Returns:
            Up to ``limit`` communities, oldest first.

        Raises:
            InvalidInput: A value is malformed.
        """
        size = self._page_size(limit, self.limits.list_max_limit, self.limits.list_max_limit)
        start = _cursor(after, "after")
        query = select(Community).order_by(Community.id).limit(size)
        if start is not None:
            query = query.where(Community.id > start)
        async with self._sessionmaker() as session:
            return [_community_record(c) for c in await session.scalars(query)]

    async def list_user_communities(self, user_id: object) -> list[CommunityRecord]:
        """List the communities a user is a member of, by id.

        Args:
            user_id: The user.

        Returns:
            The communities (empty for an unknown user).

        Raises:
            InvalidInput: The id is not an integer.
        """
        uid = _id(user_id, "user")
        query = (
            select(Community)
            .join(CommunityMember, CommunityMember.community_id == Community.id)
            .where(CommunityMember.user_id == uid)
            .order_by(Community.id)
        )
        async with self._sessionmaker() as session:
            return [_community_record(c) for c in await session.scalars(query)]

    async def is_community_member(self, user_id: object, community_id: object) -> bool:
        """Tell whether a user is a member of a community.

        Args:
            user_id: The user.
            community_id: The community.

        Returns:
            ``True`` if the membership exists (``False`` for unknown ids).

        Raises:
            InvalidInput: An id is not an integer.
        """
        uid, cid = _id_or_none(user_id, "user"), _id_or_none(community_id, "community")
        if uid is None or cid is None:
            return False
        async with self._sessionmaker() as session:
            return await session.get(CommunityMember, (cid, uid)) is not None

    async def join_community(self, user_id: object, community_id: object) -> MemberRecord:
        """Make a user a member of a community. Publishes :class:`MemberJoined`.

        Args:
            user_id: The user.
            community_id: The community.

        Returns:
            The new membership.

        Raises:
            InvalidInput: An id is not an integer.
            NotFound: No such user or community.
            Conflict: Already a member.
        """
        uid = _id(user_id, "user")
        cid = _id(community_id, "community")
        try:
            async with self._sessionmaker() as session, session.begin():
                user = await _get(session, User, uid, "user")
                await _get(session, Community, cid, "community")
                if await session.get(CommunityMember, (cid, uid)) is not None:
                    raise Conflict("already a member of this community")
                membership = CommunityMember(
                    community_id=cid, user_id=uid, role=Role.MEMBER, joined_at=self._clock()
                )
                session.add(membership)
                await session.flush()
                record = _member_record(membership, user)
        except IntegrityError:
            raise Conflict("already a member of this community") from None
        await self._publish(MemberJoined(record))
        return record

    async def leave_community(self, user_id: object, community_id: object) -> None:
        """Leave a community, and with it all its channels.

        Publishes :class:`MemberRemoved` with reason ``LEFT``.

        Args:
            user_id: The user.
            community_id: The community.

        Raises:
            InvalidInput: An id is not an integer.
            NotFound: No such community.
            Forbidden: Not a member.
            Conflict: The owner cannot leave their community.
        """
        uid = _id(user_id, "user")
        cid = _id(community_id, "community")
        event = await self._remove_membership(cid, uid, actor_id=uid, missing=Forbidden)
        await self._publish(event)

    async def remove_member(
        self, community_id: object, user_id: object, *, actor_id: object = None
    ) -> None:
        """Remove a user from a community, and from all its channels.

        Publishes :class:`MemberRemoved` (reason ``REMOVED``, or ``LEFT`` when the actor is the
        user), so that the gateway can take the user's sockets out of the rooms.

        Args:
            community_id: The community.
            user_id: The user to remove.
            actor_id: The user asking for it, who must be the owner (or the user themselves);
                ``None`` when the application itself removes the member (no permission check).

        Raises:
            InvalidInput: An id is not an integer.
            NotFound: No such community, or the user is not a member.
            Forbidden: The actor is not the owner.
            Conflict: The owner cannot be removed.
        """
        cid = _id(community_id, "community")
        uid = _id(user_id, "user")
        actor = None if actor_id is None else _id(actor_id, "user")
        event = await self._remove_membership(cid, uid, actor_id=actor, missing=NotFound)
        await self._publish(event)

    async def _remove_membership(
        self, cid: int, uid: int, *, actor_id: int | None, missing: type[NotFound | Forbidden]
    ) -> MemberRemoved:
        async with self._sessionmaker() as session, session.begin():
            community = await _get(session, Community, cid, "community")
            if actor_id is not None and actor_id != uid and community.owner_id != actor_id:
                raise Forbidden("only the owner can remove members")
            # Write-lock the membership before reading the channel memberships: a concurrent
            # join_channel/create_channel holds a share lock on it until it commits.
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

    async def list_members(
        self, user_id: object, community_id: object, *, after: object = None, limit: object = None
    ) -> list[MemberRecord]:
        """List the members of a community (members only), by user id.

        Args:
            user_id: The asking user.
            community_id: The community.
            after: Return members with a larger user id than this (a cursor), or ``None``.
            limit: Page size, 1 to ``limits.list_max_limit`` (the default).

        Returns:
            The memberships.

        Raises:
            InvalidInput: A value is malformed.
            NotFound: No such community.
            Forbidden: The asking user is not a member.
        """
        uid = _id(user_id, "user")
        cid = _id(community_id, "community")
        size = self._page_size(limit, self.limits.list_max_limit, self.limits.list_max_limit)
        start = _cursor(after, "after")
        async with self._sessionmaker() as session:
            await self._require_member(session, cid, uid)
            query = (
                select(CommunityMember, User)
                .join(User, User.id == CommunityMember.user_id)
                .where(CommunityMember.community_id == cid)
                .order_by(CommunityMember.user_id)
                .limit(size)
            )
            if start is not None:
                query = query.where(CommunityMember.user_id > start)
            rows = (await session.execute(query)).all()
            return [_member_record(membership, user) for membership, user in rows]

    # ------------------------------------------------------------------ channels

    async def create_channel(
        self, user_id: object, community_id: object, name: object, topic: object = ""
    ) -> ChannelRecord:
        """Create a channel in a community (any member may); the creator joins it.

        Publishes :class:`ChannelCreated`.

        Args:
            user_id: The creating user.
            community_id: The community.
            name: Lower-cased, blanks turned into ``-``; then letters, digits, ``_`` and ``-``
                only, unique in the community.
            topic: Free text up to ``limits.description_max_length`` characters.

        Returns:
            The channel.

        Raises:
            InvalidInput: A value is malformed.
            NotFound: No such community.
            Forbidden: The user is not a member.
            Conflict: The name is taken in this community.
        """
        uid = _id(user_id, "user")
        cid = _id(community_id, "community")
        title = self._channel_name(name)
        about = self._description(topic, "topic")
        now = self._clock()
        try:
            async with self._sessionmaker() as session, session.begin():
                await self._require_member(session, cid, uid, lock=True)
                taken = await session.scalar(
                    select(Channel.id).where(Channel.community_id == cid, Channel.name == title)
                )
                if taken:
                    raise Conflict(f"a channel named {title!r} already exists here")
                channel = Channel(
                    community_id=cid, name=title, topic=about, created_by=uid, created_at=now
                )
                session.add(channel)
                await session.flush()
                session.add(ChannelMember(channel_id=channel.id, user_id=uid, joined_at=now))
                record = _channel_record(channel)
        except IntegrityError:
            raise Conflict(f"a channel named {title!r} already exists here") from None
        await self._publish(ChannelCreated(record))
        return record

    async def get_channel(self, user_id: object, channel_id: object) -> ChannelRecord:
        """Load a channel (community members only).

        Args:
            user_id: The asking user.
            channel_id: The channel.

        Returns:
            The channel.

        Raises:
            InvalidInput: An id is not an integer.
            NotFound: No such channel.
            Forbidden: Not a member of the channel's community.
        """
        uid = _id(user_id, "user")
        chid = _id(channel_id, "channel")
        async with self._sessionmaker() as session:
            channel = await _get(session, Channel, chid, "channel")
            await self._require_member(session, channel.community_id, uid)
            return _channel_record(channel)

    async def list_community_channels(
        self, user_id: object, community_id: object
    ) -> list[ChannelRecord]:
        """List the channels of a community (community members only), by id.

        Args:
            user_id: The asking user.
            community_id: The community.

        Returns:
            The channels.

        Raises:
            InvalidInput: An id is not an integer.
            NotFound: No such community.
            Forbidden: Not a member.
        """
        uid = _id(user_id, "user")
        cid = _id(community_id, "community")
        async with self._sessionmaker() as session:
            await self._require_member(session, cid, uid)
            query = select(Channel).where(Channel.community_id == cid).order_by(Channel.id)
            return [_channel_record(c) for c in await session.scalars(query)]

    async def list_user_channels(
        self, user_id: object, community_id: object = None
    ) -> list[ChannelRecord]:
        """List the channels a user is a member of (e.g. the rooms to join on connect), by id.

        Args:
            user_id: The user.
            community_id: Only this community's channels, or all when ``None``.

        Returns:
            The channels.

        Raises:
            InvalidInput: An id is not an integer.
        """
        uid = _id(user_id, "user")
        query = (
            select(Channel)
            .join(ChannelMember, ChannelMember.channel_id == Channel.id)
            .where(ChannelMember.user_id == uid)
            .order_by(Channel.id)
        )
        if community_id is not None:
            query = query.where(Channel.community_id == _id(community_id, "community"))
        async with self._sessionmaker() as session:
            return [_channel_record(c) for c in await session.scalars(query)]

    async def is_channel_member(self, user_id: object, channel_id: object) -> bool:
        """Tell whether a user is a member of a channel.

        Args:
            user_id: The user.
            channel_id: The channel.

        Returns:
            ``True`` if the membership exists (``False`` for unknown ids).

        Raises:
            InvalidInput: An id is not an integer.
        """
        uid, chid = _id_or_none(user_id, "user"), _id_or_none(channel_id, "channel")
        if uid is None or chid is None:
            return False
        async with self._sessionmaker() as session:
            return await session.get(ChannelMember, (chid, uid)) is not None

    async def join_channel(
        self, user_id: object, channel_id: object, *, community_id: object = None
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
            InvalidInput: An id is not an integer.
            NotFound: No such channel.
            Forbidden: Not a member of the channel's community.
            InvalidInput: The channel is not in ``community_id``.
            Conflict: Already a member of the channel.
        """
        uid = _id(user_id, "user")
        chid = _id(channel_id, "channel")
        expected = None if community_id is None else _id(community_id, "community")
        try:
            record = await self.writer.run(partial(self._join_channel, uid, chid, expected))
        except IntegrityError:
            raise Conflict("already a member of this channel") from None
        await self._publish(ChannelMemberJoined(channel=record, user_id=uid))
        return record

    def _join_channel(
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
            _ADD_CHANNEL_MEMBER, {"channel_id": chid, "user_id": uid, "joined_at": self._clock()}
        )
        return record

    async def leave_channel(self, user_id: object, channel_id: object) -> ChannelRecord:
        """Leave a channel. Publishes :class:`ChannelMemberRemoved` with reason ``LEFT``.

        Args:
            user_id: The user.
            channel_id: The channel.

        Returns:
            The channel.

        Raises:
            InvalidInput: An id is not an integer.
            NotFound: No such channel.
            Forbidden: Not a member of the channel.
        """
        uid = _id(user_id, "user")
        chid = _id(channel_id, "channel")
        async with self._sessionmaker() as session, session.begin():
            channel = await _get(session, Channel, chid, "channel")
            membership = await session.get(ChannelMember, (chid, uid))
            if membership is None:
                raise Forbidden("not a member of this channel")
            await session.delete(membership)
            record = _channel_record(channel)
        await self._publish(
            ChannelMemberRemoved(channel=record, user_id=uid, reason=RemovalReason.LEFT)
        )
        return record

    # ------------------------------------------------------------------ messages

    async def create_message(
        self,
        user_id: object,
        channel_id: object,
        body: object,
        client_id: object = None,
        *,
        membership: Membership | None = None,
    ) -> PostedMessage:
        """Store a message from a channel member.

        Idempotent on ``(user_id, client_id)``: when a message with this ``client_id`` from this
        user is already stored (an earlier call, a retry after a lost ack, a concurrent
        duplicate), it is returned with ``created=False`` and nothing new is stored or
        published. Otherwise publishes :class:`MessageCreated`.

        Args:
            user_id: The author.
            channel_id: The channel.
            body: Text, 1 to ``limits.message_max_length`` characters, not only blanks.
            client_id: The sender's idempotency key (1 to ``limits.client_id_max_length``
                printable characters), or ``None`` for none.
            membership: The caller's word that the user is a member of the channel (the
                gateway knows it from the socket's rooms); the database is asked otherwise.

        Returns:
            The stored message (with its id and creation time) and whether this call stored it.
            It is returned once committed; messages posted at the same time share one
            transaction (see :class:`community.message_log.MessageLog`).

        Raises:
            InvalidInput: A value is malformed.
            NotFound: No such channel.
            Forbidden: Not a member of the channel.
            Conflict: ``client_id`` was already used by this user for a message in another
                channel.
        """
        uid = _id(user_id, "user")
        chid = _id(channel_id, "channel")
        text = self._body(body)
        key = None if client_id is None else self._client_id(client_id)
        posted = await self.messages.post(uid, chid, text, key, membership)
        if posted.created:
            await self._publish(MessageCreated(posted.message))
        return posted

    async def get_message(self, user_id: object, message_id: object) -> MessageRecord:
        """Load one message (channel members only; deleted messages are not found).

        Args:
            user_id: The asking user.
            message_id: The message.

        Returns:
            The message.

        Raises:
            InvalidInput: An id is not an integer.
            NotFound: No such message, or it was deleted.
            Forbidden: Not a member of its channel.
        """
        uid = _id(user_id, "user")
        mid = _id(message_id, "message")
        async with self._sessionmaker() as session:
            message, community_id, username = await _load_message(session, mid)
            if await session.get(ChannelMember, (message.channel_id, uid)) is None:
                raise Forbidden("not a member of this channel")
            return _message_record(message, community_id, username)

    async def edit_message(
        self, user_id: object, message_id: object, body: object
    ) -> MessageRecord:
        """Change the body of one's own message (while still in its channel).

        Publishes :class:`MessageEdited`.

        Args:
            user_id: The acting user, who must be the author.
            message_id: The message.
            body: New text, same rules as in :meth:`create_message`.

        Returns:
            The message after the edit.

        Raises:
            InvalidInput: A value is malformed.
            NotFound: No such message, or it was deleted.
            Forbidden: Not the author, or no longer a member of the channel.
        """
        uid = _id(user_id, "user")
        mid = _id(message_id, "message")
        text = self._body(body)
        record = await self.writer.run(partial(self._edit, uid, mid, text))
        await self._publish(MessageEdited(record))
        return record

    def _edit(self, uid: int, mid: int, text: str, connection: Connection) -> MessageRecord:
        edited_at = self._clock()
        if connection.dialect.name == "sqlite":
            # The hot path on SQLite: the driver's cursor directly, inside the writer's
            # transaction (SQLAlchemy's execution layer costs ~70 µs per edit, 10x the
            # statements themselves).
            cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                found = cursor.execute(_SQLITE_MESSAGE_FOR_EDIT, (uid, mid)).fetchone()
                row = None if found is None else _EditRow(*found)
                if row is not None:
                    row = row._replace(created_at=from_sqlite_time(row.created_at))
                self._check_edit(row, uid)
                assert row is not None
                cursor.execute(_SQLITE_EDIT_MESSAGE, (text, to_sqlite_time(edited_at), mid))
            finally:
                cursor.close()
        else:
            found = connection.execute(_MESSAGE_FOR_EDIT, {"uid": uid, "mid": mid}).first()
            row = None if found is None else _EditRow(*found)
            self._check_edit(row, uid)
            assert row is not None
            connection.execute(_EDIT_MESSAGE, {"mid": mid, "body": text, "edited_at": edited_at})
        return MessageRecord(
            id=mid,
            channel_id=row.channel_id,
            community_id=row.community_id,
            author_id=uid,
            author_username=row.username,
            body=text,
            client_id=row.client_id,
            created_at=row.created_at,
            edited_at=edited_at,
            deleted=False,
        )

    @staticmethod
    def _check_edit(row: _EditRow | None, uid: int) -> None:
        if row is None or row.deleted_at is not None:
            raise NotFound("unknown message")
        if row.author_id != uid:
            raise Forbidden("only the author can edit a message")
        if row.member is None:
            raise Forbidden("not a member of this channel")

    async def delete_message(self, user_id: object, message_id: object) -> MessageRecord:
        """Delete one's own message: its body is erased and it leaves the history.

        Its ``client_id`` stays reserved, so a late retry of the original send does not bring
        it back. Publishes :class:`MessageDeleted`.

        Args:
            user_id: The acting user, who must be the author.
            message_id: The message.

        Returns:
            The message as deleted (empty body, ``deleted=True``).

        Raises:
            InvalidInput: An id is not an integer.
            NotFound: No such message, or it was already deleted.
            Forbidden: Not the author.
        """
        uid = _id(user_id, "user")
        mid = _id(message_id, "message")
        async with self._sessionmaker() as session, session.begin():
            message, community_id, username = await _load_message(session, mid)
            if message.author_id != uid:
                raise Forbidden("only the author can delete a message")
            message.body = ""
            message.deleted_at = self._clock()
            await session.flush()
            record = _message_record(message, community_id, username)
        await self._publish(
            MessageDeleted(
                message_id=record.id,
                channel_id=record.channel_id,
                community_id=record.community_id,
                author_id=record.author_id,
            )
        )
        return record

    async def message_history(
        self, user_id: object, channel_id: object, *, before: object = None, limit: object = None
    ) -> HistoryPage:
        """Read a channel's history, newest first, one page at a time (channel members only).

        Pass the returned ``next_before`` as ``before`` to get the next, older page; it is
        ``None`` once the oldest message has been returned. Messages stored meanwhile do not
        shift the pages (the cursor is a message id, not an offset).

        Args:
            user_id: The asking user.
            channel_id: The channel.
            before: Only messages with a smaller id than this, or ``None`` for the newest.
            limit: Page size, 1 to ``limits.history_max_limit``; default
                ``limits.history_default_limit``.

        Returns:
            The page.

        Raises:
            InvalidInput: A value is malformed.
            NotFound: No such channel.
            Forbidden: Not a member of the channel.
        """
        uid = _id(user_id, "user")
        chid = _id(channel_id, "channel")
        size = self._page_size(
            limit, self.limits.history_default_limit, self.limits.history_max_limit
        )
        cursor = _cursor(before, "before")
        async with self._sessionmaker() as session:
            channel = await _get(session, Channel, chid, "channel")
            if await session.get(ChannelMember, (chid, uid)) is None:
                raise Forbidden("not a member of this channel")
            query = (
                select(Message, User.username)
                .join(User, User.id == Message.author_id)
                .where(Message.channel_id == chid, Message.deleted_at.is_(None))
                .order_by(Message.id.desc())
                .limit(size + 1)
            )
            if cursor is not None:
                query = query.where(Message.id < cursor)
            rows = (await session.execute(query)).all()
        messages = tuple(
            _message_record(message, channel.community_id, username)
            for message, username in rows[:size]
        )
        next_before = messages[-1].id if len(rows) > size else None
        return HistoryPage(messages=messages, next_before=next_before)

    # ------------------------------------------------------------------ helpers

    async def _publish(self, *events: CommunityEvent) -> None:
        await self.events.publish(*events)

    async def _require_member(
        self, session: AsyncSession, cid: int, uid: int, *, lock: bool = False
    ) -> Community:
        community = await _get(session, Community, cid, "community")
        # With lock=True the membership row is share-locked until commit (PostgreSQL; SQLite
        # transactions are serialized anyway), so that a concurrent leave/removal, which
        # write-locks it first, cannot miss a channel membership being added meanwhile.
        found = await session.get(
            CommunityMember, (cid, uid), with_for_update={"read": True} if lock else None
        )
        if found is None:
            raise Forbidden("not a member of this community")
        return community

    def _password(self, value: object) -> str:
        if not isinstance(value, str):
            raise InvalidInput("password must be a string")
        low, high = self.limits.password_min_length, self.limits.password_max_length
        if not low <= len(value) <= high:
            raise InvalidInput(f"password must be {low} to {high} characters long")
        if not _is_clean(value):
            raise InvalidInput("password contains characters that cannot be stored")
        return value

    def _name(self, value: object) -> str:
        return _text(
            value, "name", min_length=1, max_length=self.limits.name_max_length, single_line=True
        )

    def _channel_name(self, value: object) -> str:
        if not isinstance(value, str):
            raise InvalidInput("name must be a string")
        name = "-".join(value.lower().split())
        name = _text(name, "name", min_length=1, max_length=self.limits.name_max_length)
        if not _CHANNEL_NAME_RE.fullmatch(name):
            raise InvalidInput("channel names may hold only letters, digits, '_' and '-'")
        return name

    def _description(self, value: object, what: str) -> str:
        return _text(
            value,
            what,
            min_length=0,
            max_length=self.limits.description_max_length,
            strip=True,
        )

    def _body(self, value: object) -> str:
        if not isinstance(value, str):
            raise InvalidInput("body must be a string")
        if not value.strip():
            raise InvalidInput("body must not be empty")
        return _text(
            value, "body", min_length=1, max_length=self.limits.message_max_length, strip=False
        )

    def _client_id(self, value: object) -> str:
        return _text(
            value,
            "client_id",
            min_length=1,
            max_length=self.limits.client_id_max_length,
            strip=False,
            single_line=True,
        )

    def _page_size(self, value: object, default: int, maximum: int) -> int:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput("limit must be an integer")
        if not 1 <= value <= maximum:
            raise InvalidInput(f"limit must be between 1 and {maximum}")
        return value


# ---------------------------------------------------------------------- module helpers


def _is_clean(value: str) -> bool:
    """Whether a string can be stored everywhere: no NUL (PostgreSQL text rejects it) and no
    lone surrogates (they cannot be encoded as UTF-8)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text(
    value: object,
    what: str,
    *,
    min_length: int,
    max_length: int,
    strip: bool = True,
    single_line: bool = False,
) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string")
    if strip:
        value = value.strip()
    if not _is_clean(value):
        raise InvalidInput(f"{what} contains characters that cannot be stored")
    if single_line and _CONTROL_RE.search(value):
        raise InvalidInput(f"{what} must not contain control characters")
    if not min_length <= len(value) <= max_length:
        if min_length == 1 and not value:
            raise InvalidInput(f"{what} must not be empty")
        raise InvalidInput(f"{what} must be at most {max_length} characters long")
    return value


def _username(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput("username must be a string")
    name = value.strip().lower()
    if not _USERNAME_RE.fullmatch(name):
        raise InvalidInput(
            "username must be 3 to 32 characters: letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return name


def _id_or_none(value: object, what: str) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} id must be an integer")
    return value if 1 <= value <= MAX_ID else None


def _id(value: object, what: str) -> int:
    checked = _id_or_none(value, what)
    if checked is None:
        raise NotFound(f"unknown {what}")
    return checked


def _cursor(value: object, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} must be an integer")
    # Any integer is a valid cursor; clamp so the database never sees an out-of-range number.
    return max(0, min(value, MAX_ID))


_Row = TypeVar("_Row", User, Community, Channel)


async def _get(session: AsyncSession, model: type[_Row], key: int, what: str) -> _Row:
    found = await session.get(model, key)
    if found is None:
        raise NotFound(f"unknown {what}")
    return found


async def _load_message(session: AsyncSession, mid: int) -> tuple[Message, int, str]:
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


def _user_record(user: User) -> UserRecord:
    return UserRecord(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        created_at=user.created_at,
    )


def _community_record(community: Community) -> CommunityRecord:
    return CommunityRecord(
        id=community.id,
        name=community.name,
        description=community.description,
        owner_id=community.owner_id,
        created_at=community.created_at,
    )


def _member_record(membership: CommunityMember, user: User) -> MemberRecord:
    return MemberRecord(
        community_id=membership.community_id,
        user_id=membership.user_id,
        username=user.username,
        display_name=user.display_name,
        role=Role(membership.role),
        joined_at=membership.joined_at,
    )


def _channel_record(channel: Channel) -> ChannelRecord:
    return ChannelRecord(
        id=channel.id,
        community_id=channel.community_id,
        name=channel.name,
        topic=channel.topic,
        created_by=channel.created_by,
        created_at=channel.created_at,
    )


def _message_record(message: Message, community_id: int, username: str) -> MessageRecord:
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
