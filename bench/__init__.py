"""Side-by-side benchmark harness: plexio against python-socketio 5.x and Node socket.io 4.8.

`python -m bench` (what `make bench` runs) starts each server in turn, pinned to one core, drives it
with a raw-WebSocket Engine.IO/Socket.IO load generator pinned to the other cores, and writes
tables, JSON and plots to `bench/results/`. See `bench/README.md`.
"""

from __future__ import annotations

__all__: list[str] = []
