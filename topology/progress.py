"""A progress display on stderr: step count, elapsed time, an estimate of what is left.

On a terminal the line is redrawn in place; otherwise (CI, a pipe) one line per step.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60:d}:{seconds % 60:02d}"


class Progress:
    """Counts steps of a run and shows where it is.

    Args:
        total: steps expected (grows with :meth:`add`).
        stream: where to write (stderr by default).
    """

    def __init__(self, total: int = 0, stream: TextIO | None = None) -> None:
        self.total = total
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.started = time.monotonic()
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def add(self, steps: int) -> None:
        """Announces more steps."""
        self.total += steps

    def line(self, label: str) -> str:
        """The status line after the current step."""
        elapsed = time.monotonic() - self.started
        left = ""
        if 0 < self.done < self.total:
            left = f", ~{_clock(elapsed / self.done * (self.total - self.done))} left"
        width = len(str(self.total))
        return f"[{self.done:>{width}}/{self.total}] {_clock(elapsed)} elapsed{left}  {label}"

    def step(self, label: str) -> None:
        """Marks one step done and shows it."""
        self.done += 1
        self.show(label)

    def show(self, label: str) -> None:
        """Shows a status line without counting a step."""
        text = self.line(label)
        if self._tty:
            self.stream.write("\r\x1b[2K" + text[:160])
            if self.done >= self.total:
                self.stream.write("\n")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        """A message that stays (a skipped or failed step)."""
        if self._tty:
            self.stream.write("\r\x1b[2K")
        self.stream.write(text + "\n")
        self.stream.flush()
