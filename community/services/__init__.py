"""The service layer of the community application: every rule about users, communities,
channels and messages, shared by the REST API and the socket gateway.

One service per thing owned, each in its module:

* :class:`~community.services.accounts.Accounts`: users, passwords, access tokens;
* :class:`~community.services.communities.Communities`: communities (and their first channel);
* :class:`~community.services.members.Members`: community membership;
* :class:`~community.services.channels.Channels`: channels and channel membership;
* :class:`~community.services.messages.Messages`: messages and channel history.

:func:`create_services` makes them all around one :class:`ServiceContext` (database, writer,
event bus, clock, limits). Each call opens one short transaction; after a transaction that
changed something has committed, the matching :mod:`community.events` records are published on
:attr:`Services.events`. The services take the types the boundaries have checked
(:mod:`community.inputs`), check what depends on the limits and the database, and raise
:class:`~community.errors.CommunityError` subclasses with a message safe to show, never a
database error. They return :mod:`community.records`, the one representation both the REST API
and the gateway send.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from community.db import create_writer_engine
from community.events import EventBus
from community.message_log import MessageLog
from community.security import PasswordHashing
from community.services.accounts import Accounts
from community.services.channels import Channels
from community.services.communities import DEFAULT_CHANNEL_NAME, Communities
from community.services.context import ServiceContext, utc_now
from community.services.members import Members
from community.services.messages import Messages
from community.settings import Limits
from community.writer import Writer

__all__ = [
    "DEFAULT_CHANNEL_NAME",
    "Accounts",
    "Channels",
    "Communities",
    "Members",
    "Messages",
    "ServiceContext",
    "Services",
    "create_services",
    "utc_now",
]


@dataclass(frozen=True, slots=True)
class Services:
    """All the services of one application, sharing one context.

    Attributes:
        accounts: Users and tokens.
        communities: Communities.
        members: Community membership.
        channels: Channels and channel membership.
        messages: Messages and history.
        context: What they share.
        log: The log that stores messages in group commits.
    """

    accounts: Accounts
    communities: Communities
    members: Members
    channels: Channels
    messages: Messages
    context: ServiceContext
    log: MessageLog

    @property
    def events(self) -> EventBus:
        """The bus on which committed changes are published (the gateway subscribes to it)."""
        return self.context.events

    @property
    def limits(self) -> Limits:
        """The input size limits in force."""
        return self.context.limits

    @property
    def writer(self) -> Writer:
        """The group-commit writer of the frequent writes."""
        return self.context.writer

    async def close(self) -> None:
        """Finish the queued writes and release the writer's connection and thread."""
        await self.context.writer.close()


def create_services(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    secret: str,
    token_ttl: timedelta,
    limits: Limits | None = None,
    events: EventBus | None = None,
    clock: Callable[[], datetime] = utc_now,
    passwords: PasswordHashing | None = None,
    writer: Writer | None = None,
) -> Services:
    """Make the services of one application.

    Args:
        sessionmaker: Factory of async sessions (see :func:`community.db.create_sessionmaker`).
        secret: HS256 key for access tokens.
        token_ttl: Access token lifetime.
        limits: Input size limits.
        events: Event bus; a new one when omitted.
        clock: Returns the current aware UTC time; injectable for tests.
        passwords: Password hashing; argon2id defaults when omitted.
        writer: The group-commit writer of the frequent writes (messages, edits, channel
            joins); one on the sessionmaker's engine when omitted. :meth:`Services.close`
            closes it.

    Raises:
        TypeError: No writer was given and the sessionmaker is not bound to an engine.
    """
    if writer is None:
        engine = sessionmaker.kw.get("bind")
        if not isinstance(engine, AsyncEngine):
            raise TypeError("the sessionmaker must be bound to an AsyncEngine")
        url = engine.url.render_as_string(hide_password=False)
        writer = Writer(engine, create_writer_engine(url))
    context = ServiceContext(
        sessionmaker=sessionmaker,
        writer=writer,
        events=events if events is not None else EventBus(),
        clock=clock,
        limits=limits if limits is not None else Limits(),
    )
    log = MessageLog(writer, clock)
    return Services(
        accounts=Accounts(
            context,
            secret=secret,
            token_ttl=token_ttl,
            passwords=passwords if passwords is not None else PasswordHashing(),
        ),
        communities=Communities(context),
        members=Members(context),
        channels=Channels(context),
        messages=Messages(context, log),
        context=context,
        log=log,
    )
