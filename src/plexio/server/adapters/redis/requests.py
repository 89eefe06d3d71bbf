"""Requests waiting for other servers' replies, and the peers seen so far (no Redis here)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Final

from plexio.exceptions import ClusterTimeoutError
from plexio.server.adapters.base import AckArgsCallback
from plexio.typing import JSONValue

__all__ = ["AckRequest", "Gather", "Peers"]

_PEERS_KEPT: Final = 1024
_PEER_TTL: Final = 600.0


class Peers:
    """The other servers' ids, from the messages they sent (bounded, most recent kept)."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}

    def saw(self, uid: str) -> None:
        """Notes a message from ``uid``."""
        seen = self._seen
        seen.pop(uid, None)
        seen[uid] = time.monotonic()
        if len(seen) > _PEERS_KEPT:
            del seen[next(iter(seen))]

    def forget(self, uid: str) -> None:
        """Drops a server that said it left."""
        self._seen.pop(uid, None)

    def known(self) -> set[str]:
        """Servers heard from in the last ten minutes."""
        limit = time.monotonic() - _PEER_TTL
        return {uid for uid, at in self._seen.items() if at >= limit}


class Gather:
    """Replies to one request, complete when ``expected`` servers answered.

    Args:
        what: names the operation in the timeout error.
        expected: how many servers must answer.
        timeout: seconds to wait.
        peers: gives the servers known to be up, to name the silent ones.
    """

    def __init__(
        self, what: str, expected: int, timeout: float, peers: Callable[[], set[str]]
    ) -> None:
        self.what = what
        self.expected = expected
        self.timeout = timeout
        self.replies: list[JSONValue] = []
        self.answered: set[str] = set()
        self.count = 0
        self._peers = peers
        self._done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if expected <= 0:
            self._done.set_result(None)

    def add(self, uid: str | None, replies: list[JSONValue]) -> None:
        """One server's answer (``uid`` when it says who it is)."""
        if self._done.done():
            return
        self.count += 1
        self.replies.extend(replies)
        if uid is not None:
            self.answered.add(uid)
        if self.count >= self.expected:
            self._done.set_result(None)

    def drop(self, uid: str) -> None:
        """A server left: it no longer has to answer."""
        if uid not in self.answered and not self._done.done():
            self.expected -= 1
            if self.count >= self.expected:
                self._done.set_result(None)

    async def wait(self) -> list[JSONValue]:
        """The replies, once every expected server answered.

        Raises:
            ClusterTimeoutError: not all of them answered within the timeout.
        """
        try:
            async with asyncio.timeout(self.timeout):
                await self._done
        except TimeoutError:
            missing = self.expected - self.count
            silent = sorted(self._peers() - self.answered)
            names = (
                f"; servers heard from that did not answer: {', '.join(silent)}"
                if silent
                else "; none of the silent servers has sent anything, so none can be named"
            )
            raise ClusterTimeoutError(
                f"{self.what}: {missing} of {self.expected} servers did not answer within "
                f"{self.timeout:g} s{names}",
                expected=self.expected,
                answered=self.count,
                silent=silent,
                responses=list(self.replies),
            ) from None
        return self.replies


class AckRequest:
    """One broadcast with acks this server sent: where the other servers' reports go.

    Args:
        client_count: called with each server's count of sockets reached.
        ack: called with each client's ack arguments.
        timer: drops the request once its acks can no longer matter.
    """

    __slots__ = ("client_count", "ack", "timer", "reported", "unnamed")

    def __init__(
        self, client_count: Callable[[int], None], ack: AckArgsCallback, timer: asyncio.TimerHandle
    ) -> None:
        self.client_count = client_count
        self.ack = ack
        self.timer = timer
        self.reported: set[str] = set()
        self.unnamed = 0  # reports that did not say who sent them (Node's classic adapter)

    def report(self, uid: str | None, count: int) -> None:
        """A server reported how many of its sockets the broadcast reached."""
        if uid is None:
            self.unnamed += 1
        elif uid in self.reported:
            return
        else:
            self.reported.add(uid)
        self.client_count(count)

    def silent(self, known: set[str]) -> list[str]:
        """The servers of ``known`` that did not report; empty when that cannot be told
        (a report came without the id of its sender)."""
        if self.unnamed:
            return []
        return sorted(known - self.reported)
