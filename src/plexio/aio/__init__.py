"""asyncio helpers shared by the server and the client (layer L2: imports only plexio L0)."""

from __future__ import annotations

from plexio.aio.handlers import TaskOwner, ack_args, call_handler

__all__ = ["TaskOwner", "ack_args", "call_handler"]
