"""The progress line."""

from __future__ import annotations

import io

from topology.progress import Progress


def test_steps_are_counted_and_shown_one_line_each_off_a_terminal() -> None:
    stream = io.StringIO()
    progress = Progress(3, stream)
    progress.step("first")
    progress.add(1)
    progress.step("second")
    progress.note("a problem")
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("[1/3] 0:00 elapsed, ~") and lines[0].endswith("  first")
    assert lines[1].startswith("[2/4] ") and lines[1].endswith("  second")
    assert lines[2] == "a problem"
    assert progress.done == 2 and progress.total == 4
