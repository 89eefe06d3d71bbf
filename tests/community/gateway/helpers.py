"""Helpers of the gateway tests: users, recording Socket.IO clients, bounded waits."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

import httpx

from community.gateway import Gateway
from community.services import Services
from plexio.client import ClientSocket, Manager
from tests.community.helpers import PASSWORD
from tests.helpers.waiting import eventually

__all__ = ["Clients", "Live", "Recorder", "User", "eventually", "make_user"]

_names = itertools.count(1)


@dataclass(frozen=True)
class Live:
    """A running community app."""

    url: str
    services: Services
    gateway: Gateway
    http: httpx.AsyncClient


@dataclass(frozen=True)
class User:
    """A signed-up user with a valid token."""

    id: int
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        """The ``Authorization`` header for REST calls."""
        return {"Authorization": f"Bearer {self.token}"}


async def make_user(services: Services, prefix: str = "user") -> User:
    """Sign a new user up through the service and issue a token."""
    record = await services.accounts.sign_up(f"{prefix}{next(_names)}", PASSWORD)
    return User(
        id=record.id, username=record.username, token=services.accounts.issue_token(record.id).token
    )


@dataclass
class Recorder:
    """A connected socket and every event it received, in order."""

    socket: ClientSocket
    events: list[tuple[str, Any]] = field(default_factory=list)
    disconnects: list[str] = field(default_factory=list)

    def of(self, event: str) -> list[Any]:
        """The payloads of one event, in arrival order."""
        return [data for name, data in self.events if name == event]

    async def request(self, event: str, payload: Any, timeout: float = 5.0) -> Any:
        """Emit a request and return its acknowledgement."""
        return await self.socket.emit_with_ack(event, payload, timeout=timeout)

    async def ok(self, event: str, payload: Any) -> Any:
        """Emit a request that must succeed and return its data."""
        ack = await self.request(event, payload)
        assert ack["ok"] is True, ack
        return ack["data"]

    async def sync(self) -> None:
        """Round trip to the server: every event queued for this socket before has arrived.

        Events and acknowledgements travel in order on one connection, so once this
        acknowledgement is back, every broadcast sent to the socket earlier is recorded.
        """
        await self.request("typing", None)


class Clients:
    """Makes Socket.IO clients of a live app and closes them all at the end."""

    def __init__(self, live: Live) -> None:
        self.live = live
        self.managers: list[Manager] = []

    def manager(self, *, transports: tuple[str, ...] = ("websocket",)) -> Manager:
        """A new manager (one Engine.IO connection) without reconnection."""
        manager = Manager(self.live.url, transports=transports, reconnection=False)
        self.managers.append(manager)
        return manager

    async def connect(
        self,
        user: User | None,
        namespace: str,
        *,
        manager: Manager | None = None,
        auth: dict[str, Any] | None = None,
    ) -> Recorder:
        """Connect to a namespace as a user and record what arrives.

        Raises:
            ConnectRefusedError: the server refused the CONNECT.
        """
        io = manager if manager is not None else self.manager()
        if auth is None and user is not None:
            auth = {"token": user.token}
        socket = io.socket(namespace, auth=auth)
        recorder = Recorder(socket)
        socket.on_any(
            lambda event, *args: recorder.events.append((event, args[0] if args else None))
        )
        socket.on("disconnect", recorder.disconnects.append)
        await socket.connect(timeout=10)
        return recorder

    async def single(self, user: User, **kwargs: Any) -> Recorder:
        """Connect to ``/socket``."""
        return await self.connect(user, "/socket", **kwargs)

    async def community(self, user: User, community_id: int, **kwargs: Any) -> Recorder:
        """Connect to ``/socket/commu-{community_id}``."""
        return await self.connect(user, f"/socket/commu-{community_id}", **kwargs)

    async def close(self) -> None:
        """Close every manager."""
        async with asyncio.timeout(10):
            for manager in self.managers:
                await manager.close()
