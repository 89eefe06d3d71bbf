"""The asyncio Socket.IO v5 client (layer L3).

May import: plexio L0 modules, plexio.engineio, plexio.socketio, plexio.transports;
never plexio.server or plexio.asgi.

One :class:`Manager` owns one Engine.IO connection; each namespace is a
:class:`ClientSocket` multiplexed over it::

    async with Manager("http://127.0.0.1:8000") as io:
        chat = io.socket("/chat", auth={"token": "..."})
        chat.on("message", print)
        await chat.connect()
        print(await chat.emit_with_ack("hello", "world"))

:func:`connect` is the shortcut of the JavaScript ``io(url)``: the namespace is the
URL's path, and sockets to the same origin share one manager (one Engine.IO
connection) unless ``force_new=True``.
"""

from __future__ import annotations

from typing import Unpack
from urllib.parse import urlsplit, urlunsplit

from plexio.client.backoff import Backoff
from plexio.client.manager import Manager, ManagerKeywords, ManagerOptions
from plexio.client.socket import Auth, ClientSocket, TimedEmitter, VolatileEmitter
from plexio.socketio.parser import Parser

__all__ = [
    "Auth",
    "Backoff",
    "ClientSocket",
    "Manager",
    "ManagerCache",
    "ManagerKeywords",
    "ManagerOptions",
    "TimedEmitter",
    "VolatileEmitter",
    "connect",
    "split_url",
]


def split_url(url: str) -> tuple[str, str]:
    """Splits ``http://host:port/namespace`` into the origin and the namespace.

    Raises:
        ValueError: not an http(s) or ws(s) URL with a host.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.netloc:
        raise ValueError(f"not a server URL: {url!r}")
    namespace = parts.path or "/"
    return urlunsplit((parts.scheme, parts.netloc, "", "", "")), namespace


class ManagerCache:
    """Managers by origin and path, so sockets to one server share one connection.

    A closed manager leaves the cache by itself. :func:`connect` uses one default
    cache; pass your own to keep groups of connections apart.
    """

    def __init__(self) -> None:
        self._managers: dict[tuple[str, str], Manager] = {}

    def get(
        self,
        origin: str,
        namespace: str,
        *,
        force_new: bool = False,
        parser: Parser | None = None,
        **options: Unpack[ManagerKeywords],
    ) -> Manager:
        """The manager to use for ``namespace`` at ``origin`` (created when needed).

        A new manager is made when ``force_new`` is set, or when the cached one
        already has an active socket for that namespace (a second socket to the
        same namespace needs its own connection, as in the JavaScript client).
        """
        path = options.get("path", "/socket.io/")
        key = (origin, path)
        manager = self._managers.get(key)
        reuse = (
            not force_new
            and manager is not None
            and not manager.closed
            and not (namespace in manager.nsps and manager.nsps[namespace].active)
        )
        if reuse and manager is not None:
            return manager
        manager = Manager(origin, parser=parser, **options)
        if not force_new:
            self._managers[key] = manager
            manager.when_closed(lambda m: self._forget(key, m))
        return manager

    def _forget(self, key: tuple[str, str], manager: Manager) -> None:
        if self._managers.get(key) is manager:
            del self._managers[key]

    def __len__(self) -> int:
        return len(self._managers)


_DEFAULT_CACHE = ManagerCache()


async def connect(
    url: str,
    *,
    auth: Auth = None,
    force_new: bool = False,
    wait: bool = True,
    timeout: float | None = None,
    retries: int | None = None,
    ack_timeout: float | None = None,
    cache: ManagerCache | None = None,
    parser: Parser | None = None,
    **options: Unpack[ManagerKeywords],
) -> ClientSocket:
    """Connects to the namespace in ``url``'s path, reusing a manager for the same origin.

    Args:
        url: ``http://host:port/namespace`` (no path: the main namespace ``/``).
        auth: CONNECT payload, a dict or a callable asked on every connection.
        force_new: use a new manager (a separate Engine.IO connection).
        wait: wait until the namespace is joined.
        timeout: seconds to wait (``None``: as long as reconnection goes on), as
            :meth:`ClientSocket.connect`'s ``timeout``.
        retries: resend unacknowledged events this many times (``None``: off).
        ack_timeout: seconds each try waits for its acknowledgement.
        cache: the manager cache (default: one shared by the whole process).
        parser: the Socket.IO codec of a new manager.
        **options: :class:`ManagerOptions` fields (``transports``,
            ``reconnection_delay``...), used when a manager is created.

    Returns:
        The socket (connected when ``wait``).

    Raises:
        ConnectRefusedError: the server refused the namespace.
        ClientConnectionError: the server could not be reached and reconnection gave
            up (``reason``, ``status`` and ``__cause__`` say why).
        TimeoutError: ``timeout`` elapsed first.
    """
    origin, namespace = split_url(url)
    manager = (cache if cache is not None else _DEFAULT_CACHE).get(
        origin, namespace, force_new=force_new, parser=parser, **options
    )
    sock = manager.socket(namespace, auth=auth, retries=retries, ack_timeout=ack_timeout)
    if wait:
        await sock.connect(timeout=timeout)
    else:
        sock.open()
    return sock
