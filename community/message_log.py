"""Storing chat messages with group commit: the gateway's hot path.

:class:`MessageLog` owns every insert into ``messages``. Posts that arrive while the log is idle
are stored together on the next turn of the event loop, and posts that arrive while a batch is
being written wait for the next one, so under load many messages share one transaction: one
idempotency lookup for the whole batch, one multi-row ``INSERT ... RETURNING``, one commit.
Every post's result is handed back only after that commit (a message is stored before anyone
is told so); batches are cut in arrival order (:class:`community.batches.Batches`), so no post
waits behind a later one.

A batch is one work of the :class:`community.writer.Writer` (so it may share its transaction
with other frequent writes). The statements are SQLAlchemy Core constructs built once at
import time, so their compiled form comes from SQLAlchemy's statement cache; no ORM object is
made.

Membership: a caller that already knows the author is a member of the channel (the gateway
knows it from the rooms the socket is in, which membership removals update at once) passes a
:class:`Membership` and no membership query is made; otherwise the batch reads the channel's
community, the membership and the author's name in its own transaction.

Idempotency on ``(author_id, client_id)``: a key already stored, or seen earlier in the same
batch, gives back the stored message with ``created=False``. A concurrent writer in another
process that stores the same key first makes the batch's insert fail; the batch is then
written again one post at a time, each finding the other writer's message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Final

from sqlalchemy import bindparam, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from community.batches import Batches
from community.db import from_sqlite_time, to_sqlite_time
from community.errors import CommunityError, Conflict, Forbidden, NotFound
from community.models import Channel, ChannelMember, Message, User
from community.records import MessageRecord, PostedMessage
from community.writer import Writer

__all__ = ["DEFAULT_MAX_BATCH", "MessageLog", "Membership"]

DEFAULT_MAX_BATCH: Final = 256
"""Most messages written in one transaction (5 bound values each)."""

_INSERT = insert(Message).returning(Message.id, sort_by_parameter_order=True)

_FIND_KEYS = (
    select(
        Message.id,
        Message.author_id,
        Message.client_id,
        Message.channel_id,
        Message.body,
        Message.created_at,
        Message.edited_at,
        Message.deleted_at,
        Channel.community_id,
        User.username,
    )
    .join(Channel, Channel.id == Message.channel_id)
    .join(User, User.id == Message.author_id)
    .where(
        # Two plain IN lists (a superset of the pairs, filtered in Python): SQLite does not
        # use the (author_id, client_id) index for a row-value IN and would scan the table.
        Message.author_id.in_(bindparam("authors", expanding=True)),
        Message.client_id.in_(bindparam("keys", expanding=True)),
    )
)

_CONTEXT = (
    select(Channel.community_id, ChannelMember.user_id, User.username)
    .select_from(Channel)
    .outerjoin(
        ChannelMember,
        (ChannelMember.channel_id == Channel.id) & (ChannelMember.user_id == bindparam("uid")),
    )
    .outerjoin(User, User.id == bindparam("uid"))
    .where(Channel.id == bindparam("chid"))
)


# On SQLite the batch's lookup and inserts are given to the ``sqlite3`` driver directly, inside
# the writer's transaction: SQLAlchemy's execution layer costs several times the statements.
_SQLITE_FIND_KEYS = (
    "SELECT m.id, m.author_id, m.client_id, m.channel_id, m.body, m.created_at, m.edited_at, "
    "m.deleted_at, c.community_id, u.username FROM messages AS m "
    "JOIN channels AS c ON c.id = m.channel_id JOIN users AS u ON u.id = m.author_id "
    "WHERE m.author_id IN ({authors}) AND m.client_id IN ({keys})"
)
_SQLITE_INSERT = (
    "INSERT INTO messages (channel_id, author_id, body, client_id, created_at) "
    "VALUES (?, ?, ?, ?, ?) RETURNING id"
)


def _sqlite_cursor(connection: Connection) -> Any:
    return connection.connection.driver_connection.cursor()  # type: ignore[union-attr]


def _sqlite_find_keys(
    connection: Connection, authors: list[int], keys: list[str]
) -> list[tuple[Any, ...]]:
    sql = _SQLITE_FIND_KEYS.format(
        authors=", ".join("?" * len(authors)), keys=", ".join("?" * len(keys))
    )
    cursor = _sqlite_cursor(connection)
    try:
        rows = cursor.execute(sql, (*authors, *keys)).fetchall()
    finally:
        cursor.close()
    return [
        (
            *row[:5],
            from_sqlite_time(row[5]),
            None if row[6] is None else from_sqlite_time(row[6]),
            row[7],
            *row[8:],
        )
        for row in rows
    ]


def _sqlite_insert(connection: Connection, rows: list[dict[str, Any]]) -> list[int]:
    cursor = _sqlite_cursor(connection)
    ids: list[int] = []
    try:
        for row in rows:
            values = (
                row["channel_id"],
                row["author_id"],
                row["body"],
                row["client_id"],
                to_sqlite_time(row["created_at"]),
            )
            ids.append(cursor.execute(_SQLITE_INSERT, values).fetchone()[0])
    finally:
        cursor.close()
    return ids


@dataclass(frozen=True, slots=True)
class Membership:
    """What a caller vouches for: the author is a member of the channel.

    Attributes:
        community_id: The channel's community.
        username: The author's username.
    """

    community_id: int
    username: str


@dataclass(slots=True)
class _Post:
    author_id: int
    channel_id: int
    body: str
    client_id: str | None
    membership: Membership | None
    future: asyncio.Future[PostedMessage]
    # Filled while the batch is written.
    context: Membership | None = None
    outcome: PostedMessage | CommunityError | None = None
    twin_of: _Post | None = field(default=None, repr=False)


class MessageLog:
    """Writes messages in group commits.

    Args:
        writer: The group-commit writer the batches run on.
        clock: Returns the current aware UTC time.
        max_batch: Most posts per transaction.
        concurrency: Most message batches in flight at once. By default two when the writer
            writes batches one after the other (SQLite: the next batch is written while the
            loop answers the previous one; each still sees the one before committed), else
            one: two overlapping transactions could hold the same key (concurrent
            duplicates), and the second would wait for the first's commit, fail on the unique
            index and be written again one post at a time. (The writer still overlaps a
            message batch with other writes there.)

    Attributes:
        batches: Batches written so far (for tests and monitoring).
    """

    def __init__(
        self,
        writer: Writer,
        clock: Callable[[], datetime],
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        concurrency: int | None = None,
    ) -> None:
        self._db_writer = writer
        self._clock = clock
        if concurrency is None:
            concurrency = 2 if writer.serial else 1
        self._batches: Batches[_Post] = Batches(
            self._write_batch, max_batch=max_batch, concurrency=concurrency
        )
        self.batches = 0

    async def post(
        self,
        author_id: int,
        channel_id: int,
        body: str,
        client_id: str | None,
        membership: Membership | None = None,
    ) -> PostedMessage:
        """Store a message (arguments already validated) and return it once committed.

        Args:
            author_id: The author.
            channel_id: The channel.
            body: The text.
            client_id: The idempotency key, or ``None``.
            membership: The caller's word that the author is a member of the channel, or
                ``None`` to have it checked.

        Returns:
            The stored message, and whether this call stored it.

        Raises:
            NotFound: No such channel (only checked without ``membership``).
            Forbidden: Not a member of the channel (idem).
            Conflict: ``client_id`` was used for a message in another channel, or a
                concurrent writer kept the message from being stored.
        """
        loop = asyncio.get_running_loop()
        post = _Post(author_id, channel_id, body, client_id, membership, loop.create_future())
        self._batches.add(post)
        return await asyncio.shield(post.future)

    async def _write_batch(self, batch: list[_Post]) -> None:
        await self._write(batch)
        for post in batch:
            outcome = post.outcome
            if post.future.done():
                continue
            if isinstance(outcome, PostedMessage):
                post.future.set_result(outcome)
            else:
                assert outcome is not None
                post.future.set_exception(outcome)
                post.future.exception()

    async def _write(self, batch: list[_Post]) -> None:
        try:
            await self._transaction(batch)
        except IntegrityError:
            # Another writer stored one of the keys meanwhile (or a row went away): write
            # the posts one at a time, so that each gets its own answer.
            for post in batch:
                post.outcome = post.context = None
                post.twin_of = None
                try:
                    await self._transaction([post])
                except IntegrityError:
                    post.outcome = None
                    await self._transaction([post], insert_new=False)
                    if post.outcome is None:
                        post.outcome = Conflict("the message could not be stored; try again")

    async def _transaction(self, batch: list[_Post], *, insert_new: bool = True) -> None:
        await self._db_writer.run(partial(self._store, batch, insert_new))
        self.batches += 1

    def _store(self, batch: list[_Post], insert_new: bool, connection: Connection) -> None:
        for post in batch:
            post.outcome = post.context = post.twin_of = None
        # A retry finds its message even if the author has left the channel since.
        self._find_stored(connection, batch)
        self._check_context(connection, batch)
        if insert_new:
            self._insert(connection, batch)

    def _check_context(self, connection: Connection, batch: list[_Post]) -> None:
        for post in batch:
            if post.outcome is not None:
                continue
            if post.membership is not None:
                post.context = post.membership
                continue
            row = connection.execute(
                _CONTEXT, {"uid": post.author_id, "chid": post.channel_id}
            ).first()
            if row is None:
                post.outcome = NotFound("unknown channel")
            elif row[1] is None or row[2] is None:
                post.outcome = Forbidden("not a member of this channel")
            else:
                post.context = Membership(community_id=row[0], username=row[2])

    def _find_stored(self, connection: Connection, batch: list[_Post]) -> None:
        keyed = [p for p in batch if p.client_id is not None]
        if not keyed:
            return
        first: dict[tuple[int, str], _Post] = {}
        for post in keyed:
            assert post.client_id is not None
            key = (post.author_id, post.client_id)
            if key in first:
                post.twin_of = first[key]
            else:
                first[key] = post
        authors = sorted({a for a, _ in first})
        keys = sorted({k for _, k in first})
        rows: Any
        if connection.dialect.name == "sqlite":
            rows = _sqlite_find_keys(connection, authors, keys)
        else:
            rows = connection.execute(_FIND_KEYS, {"authors": authors, "keys": keys})
        for row in rows:
            if (row[1], row[2]) not in first:
                continue
            mid, author_id, client_id, channel_id, body, created_at, edited_at = row[:7]
            deleted_at, community_id, username = row[7:]
            for post in keyed:
                if post.author_id != author_id or post.client_id != client_id:
                    continue
                if post.channel_id != channel_id:
                    post.outcome = Conflict(
                        "client_id was already used for a message in another channel"
                    )
                    continue
                record = MessageRecord(
                    id=mid,
                    channel_id=channel_id,
                    community_id=community_id,
                    author_id=author_id,
                    author_username=username,
                    body=body,
                    client_id=client_id,
                    created_at=created_at,
                    edited_at=edited_at,
                    deleted=deleted_at is not None,
                )
                post.outcome = PostedMessage(message=record, created=False)
                post.twin_of = None

    def _insert(self, connection: Connection, batch: list[_Post]) -> None:
        new = [p for p in batch if p.outcome is None and p.twin_of is None]
        if new:
            now = self._clock()
            rows: list[dict[str, Any]] = [
                {
                    "channel_id": p.channel_id,
                    "author_id": p.author_id,
                    "body": p.body,
                    "client_id": p.client_id,
                    "created_at": now,
                }
                for p in new
            ]
            if connection.dialect.name == "sqlite":
                ids = _sqlite_insert(connection, rows)
            else:
                ids = [row[0] for row in connection.execute(_INSERT, rows)]
            for post, mid in zip(new, ids, strict=True):
                assert post.context is not None
                record = MessageRecord(
                    id=mid,
                    channel_id=post.channel_id,
                    community_id=post.context.community_id,
                    author_id=post.author_id,
                    author_username=post.context.username,
                    body=post.body,
                    client_id=post.client_id,
                    created_at=now,
                    edited_at=None,
                    deleted=False,
                )
                post.outcome = PostedMessage(message=record, created=True)
        for post in batch:
            twin = post.twin_of
            if twin is None or post.outcome is not None:
                continue
            if isinstance(twin.outcome, PostedMessage):
                if twin.channel_id != post.channel_id:
                    post.outcome = Conflict(
                        "client_id was already used for a message in another channel"
                    )
                else:
                    post.outcome = PostedMessage(message=twin.outcome.message, created=False)
            elif twin.channel_id == post.channel_id:
                post.outcome = twin.outcome
            else:
                post.outcome = Conflict("the message could not be stored; try again")
