"""Domain events and the in-process registry the socket gateway hooks into.

Every state change made by the services of :mod:`community.services` (through REST or through
the gateway) is announced after its transaction has committed, as one of the frozen event
records below, to every callable registered with :meth:`EventBus.subscribe`. The gateway turns
them into socket actions (join/leave rooms, broadcasts, forced disconnects from a community).

Subscribers are called in registration order, one event at a time; a subscriber may be a plain
function or a coroutine function. An exception in a subscriber is logged and contained: it never
reaches the caller of the service, and the other subscribers still run.
"""

from __future__ import annotations

import enum
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from community.records import ChannelRecord, CommunityRecord, MemberRecord, MessageRecord

__all__ = [
    "ChannelCreated",
    "ChannelMemberJoined",
    "ChannelMemberRemoved",
    "CommunityCreated",
    "CommunityEvent",
    "CommunityUpdated",
    "EventBus",
    "MemberJoined",
    "MemberRemoved",
    "MessageCreated",
    "MessageDeleted",
    "MessageEdited",
    "RemovalReason",
    "Subscriber",
]

logger = logging.getLogger(__name__)


class RemovalReason(enum.StrEnum):
    """Why a membership ended."""

    LEFT = "left"
    """The user left by themselves."""
    REMOVED = "removed"
    """Someone else (the community owner, or the application) removed the user."""


@dataclass(frozen=True, slots=True)
class CommunityCreated:
    """A community was created; its owner is its only member.

    Attributes:
        community: The new community.
    """

    community: CommunityRecord


@dataclass(frozen=True, slots=True)
class CommunityUpdated:
    """A community's name or description changed.

    Attributes:
        community: The community after the change.
    """

    community: CommunityRecord


@dataclass(frozen=True, slots=True)
class MemberJoined:
    """A user joined a community.

    Attributes:
        member: The new membership.
    """

    member: MemberRecord


@dataclass(frozen=True, slots=True)
class MemberRemoved:
    """A user is no longer a member of a community.

    Their channel memberships in that community are gone too (no separate
    :class:`ChannelMemberRemoved` events are sent for them): the gateway should take the user's
    sockets out of the community room and out of every room in ``channel_ids``.

    Attributes:
        community_id: The community.
        user_id: The removed user.
        reason: Left by themselves, or removed by someone else.
        channel_ids: The channels the user was a member of in that community.
        actor_id: Who removed them (``None`` when the application did).
    """

    community_id: int
    user_id: int
    reason: RemovalReason
    channel_ids: tuple[int, ...]
    actor_id: int | None


@dataclass(frozen=True, slots=True)
class ChannelCreated:
    """A channel was created; its creator is its first member.

    Attributes:
        channel: The new channel.
    """

    channel: ChannelRecord


@dataclass(frozen=True, slots=True)
class ChannelMemberJoined:
    """A user joined a channel.

    Attributes:
        channel: The channel.
        user_id: The user.
    """

    channel: ChannelRecord
    user_id: int


@dataclass(frozen=True, slots=True)
class ChannelMemberRemoved:
    """A user left a channel (and is still a member of its community).

    Attributes:
        channel: The channel.
        user_id: The user.
        reason: Always :attr:`RemovalReason.LEFT` today.
    """

    channel: ChannelRecord
    user_id: int
    reason: RemovalReason


@dataclass(frozen=True, slots=True)
class MessageCreated:
    """A message was stored (not sent again for an idempotent retry).

    Attributes:
        message: The message.
    """

    message: MessageRecord


@dataclass(frozen=True, slots=True)
class MessageEdited:
    """A message's body changed.

    Attributes:
        message: The message after the edit.
    """

    message: MessageRecord


@dataclass(frozen=True, slots=True)
class MessageDeleted:
    """A message was deleted.

    Attributes:
        message_id: The message.
        channel_id: Its channel.
        community_id: Its community.
        author_id: Its author.
    """

    message_id: int
    channel_id: int
    community_id: int
    author_id: int


CommunityEvent = (
    CommunityCreated
    | CommunityUpdated
    | MemberJoined
    | MemberRemoved
    | ChannelCreated
    | ChannelMemberJoined
    | ChannelMemberRemoved
    | MessageCreated
    | MessageEdited
    | MessageDeleted
)
"""Every event the service layer publishes."""

Subscriber = Callable[[CommunityEvent], Awaitable[None] | None]
"""A callable taking one event; it may be a coroutine function."""


class EventBus:
    """In-process registry of event subscribers.

    One bus belongs to one :class:`~community.services.Services` (no global state).
    """

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Register a callable to receive every event published after this call.

        Args:
            subscriber: Function or coroutine function taking one event.

        Returns:
            A function that unregisters the subscriber (calling it twice is harmless).
        """
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            try:
                self._subscribers.remove(subscriber)
            except ValueError:
                pass

        return unsubscribe

    @property
    def subscriber_count(self) -> int:
        """Number of registered subscribers."""
        return len(self._subscribers)

    async def publish(self, *events: CommunityEvent) -> None:
        """Deliver events to every subscriber, in order.

        The service calls this after the transaction that caused the events has committed.
        Exceptions raised by subscribers are logged and do not propagate.

        Args:
            *events: The events to deliver.
        """
        for event in events:
            for subscriber in tuple(self._subscribers):
                try:
                    result = subscriber(event)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    logger.exception(
                        "event subscriber %r failed on %s", subscriber, type(event).__name__
                    )
