"""Errors raised by the community service layer.

The REST API maps them to HTTP statuses; the socket gateway maps them to acks or error events.
Their messages are safe to show to the user who caused them::

    CommunityError
    ├── InvalidInput          bad value (HTTP 422)
    ├── AuthenticationFailed  bad credentials or token (HTTP 401)
    │   └── TokenExpired      token past its expiry (HTTP 401)
    ├── NotFound              unknown id (HTTP 404)
    ├── Forbidden             not a member / not allowed (HTTP 403)
    └── Conflict              duplicate or state conflict (HTTP 409)
"""

from __future__ import annotations

__all__ = [
    "AuthenticationFailed",
    "CommunityError",
    "Conflict",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "TokenExpired",
]


class CommunityError(Exception):
    """Root of the service-layer errors.

    Attributes:
        code: Stable machine-readable error code (``"not_found"``, ``"forbidden"``, ...).
        message: Human-readable explanation, safe to send to the caller.
    """

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(CommunityError):
    """A value has the wrong type, size or format."""

    code = "invalid_input"


class AuthenticationFailed(CommunityError):
    """Wrong username/password, or a token that is malformed, forged or for a gone user."""

    code = "unauthorized"


class TokenExpired(AuthenticationFailed):
    """A well-formed token whose expiry time has passed."""

    code = "token_expired"


class NotFound(CommunityError):
    """An id that does not exist (or a message that was deleted)."""

    code = "not_found"


class Forbidden(CommunityError):
    """The user is not a member, or not allowed to do this (not the author, not the owner)."""

    code = "forbidden"


class Conflict(CommunityError):
    """A duplicate (username, name, membership) or a state that forbids the action."""

    code = "conflict"
