"""The rules on text values that depend on the server's :class:`~community.settings.Limits`:
lengths, allowed characters, normalisation of names.

The boundaries (:mod:`community.inputs`) have already checked the types, so these take ``str``
and ``int``; they raise :class:`~community.errors.InvalidInput` with a message safe to show.
"""

from __future__ import annotations

import re
from typing import Final

from community.errors import InvalidInput
from community.settings import Limits

__all__ = ["USERNAME_PATTERN", "TextRules", "is_clean", "is_username", "normalize_username"]

USERNAME_PATTERN: Final = r"[a-z0-9][a-z0-9_.-]{2,31}"
"""Usernames after lower-casing: 3 to 32 characters, letters, digits, ``_ . -``."""

_USERNAME_RE = re.compile(USERNAME_PATTERN)
_CHANNEL_NAME_RE = re.compile(r"[\w-]+")
# Exactly the characters of Unicode category Cc (C0 controls, DEL, C1 controls).
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f]")


def is_clean(value: str) -> bool:
    """Whether a string can be stored everywhere: no NUL (PostgreSQL text rejects it) and no
    lone surrogates (they cannot be encoded as UTF-8)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def normalize_username(value: str) -> str:
    """A username as stored: stripped and lower-cased (it may still be invalid)."""
    return value.strip().lower()


def is_username(name: str) -> bool:
    """Whether a normalized name is a valid username."""
    return _USERNAME_RE.fullmatch(name) is not None


def _text(
    value: str,
    what: str,
    *,
    min_length: int,
    max_length: int,
    strip: bool = True,
    single_line: bool = False,
) -> str:
    if strip:
        value = value.strip()
    if not is_clean(value):
        raise InvalidInput(f"{what} contains characters that cannot be stored")
    if single_line and _CONTROL_RE.search(value):
        raise InvalidInput(f"{what} must not contain control characters")
    if not min_length <= len(value) <= max_length:
        if min_length == 1 and not value:
            raise InvalidInput(f"{what} must not be empty")
        raise InvalidInput(f"{what} must be at most {max_length} characters long")
    return value


class TextRules:
    """The checks of text values and page sizes under given limits.

    Args:
        limits: The limits in force.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def username(self, value: str) -> str:
        """A username to register, normalized."""
        name = normalize_username(value)
        if not is_username(name):
            raise InvalidInput(
                "username must be 3 to 32 characters: letters, digits, '_', '.' or '-', "
                "starting with a letter or digit"
            )
        return name

    def display_name(self, value: str) -> str:
        """A display name (one line, 1 to 64 characters)."""
        return _text(value, "display_name", min_length=1, max_length=64, single_line=True)

    def password(self, value: str) -> str:
        """A password to register."""
        low, high = self.limits.password_min_length, self.limits.password_max_length
        if not low <= len(value) <= high:
            raise InvalidInput(f"password must be {low} to {high} characters long")
        if not is_clean(value):
            raise InvalidInput("password contains characters that cannot be stored")
        return value

    def name(self, value: str) -> str:
        """A community name."""
        return _text(
            value, "name", min_length=1, max_length=self.limits.name_max_length, single_line=True
        )

    def channel_name(self, value: str) -> str:
        """A channel name: lower-cased, blanks turned into ``-``."""
        name = "-".join(value.lower().split())
        name = _text(name, "name", min_length=1, max_length=self.limits.name_max_length)
        if not _CHANNEL_NAME_RE.fullmatch(name):
            raise InvalidInput("channel names may hold only letters, digits, '_' and '-'")
        return name

    def description(self, value: str, what: str) -> str:
        """A community description or channel topic (``what`` names it in errors)."""
        return _text(
            value, what, min_length=0, max_length=self.limits.description_max_length, strip=True
        )

    def body(self, value: str) -> str:
        """A message body: not only blanks, kept as sent."""
        if not value.strip():
            raise InvalidInput("body must not be empty")
        return _text(
            value, "body", min_length=1, max_length=self.limits.message_max_length, strip=False
        )

    def client_id(self, value: str) -> str:
        """A message's idempotency key."""
        return _text(
            value,
            "client_id",
            min_length=1,
            max_length=self.limits.client_id_max_length,
            strip=False,
            single_line=True,
        )

    @staticmethod
    def page_size(value: int | None, default: int, maximum: int) -> int:
        """A page size: ``default`` when not given, at most ``maximum`` (the boundary has
        checked it is at least 1)."""
        if value is None:
            return default
        if value > maximum:
            raise InvalidInput(f"limit must be between 1 and {maximum}")
        return value
