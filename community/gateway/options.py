"""Settings of the socket gateway: Socket.IO path, heartbeats and size limits.

Every limit has a default here and can be changed by passing another :class:`GatewayOptions`
to :class:`community.gateway.Gateway` (``python -m community`` reads a few from the
environment through :meth:`GatewayOptions.from_env`: pydantic-settings reads and checks the
variables declared by :class:`GatewayEnvironment`).

The variables are not fields of :class:`community.settings.Settings`: those settings are the REST
app's and the gateway's options are given to the gateway on their own
(:func:`community.gateway.create_gateway_app`); ``community.settings`` is below the gateway
(the gateway imports the services, which import the settings), so it cannot hold them.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field, field_validator

from community.settings import EnvironmentVariables

__all__ = ["DEFAULT_MAX_PAYLOAD_BYTES", "MIN_BYTES_LIMIT", "GatewayEnvironment", "GatewayOptions"]

DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024
"""Default :attr:`GatewayOptions.max_payload_bytes` (``COMMUNITY_MAX_PAYLOAD`` when unset)."""

MIN_BYTES_LIMIT = 1024
"""Least accepted :attr:`GatewayOptions.max_payload_bytes` and ``max_buffered_bytes``."""


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
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
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
            if isinstance(value, bool) or not isinstance(value, int) or value < MIN_BYTES_LIMIT:
                raise ValueError(
                    f"GatewayOptions.{name} must be an integer of at least {MIN_BYTES_LIMIT}"
                )
        burst = self.request_burst
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ValueError("GatewayOptions.request_burst must be a positive integer")
        if not self.typing_interval >= 0:
            raise ValueError("GatewayOptions.typing_interval must not be negative")

    @classmethod
    def from_env(cls) -> GatewayOptions:
        """Options with the values of the variables read by :class:`GatewayEnvironment`:
        ``COMMUNITY_CORS_ORIGINS``, ``COMMUNITY_MAX_PAYLOAD`` and ``REDIS_URL``.

        Returns:
            The options (defaults for everything not set).

        Raises:
            ValueError: A variable holds an invalid value (the message names the variable).
        """
        env = GatewayEnvironment.read()
        return cls(
            cors_allowed_origins=env.cors_allowed_origins,
            max_payload_bytes=env.max_payload_bytes,
            redis_url=env.redis_url,
        )


class GatewayEnvironment(EnvironmentVariables):
    """The environment variables of :meth:`GatewayOptions.from_env` (read by pydantic-settings).

    Surrounding whitespace is ignored and a blank variable counts as unset.

    Attributes:
        cors_allowed_origins: ``COMMUNITY_CORS_ORIGINS``, origins separated by commas
            (``None`` when unset: no CORS headers).
        max_payload_bytes: ``COMMUNITY_MAX_PAYLOAD``, bytes (at least 1024; default 65536).
        redis_url: ``REDIS_URL``, the Redis of a cluster (``None`` when unset).
    """

    cors_allowed_origins: tuple[str, ...] | None = Field(
        default=None, validation_alias="COMMUNITY_CORS_ORIGINS"
    )
    max_payload_bytes: int = Field(
        default=DEFAULT_MAX_PAYLOAD_BYTES,
        ge=MIN_BYTES_LIMIT,
        validation_alias="COMMUNITY_MAX_PAYLOAD",
    )
    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(origin.strip() for origin in value.split(",") if origin.strip())
        return value
