"""Request bodies of the REST API, and the few response bodies that are not records (pydantic
models, shown in the OpenAPI schema).

Entities are answered as :mod:`community.records`, the representation the services return
and the socket gateway sends. Request models check shapes and types (with
:mod:`community.inputs`, as the gateway's payloads do); sizes and formats that depend on the
server's limits are checked by the services, which answer bad values with
:class:`~community.errors.InvalidInput` (HTTP 422), so that REST and socket clients get the
same rules.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from community.records import UserRecord

__all__ = [
    "ChannelCreate",
    "CommunityCreate",
    "CommunityUpdate",
    "ErrorOut",
    "HealthOut",
    "LogIn",
    "MessageCreate",
    "MessageEdit",
    "SignUp",
    "TokenOut",
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignUp(_Request):
    """Sign-up form."""

    username: str = Field(description="3-32 characters: letters, digits, _ . - (case-insensitive)")
    password: str = Field(description="At least 8 characters (Limits.password_min_length)")
    display_name: str | None = Field(default=None, description="Shown name; the username if unset")


class LogIn(_Request):
    """Log-in form."""

    username: str
    password: str


class TokenOut(BaseModel):
    """An access token, to send as ``Authorization: Bearer <access_token>``."""

    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    user: UserRecord


class CommunityCreate(_Request):
    """New community."""

    name: str = Field(description="Unique name, 1-64 characters")
    description: str = ""


class CommunityUpdate(_Request):
    """Changes to a community (owner only); omitted fields stay as they are."""

    name: str | None = None
    description: str | None = None


class ChannelCreate(_Request):
    """New channel."""

    name: str = Field(description="Lower-cased, blanks become '-'; letters, digits, _ and -")
    topic: str = ""


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


class ErrorOut(BaseModel):
    """An error."""

    detail: str
    code: str


class HealthOut(BaseModel):
    """Liveness answer."""

    status: str
