"""Messages: posting (through :class:`~community.message_log.MessageLog`'s group commits),
reading, editing, deleting, and a channel's history page by page.

Posting and editing are the gateway's hot path: posts are batched by the log, and an edit is
one work of the group-commit :class:`~community.writer.Writer` (on SQLite straight on the
driver's cursor).
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from community.db import from_sqlite_time, to_sqlite_time
from community.errors import Forbidden, NotFound
from community.events import MessageCreated, MessageDeleted, MessageEdited
from community.message_log import Membership, MessageLog
from community.models import Channel, ChannelMember, Message, User
from community.records import HistoryPage, MessageRecord, PostedMessage
from community.services.context import ServiceContext
from community.services.rows import get_row, load_message, message_record
from community.services.rules import TextRules

__all__ = ["Messages"]

# Statements of the edits, built once (SQLAlchemy caches their compiled form).
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
# The same two statements for SQLite's driver (see Messages._edit); times are stored as
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


class Messages:
    """The messages of the channels.

    Args:
        context: The shared collaborators.
        log: Where posts are stored (in group commits).
    """

    def __init__(self, context: ServiceContext, log: MessageLog) -> None:
        self._context = context
        self._rules = TextRules(context.limits)
        self._log = log

    async def post(
        self,
        user_id: int,
        channel_id: int,
        body: str,
        client_id: str | None = None,
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
        text = self._rules.body(body)
        key = None if client_id is None else self._rules.client_id(client_id)
        posted = await self._log.post(user_id, channel_id, text, key, membership)
        if posted.created:
            await self._context.publish(MessageCreated(posted.message))
        return posted

    async def get(self, user_id: int, message_id: int) -> MessageRecord:
        """Load one message (channel members only; deleted messages are not found).

        Raises:
            NotFound: No such message, or it was deleted.
            Forbidden: Not a member of its channel.
        """
        async with self._context.sessionmaker() as session:
            message, community_id, username = await load_message(session, message_id)
            if await session.get(ChannelMember, (message.channel_id, user_id)) is None:
                raise Forbidden("not a member of this channel")
            return message_record(message, community_id, username)

    async def edit(self, user_id: int, message_id: int, body: str) -> MessageRecord:
        """Change the body of one's own message (while still in its channel).

        Publishes :class:`MessageEdited`.

        Args:
            user_id: The acting user, who must be the author.
            message_id: The message.
            body: New text, same rules as in :meth:`post`.

        Returns:
            The message after the edit.

        Raises:
            InvalidInput: The body is malformed.
            NotFound: No such message, or it was deleted.
            Forbidden: Not the author, or no longer a member of the channel.
        """
        text = self._rules.body(body)
        record = await self._context.writer.run(partial(self._edit, user_id, message_id, text))
        await self._context.publish(MessageEdited(record))
        return record

    def _edit(self, uid: int, mid: int, text: str, connection: Connection) -> MessageRecord:
        edited_at = self._context.clock()
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
                _check_edit(row, uid)
                assert row is not None
                cursor.execute(_SQLITE_EDIT_MESSAGE, (text, to_sqlite_time(edited_at), mid))
            finally:
                cursor.close()
        else:
            found = connection.execute(_MESSAGE_FOR_EDIT, {"uid": uid, "mid": mid}).first()
            row = None if found is None else _EditRow(*found)
            _check_edit(row, uid)
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

    async def delete(self, user_id: int, message_id: int) -> MessageRecord:
        """Delete one's own message: its body is erased and it leaves the history.

        Its ``client_id`` stays reserved, so a late retry of the original send does not bring
        it back. Publishes :class:`MessageDeleted`.

        Returns:
            The message as deleted (empty body, ``deleted=True``).

        Raises:
            NotFound: No such message, or it was already deleted.
            Forbidden: Not the author.
        """
        async with self._context.sessionmaker() as session, session.begin():
            message, community_id, username = await load_message(session, message_id)
            if message.author_id != user_id:
                raise Forbidden("only the author can delete a message")
            message.body = ""
            message.deleted_at = self._context.clock()
            await session.flush()
            record = message_record(message, community_id, username)
        await self._context.publish(
            MessageDeleted(
                message_id=record.id,
                channel_id=record.channel_id,
                community_id=record.community_id,
                author_id=record.author_id,
            )
        )
        return record

    async def history(
        self,
        user_id: int,
        channel_id: int,
        *,
        before: int | None = None,
        limit: int | None = None,
    ) -> HistoryPage:
        """Read a channel's history, newest first, one page at a time (channel members only).

        Pass the returned ``next_before`` as ``before`` to get the next, older page; it is
        ``None`` once the oldest message has been returned. Messages stored meanwhile do not
        shift the pages (the cursor is a message id, not an offset).

        Args:
            user_id: The asking user.
            channel_id: The channel.
            before: Only messages with a smaller id than this, or ``None`` for the newest.
            limit: Page size, at most ``limits.history_max_limit``; default
                ``limits.history_default_limit``.

        Raises:
            InvalidInput: The page size is too large.
            NotFound: No such channel.
            Forbidden: Not a member of the channel.
        """
        limits = self._context.limits
        size = self._rules.page_size(limit, limits.history_default_limit, limits.history_max_limit)
        async with self._context.sessionmaker() as session:
            channel = await get_row(session, Channel, channel_id, "channel")
            if await session.get(ChannelMember, (channel_id, user_id)) is None:
                raise Forbidden("not a member of this channel")
            query = (
                select(Message, User.username)
                .join(User, User.id == Message.author_id)
                .where(Message.channel_id == channel_id, Message.deleted_at.is_(None))
                .order_by(Message.id.desc())
                .limit(size + 1)
            )
            if before is not None:
                query = query.where(Message.id < before)
            rows = (await session.execute(query)).all()
        messages = tuple(
            message_record(message, channel.community_id, username)
            for message, username in rows[:size]
        )
        next_before = messages[-1].id if len(rows) > size else None
        return HistoryPage(messages=messages, next_before=next_before)


def _check_edit(row: _EditRow | None, uid: int) -> None:
    if row is None or row.deleted_at is not None:
        raise NotFound("unknown message")
    if row.author_id != uid:
        raise Forbidden("only the author can edit a message")
    if row.member is None:
        raise Forbidden("not a member of this channel")
