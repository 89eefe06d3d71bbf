"""A FrameSink that records what the Engine.IO server writes (no socket involved)."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["RecordingSink"]


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
