"""Plain, immutable values returned by the service layer: the one representation of each entity
outside the data layer.

They are detached from the database session (the ORM rows of :mod:`community.models` stay
inside the services), so callers can keep and send them freely: the REST API returns them as
its response bodies (FastAPI serializes dataclasses) and the socket gateway emits them through
:func:`to_json`, which turns any of them into JSON-ready data.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime
from enum import Enum

from community.models import Role

__all__ = [
    "ChannelRecord",
    "ChannelView",
    "CommunityRecord",
    "HistoryPage",
    "IssuedToken",
    "JSONData",
    "MemberRecord",
    "MessageRecord",
    "PostedMessage",
    "UserRecord",
    "to_json",
]

JSONData = None | bool | int | float | str | list["JSONData"] | dict[str, "JSONData"]
"""What :func:`to_json` returns."""


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user, without the password hash.

    Attributes:
        id: User id.
        username: Unique lower-case login name.
        display_name: Name shown to others.
        created_at: Sign-up time (UTC).
    """

    id: int
    username: str
    display_name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A signed access token.

    Attributes:
        token: The JWT (HS256), to send as ``Authorization: Bearer <token>`` or in the socket
            handshake's ``auth`` payload.
        expires_at: When the token stops being accepted (UTC).
    """

    token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class CommunityRecord:
    """A community.

    Attributes:
        id: Community id.
        name: Unique name.
        description: Free text.
        owner_id: Id of the owning user.
        created_at: Creation time (UTC).
    """

    id: int
    name: str
    description: str
    owner_id: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MemberRecord:
    """A user's membership of a community.

    Attributes:
        community_id: Community id.
        user_id: User id.
        username: The member's username.
        display_name: The member's display name.
        role: ``owner`` or ``member``.
        joined_at: Join time (UTC).
    """

    community_id: int
    user_id: int
    username: str
    display_name: str
    role: Role
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class ChannelRecord:
    """A channel.

    Attributes:
        id: Channel id.
        community_id: Id of the community it belongs to.
        name: Name, unique in its community.
        topic: Free text.
        created_by: Id of the creating user, ``None`` for a deleted user.
        created_at: Creation time (UTC).
    """

    id: int
    community_id: int
    name: str
    topic: str
    created_by: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ChannelView(ChannelRecord):
    """A channel as one user sees it: with whether they are a member of it.

    Attributes:
        joined: Whether the user is a member of the channel.
    """

    joined: bool

    @classmethod
    def of(cls, channel: ChannelRecord, *, joined: bool) -> ChannelView:
        """The view of a channel for a user who has (or has not) ``joined`` it."""
        shared = {field.name: getattr(channel, field.name) for field in fields(ChannelRecord)}
        return cls(**shared, joined=joined)


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """A stored message.

    Attributes:
        id: Message id; ids grow with time and serve as history cursors.
        channel_id: Channel id.
        community_id: Community of the channel.
        author_id: Author's user id.
        author_username: Author's username.
        body: Text; empty once deleted.
        client_id: The sender's idempotency key, if one was given.
        created_at: Storage time (UTC).
        edited_at: Last edit time (UTC), or ``None``.
        deleted: Whether the message was deleted.
    """

    id: int
    channel_id: int
    community_id: int
    author_id: int
    author_username: str
    body: str
    client_id: str | None
    created_at: datetime
    edited_at: datetime | None
    deleted: bool


@dataclass(frozen=True, slots=True)
class PostedMessage:
    """Result of :meth:`community.services.messages.Messages.post`.

    Attributes:
        message: The stored message.
        created: ``True`` if this call stored it; ``False`` if it is a retry that found the
            message stored by an earlier call with the same ``client_id`` (nothing new to
            broadcast).
    """

    message: MessageRecord
    created: bool


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """One page of channel history, newest first.

    Attributes:
        messages: The messages, newest first.
        next_before: Cursor for the next (older) page: pass it as ``before``; ``None`` when
            there are no older messages.
    """

    messages: tuple[MessageRecord, ...]
    next_before: int | None


def to_json(value: object) -> JSONData:
    """Convert a record (or a list/tuple/dict of records) to JSON-ready data.

    Datetimes become ISO 8601 strings, enums their values, dataclasses dicts.

    Args:
        value: The value to convert.

    Returns:
        Data made of dicts, lists, strings, numbers, booleans and ``None``.

    Raises:
        TypeError: The value contains something else.
    """
    if type(value) is MessageRecord:  # the hot path: every message:send and its broadcast
        return _message_json(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Enum):
        return to_json(value.value)
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        names = _FIELD_NAMES.get(type(value))
        if names is None:
            names = _FIELD_NAMES[type(value)] = tuple(f.name for f in fields(value))
        return {name: to_json(getattr(value, name)) for name in names}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    raise TypeError(f"cannot convert {type(value).__name__} to JSON")


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _message_json(message: MessageRecord) -> dict[str, JSONData]:
    edited_at = message.edited_at
    return {
        "id": message.id,
        "channel_id": message.channel_id,
        "community_id": message.community_id,
        "author_id": message.author_id,
        "author_username": message.author_username,
        "body": message.body,
        "client_id": message.client_id,
        "created_at": message.created_at.isoformat(),
        "edited_at": None if edited_at is None else edited_at.isoformat(),
        "deleted": message.deleted,
    }
