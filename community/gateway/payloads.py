"""What clients send with each gateway request: declared once, validated by plexio.

Each request handler is registered with its payload type, so plexio checks the payload
before the handler runs and answers one that does not fit with
``{"ok": false, "error": {"code": "invalid_input", "message": ...}}`` (the gateway's own
error shape) without calling it. Ids are :data:`community.inputs.Id`, the type the REST API
checks its path ids with, so a bad id gets ``invalid_input`` through either. Types are strict
(``"1"`` is not an integer, ``true`` is not one either); lengths and permissions, which depend
on the server's limits and on the database, stay with the services, which check them for the
REST API too. Keys not declared are dropped.
"""

from __future__ import annotations

from typing import (
    Any,
    NotRequired,  # pydantic needs these on 3.11
)

from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict

import plexio
from community.inputs import Id

__all__ = [
    "ChannelRequest",
    "MessageDelete",
    "MessageEdit",
    "MessageSend",
    "PresenceGet",
    "invalid_input",
]

_STRICT = ConfigDict(strict=True)


@with_config(_STRICT)
class ChannelRequest(TypedDict):
    """``channel:join``, ``channel:leave``, ``typing``."""

    channel_id: Id
    community_id: NotRequired[Id]


@with_config(_STRICT)
class MessageSend(TypedDict):
    """``message:send``."""

    channel_id: Id
    body: str
    client_id: NotRequired[str | None]
    community_id: NotRequired[Id]


@with_config(_STRICT)
class MessageEdit(TypedDict):
    """``message:edit``."""

    message_id: Id
    body: str
    community_id: NotRequired[Id]


@with_config(_STRICT)
class MessageDelete(TypedDict):
    """``message:delete``."""

    message_id: Id
    community_id: NotRequired[Id]


@with_config(_STRICT)
class PresenceGet(TypedDict, total=False):
    """``presence:get`` (``community_id`` on the one-namespace topology)."""

    community_id: Id


def invalid_input(error: plexio.PayloadValidationError) -> dict[str, Any]:
    """The acknowledgement of a request whose payload does not fit its declaration."""
    return {"ok": False, "error": {"code": "invalid_input", "message": str(error)}}
