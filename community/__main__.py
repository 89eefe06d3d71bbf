"""``python -m community``: serve the community application with uvicorn.

Listens on ``HOST``:``PORT`` (default 127.0.0.1:8000) and uses ``DATABASE_URL`` (default: the
SQLite demo database ``./community.sqlite3``, seeded with demo users on first start).
"""

from __future__ import annotations

import logging
import os
import sys

import uvicorn

from community.app import create_asgi_app
from community.settings import Settings

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Start the server and block until it stops.

    Args:
        argv: Unused; present for symmetry with other entry points.

    Returns:
        The process exit status.
    """
    host = os.environ.get("HOST", "127.0.0.1")
    port_text = os.environ.get("PORT", "8000")
    try:
        port = int(port_text)
        if not 0 <= port <= 65535:
            raise ValueError
    except ValueError:
        print(f"PORT must be a port number, got {port_text!r}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"invalid configuration: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(create_asgi_app(settings), host=host, port=port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
