"""Settings of the socket gateway: Socket.IO path, heartbeats and size limits.

Every limit has a default here and can be changed by passing another :class:`GatewayOptions`
to :class:`community.gateway.Gateway` (``python -m community`` reads a few from the
environment through :meth:`GatewayOptions.from_env`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["GatewayOptions"]


@dataclass(frozen=True, slots=True)
class GatewayOptions:
    """Configuration of one gateway.

    Attributes:
        path: Mount path of Socket.IO (what ``socket.io-client`` calls ``path``).
        ping_interval: Seconds between Engine.IO heartbeats.
        ping_timeout: Seconds a client may take to answer a heartbeat.
        max_payload_bytes: Largest Engine.IO message or polling body accepted from a client.
        max_buffered_bytes: Outgoing bytes queued for one slow client before volatile events
            are dropped and, after a grace period, the client is disconnected.
        connect_timeout: Seconds a client may stay connected without joining a namespace.
        cors_allowed_origins: Origins allowed to connect from another site, or ``None`` to
            send no CORS headers (the page is served from the same origin).
        drop_empty_community_namespaces: Forget a community namespace once its last socket
            has left (keeps memory bounded with many communities).
        request_burst: Requests (``message:send``, ``channel:join`` ...) one socket may make
            at once before it is slowed down.
        request_rate: Requests per second one socket may make in the long run; requests
            beyond the burst are refused with ``rate_limited``.
        typing_interval: Least seconds between two ``typing`` broadcasts of one socket;
            quicker ones are refused with ``rate_limited`` (a browser sends one every 2 s).
        redis_url: The Redis shared by the processes of a cluster (several workers, several
            machines); ``None`` for one process alone.
    """

    path: str = "/socket.io/"
    ping_interval: float = 25.0
    ping_timeout: float = 20.0
    max_payload_bytes: int = 64 * 1024
    max_buffered_bytes: int = 4_000_000
    connect_timeout: float = 45.0
    cors_allowed_origins: tuple[str, ...] | None = None
    drop_empty_community_namespaces: bool = True
    request_burst: int = 20
    request_rate: float = 5.0
    typing_interval: float = 1.0
    redis_url: str | None = None

    def __post_init__(self) -> None:
        if not self.path.startswith("/") or self.path.strip("/") in ("", "api", "static"):
            raise ValueError("GatewayOptions.path must be an absolute path of its own")
        for name in ("ping_interval", "ping_timeout", "connect_timeout", "request_rate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"GatewayOptions.{name} must be positive")
        for name in ("max_payload_bytes", "max_buffered_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1024:
                raise ValueError(f"GatewayOptions.{name} must be an integer of at least 1024")
        burst = self.request_burst
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ValueError("GatewayOptions.request_burst must be a positive integer")
        if not self.typing_interval >= 0:
            raise ValueError("GatewayOptions.typing_interval must not be negative")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GatewayOptions:
        """Read ``COMMUNITY_CORS_ORIGINS`` (comma-separated), ``COMMUNITY_MAX_PAYLOAD`` and
        ``REDIS_URL``.

        Args:
            environ: Variables to read; ``os.environ`` when omitted.

        Returns:
            The options (defaults for everything not set).

        Raises:
            ValueError: A variable holds an invalid value.
        """
        env = os.environ if environ is None else environ
        origins_text = env.get("COMMUNITY_CORS_ORIGINS", "").strip()
        origins = (
            tuple(o.strip() for o in origins_text.split(",") if o.strip()) if origins_text else None
        )
        redis_url = env.get("REDIS_URL", "").strip() or None
        payload_text = env.get("COMMUNITY_MAX_PAYLOAD", "").strip()
        if payload_text:
            try:
                payload = int(payload_text)
            except ValueError:
                raise ValueError(
                    f"COMMUNITY_MAX_PAYLOAD must be a number of bytes, got {payload_text!r}"
                ) from None
            return cls(cors_allowed_origins=origins, max_payload_bytes=payload, redis_url=redis_url)
        return cls(cors_allowed_origins=origins, redis_url=redis_url)
