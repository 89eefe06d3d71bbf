"""``python -m topology``."""

from __future__ import annotations

import sys

from topology.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
