"""Request and response bodies of the REST API (pydantic models, shown in the OpenAPI schema).

Request models check only shapes and types; sizes and formats are checked by the service layer,
which answers bad values with :class:`~community.errors.InvalidInput` (HTTP 422) too, so that
REST and socket clients get the same rules.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from community.models import Role

__all__ = [
    "ChannelCreate",
    "ChannelOut",
    "CommunityCreate",
    "CommunityOut",
    "CommunityUpdate",
    "ErrorOut",
    "HealthOut",
    "HistoryOut",
    "LogIn",
    "MemberOut",
    "MessageCreate",
    "MessageEdit",
    "MessageOut",
    "SignUp",
    "TokenOut",
    "UserOut",
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Response(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class SignUp(_Request):
    """Sign-up form."""

    username: str = Field(description="3-32 characters: letters, digits, _ . - (case-insensitive)")
    password: str = Field(description="At least 8 characters (Limits.password_min_length)")
    display_name: str | None = Field(default=None, description="Shown name; the username if unset")


class LogIn(_Request):
    """Log-in form."""

    username: str
    password: str


class UserOut(_Response):
    """A user."""

    id: int
    username: str
    display_name: str
    created_at: datetime


class TokenOut(BaseModel):
    """An access token, to send as ``Authorization: Bearer <access_token>``."""

    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    user: UserOut


class CommunityCreate(_Request):
    """New community."""

    name: str = Field(description="Unique name, 1-64 characters")
    description: str = ""


class CommunityUpdate(_Request):
    """Changes to a community (owner only); omitted fields stay as they are."""

    name: str | None = None
    description: str | None = None


class CommunityOut(_Response):
    """A community."""

    id: int
    name: str
    description: str
    owner_id: int
    created_at: datetime


class MemberOut(_Response):
    """A member of a community."""

    community_id: int
    user_id: int
    username: str
    display_name: str
    role: Role
    joined_at: datetime


class ChannelCreate(_Request):
    """New channel."""

    name: str = Field(description="Lower-cased, blanks become '-'; letters, digits, _ and -")
    topic: str = ""


class ChannelOut(_Response):
    """A channel, with whether the requesting user is a member of it."""

    id: int
    community_id: int
    name: str
    topic: str
    created_by: int | None
    created_at: datetime
    joined: bool


class MessageCreate(_Request):
    """New message."""

    body: str
    client_id: str | None = Field(
        default=None,
        description="Idempotency key: sending again with the same key returns the stored message",
    )


class MessageEdit(_Request):
    """New body of a message."""

    body: str


class MessageOut(_Response):
    """A message."""

    id: int
    channel_id: int
    community_id: int
    author_id: int
    author_username: str
    body: str
    client_id: str | None
    created_at: datetime
    edited_at: datetime | None


class HistoryOut(BaseModel):
    """A page of history, newest first."""

    messages: list[MessageOut]
    next_before: int | None = Field(
        description="Pass as `before` to get the next (older) page; null after the oldest"
    )


class ErrorOut(BaseModel):
    """An error."""

    detail: str
    code: str


class HealthOut(BaseModel):
    """Liveness answer."""

    status: str
