"""What every service of :mod:`community.services` shares: the database, the writer, the event
bus, the clock and the limits in force."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from community.events import CommunityEvent, EventBus
from community.settings import Limits
from community.writer import Writer

__all__ = ["ServiceContext", "utc_now"]


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime (the default service clock)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ServiceContext:
    """The collaborators of the services, made once by :func:`community.services.create_services`.

    Attributes:
        sessionmaker: Factory of async sessions; a service opens one short transaction per call.
        writer: The group-commit writer of the frequent writes (messages, edits, channel joins).
        events: The bus on which committed changes are published.
        clock: Returns the current aware UTC time; injectable for tests.
        limits: The input size limits in force.
    """

    sessionmaker: async_sessionmaker[AsyncSession]
    writer: Writer
    events: EventBus
    clock: Callable[[], datetime]
    limits: Limits

    async def publish(self, *events: CommunityEvent) -> None:
        """Publish events of a transaction that has committed."""
        await self.events.publish(*events)
