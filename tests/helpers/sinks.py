"""A FrameSink that records what the Engine.IO server writes (no socket involved), and an
Engine.IO handler that does nothing, for the engine tests."""

from __future__ import annotations

from collections.abc import Callable

from plexio.server.engine import EngineSocket

__all__ = ["Quiet", "RecordingSink"]


class RecordingSink:
    """Keeps every frame written; ``paused`` can be set to simulate a backed-up client."""

    def __init__(self) -> None:
        self.on_drain: Callable[[], None] | None = None
        self.paused = False
        self.buffered_size = 0
        self.frames: list[str | bytes] = []
        self.closed_with: int | None = None

    reading_paused = False

    def pause_reading(self) -> None:
        self.reading_paused = True

    def resume_reading(self) -> None:
        self.reading_paused = False

    def write(self, frames: list[str | bytes]) -> None:
        self.frames.extend(frames)

    def close(self, code: int = 1000) -> None:
        self.closed_with = code


class Quiet:
    """An Engine.IO handler that takes every session and ignores what it says."""

    async def on_connect(self, socket: EngineSocket) -> None:
        pass

    def on_message(self, socket: EngineSocket, data: str | bytes) -> None:
        pass

    def on_disconnect(self, socket: EngineSocket, reason: str) -> None:
        pass
