"""Several worker processes serving one port, with no sticky sessions (layer L4).

``plexio.run(sio, port=8000, workers=4)`` forks four workers that share the port
(``SO_REUSEPORT``); :mod:`plexio.workers.forward` hands a long-polling request to the worker
that owns its session. The workers share rooms and broadcasts through a cluster adapter
(e.g. ``plexio.server.adapters.redis.create_adapter``), as separate machines would.
"""

from __future__ import annotations

from plexio.workers.forward import MAX_WORKERS, WorkerForwarder, worker_of
from plexio.workers.supervisor import WorkerInfo, listening_socket, supervise

__all__ = [
    "MAX_WORKERS",
    "WorkerForwarder",
    "WorkerInfo",
    "listening_socket",
    "supervise",
    "worker_of",
]
