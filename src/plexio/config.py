"""Option records shared by the layers (layer L0: imports only :mod:`plexio.enums`).

Every limit has a default here and can be set per server or client; nothing is a
module or class attribute changed at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from plexio.enums import Transport, transports_of

__all__ = ["EngineOptions", "Limits", "RateLimit"]


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A per-connection input budget, checked before anything is parsed.

    Each is a rate with a burst of one second's worth; a connection over either is
    closed ("rate limited"). Polling bodies count one packet per record.

    Attributes:
        packets_per_second: Engine.IO packets (WebSocket frames, polling records).
        bytes_per_second: bytes (characters of text frames) received.
    """

    packets_per_second: float
    bytes_per_second: float

    def __post_init__(self) -> None:
        if self.packets_per_second <= 0 or self.bytes_per_second <= 0:
            raise ValueError("rate limits must be > 0")


@dataclass(frozen=True, slots=True)
class Limits:
    """Input limits enforced by the codecs.

    Attributes:
        max_http_buffer_size: largest polling body or WebSocket frame in bytes (Node's
            ``maxHttpBufferSize``; advertised to clients as ``maxPayload``).
        max_packets_per_payload: most packets one polling body may carry.
        max_attachments: most binary attachments in one Socket.IO packet.
        max_ack_id_digits: longest ack id accepted.
        max_int_digits: longest integer literal accepted in JSON payloads.
    """

    max_http_buffer_size: int = 1_000_000
    max_packets_per_payload: int = 16_384
    max_attachments: int = 10
    max_ack_id_digits: int = 16
    max_int_digits: int = 100

    def __post_init__(self) -> None:
        for name in (
            "max_http_buffer_size",
            "max_packets_per_payload",
            "max_attachments",
            "max_ack_id_digits",
            "max_int_digits",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """Engine.IO server settings.

    Attributes:
        ping_interval: seconds between server pings (handshake ``pingInterval``).
        ping_timeout: seconds to wait for a pong (handshake ``pingTimeout``).
        upgrade_timeout: seconds an upgrade may take before the probe socket is dropped.
        upgrade_noop_interval: during an upgrade (after ``2probe``), a polling GET is held
            and released with a noop at this period, so the client can pause polling
            without a burst of GETs (Node's fixed 100 ms).
        transports: transports accepted, in preference order.
        allow_upgrades: whether polling sessions may upgrade to WebSocket.
        limits: codec limits; ``limits.max_http_buffer_size`` is ``maxHttpBufferSize``.
        max_buffered_bytes: unsent bytes (queued, plus what the transport holds) of
            one session past which it is behind: volatile packets are dropped and the
            ``slow_client_grace`` clock starts.
        max_buffered_bytes_hard: unsent bytes past which a send closes the session
            at once ("slow client"): the memory one slow reader can hold is this plus
            one message. When set below ``max_buffered_bytes``, that one is used.
        slow_client_grace: seconds a session may stay over ``max_buffered_bytes``
            before it is closed ("slow client").
        close_timeout: seconds a closing connection gets to deliver what it holds
            (and finish the WebSocket close handshake) before it is aborted.
        rate_limit: a :class:`RateLimit` for what one connection may send, or
            ``None`` (the default) for none.
        shutdown_timeout: seconds a graceful shutdown may take: handlers in flight
            get until then to finish (their acknowledgements are sent), then every
            session is closed ("server shutting down") after its queued output, and
            what is left at the deadline is cancelled and aborted.
        cookie: name of the sid cookie set on the handshake, or ``None`` for none.
        handshake_timeout: seconds a connection may wait before sending the headers
            of its first (or next keep-alive) HTTP request; it is closed after that
            (native listener; under ASGI the server's own setting applies).
        max_pending_connections: most connections that have not sent a first request
            yet; one more closes the oldest of them (native listener).
        http_compression: compress polling responses with gzip or deflate, as the
            client's ``Accept-Encoding`` allows (Node's ``httpCompression``; on).
        http_compression_threshold: smallest response body compressed, in bytes.
        per_message_deflate: offer WebSocket permessage-deflate (Node's
            ``perMessageDeflate``; off). The native listener compresses each message
            on its own (``server_no_context_takeover``), so a broadcast is still
            compressed once for all its recipients; under ASGI the server decides
            (``plexio.run(server="uvicorn")`` passes this setting on).
        per_message_deflate_threshold: smallest WebSocket message compressed, in bytes.
    """

    ping_interval: float = 25.0
    ping_timeout: float = 20.0
    upgrade_timeout: float = 10.0
    upgrade_noop_interval: float = 0.1
    transports: tuple[Transport, ...] = (Transport.POLLING, Transport.WEBSOCKET)
    allow_upgrades: bool = True
    limits: Limits = field(default_factory=Limits)
    max_buffered_bytes: int = 256_000
    max_buffered_bytes_hard: int = 1_000_000
    slow_client_grace: float = 5.0
    close_timeout: float = 3.0
    shutdown_timeout: float = 10.0
    rate_limit: RateLimit | None = None
    cookie: str | None = None
    handshake_timeout: float = 10.0
    max_pending_connections: int = 1024
    http_compression: bool = True
    http_compression_threshold: int = 1024
    per_message_deflate: bool = False
    per_message_deflate_threshold: int = 1024

    def __post_init__(self) -> None:
        if self.ping_interval <= 0 or self.ping_timeout <= 0:
            raise ValueError("ping_interval and ping_timeout must be > 0")
        # Names are accepted too ("websocket"): they become Transport members.
        object.__setattr__(self, "transports", transports_of(self.transports))
        if self.upgrade_noop_interval <= 0:
            raise ValueError("upgrade_noop_interval must be > 0")
        if self.max_buffered_bytes < 1:
            raise ValueError("max_buffered_bytes must be >= 1")
        if self.slow_client_grace < 0 or self.close_timeout < 0 or self.shutdown_timeout < 0:
            raise ValueError("slow_client_grace, close_timeout, shutdown_timeout must be >= 0")
        if self.handshake_timeout <= 0:
            raise ValueError("handshake_timeout must be > 0")
        if self.max_pending_connections < 1:
            raise ValueError("max_pending_connections must be >= 1")
        if self.http_compression_threshold < 0 or self.per_message_deflate_threshold < 0:
            raise ValueError("compression thresholds must be >= 0")
