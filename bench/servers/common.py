"""Shared command line of the benchmark servers."""

from __future__ import annotations

import argparse
import re

from measure.procstat import raise_nofile_limit

__all__ = ["NAMESPACE_PATTERN", "ServerArgs", "parse_args"]

NAMESPACE_PATTERN: re.Pattern[str] = re.compile(r"^/socket/commu-\d+$")


class ServerArgs(argparse.Namespace):
    """Parsed server options."""

    host: str
    port: int
    mode: str
    ping_interval: float | None
    workers: int


def parse_args(description: str, modes: list[str]) -> ServerArgs:
    """Parse `--host/--port/--mode` and raise the open-file limit.

    Args:
        description: shown by `--help`.
        modes: accepted values of `--mode`; the first is the default.

    Returns:
        The parsed options.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=modes, default=modes[0])
    parser.add_argument(
        "--ping-interval", type=float, help="Engine.IO ping interval, seconds (scale runs)"
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes (plexio)")
    args = parser.parse_args(namespace=ServerArgs())
    raise_nofile_limit()
    return args
