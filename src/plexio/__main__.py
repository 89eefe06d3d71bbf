"""``python -m plexio``: a small Socket.IO debugging client.

``listen`` connects to one or more namespaces (all on one Engine.IO connection),
prints every event received as one JSON line, and can emit one event and print its
acknowledgement::

    python -m plexio listen http://127.0.0.1:8000/chat --auth '{"token": "t"}'
    python -m plexio listen http://127.0.0.1:8000 --namespace /a --namespace /b
    python -m plexio listen http://127.0.0.1:8000/chat --emit say --data '"hi"' --data 2

Binary values are printed, and may be given to ``--data``, as ``{"$binary": "<base64>"}``.
Exit status: 0 done, 1 could not connect or refused, 3 no acknowledgement in time.
A connection failure prints its reason (``connection refused``, ``timeout``, ``tls error``,
``http status`` with the status, ...) and the underlying error.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import sys
from collections.abc import Sequence
from typing import TextIO

from plexio.client import ClientSocket, Manager, ManagerKeywords, split_url
from plexio.enums import DisconnectReason
from plexio.exceptions import AckTimeoutError, ClientConnectionError, ConnectRefusedError
from plexio.socketio.parser import Parser
from plexio.typing import EventName, JSONValue

__all__ = ["from_json", "main", "to_json"]


def to_json(value: JSONValue) -> JSONValue:
    """Makes ``value`` JSON-printable: bytes become ``{"$binary": base64}``."""
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$binary": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def from_json(value: JSONValue) -> JSONValue:
    """The inverse of :func:`to_json`: ``{"$binary": base64}`` becomes bytes."""
    if isinstance(value, dict):
        if set(value) == {"$binary"} and isinstance(value["$binary"], str):
            return base64.b64decode(value["$binary"])
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def _json_arg(text: str) -> JSONValue:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {text!r} ({exc})") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m plexio", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    listen = sub.add_parser("listen", help="connect and print every event received")
    listen.add_argument("url", help="server URL; its path is a namespace (default /)")
    listen.add_argument(
        "--namespace", "-n", action="append", default=[], help="namespace (repeatable)"
    )
    listen.add_argument("--auth", type=_json_arg, default=None, help="CONNECT auth JSON object")
    listen.add_argument("--path", default="/socket.io/", help="Engine.IO path on the server")
    listen.add_argument(
        "--transports",
        default="polling,websocket",
        help="comma-separated: polling,websocket (upgrade), or one of them",
    )
    listen.add_argument("--parser", choices=("json", "msgpack"), default="json")
    listen.add_argument("--emit", metavar="EVENT", help="emit this event once connected")
    listen.add_argument(
        "--data", type=_json_arg, action="append", default=[], help="an argument (JSON)"
    )
    listen.add_argument("--ack-timeout", type=float, default=10.0, help="seconds (default 10)")
    listen.add_argument(
        "--connect-timeout", type=float, default=20.0, help="seconds to join (default 20)"
    )
    listen.add_argument("--count", type=int, help="exit after this many events")
    listen.add_argument("--duration", type=float, help="exit after this many seconds")
    listen.add_argument(
        "--no-reconnect", action="store_true", help="exit when the connection drops"
    )
    return parser


def _describe(exc: ClientConnectionError) -> dict[str, JSONValue]:
    """The reason, HTTP status and underlying cause of a connection failure, printable."""
    info: dict[str, JSONValue] = {"message": str(exc)}
    if exc.reason is not None:
        info["reason"] = str(exc.reason)
    if exc.status is not None:
        info["status"] = exc.status
    cause = exc.__cause__
    while isinstance(cause, ClientConnectionError) and cause.__cause__ is not None:
        cause = cause.__cause__
    if cause is not None:
        info["cause"] = f"{type(cause).__name__}: {cause}"
    return info


class _Printer:
    def __init__(self, out: TextIO, count: int | None) -> None:
        self.out = out
        self.remaining = count
        self.done = asyncio.Event()

    def line(self, obj: dict[str, JSONValue]) -> None:
        self.out.write(json.dumps(to_json(obj), ensure_ascii=False) + "\n")
        self.out.flush()

    def received(self, obj: dict[str, JSONValue]) -> None:
        self.line(obj)
        if self.remaining is not None:
            self.remaining -= 1
            if self.remaining <= 0:
                self.done.set()


async def listen(args: argparse.Namespace, out: TextIO) -> int:
    """Runs the ``listen`` command; returns the exit status."""
    origin, url_namespace = split_url(args.url)
    namespaces = list(args.namespace) or [url_namespace]
    kwargs: ManagerKeywords = {
        "path": args.path,
        "transports": tuple(t.strip() for t in args.transports.split(",") if t.strip()),
        "reconnection": not args.no_reconnect,
    }
    parser: Parser | None = None
    if args.parser == "msgpack":
        from plexio.socketio.msgpack import MsgPackParser

        parser = MsgPackParser()
    printer = _Printer(out, args.count)
    if args.auth is not None and not isinstance(args.auth, dict):
        out.write(json.dumps({"error": "--auth must be a JSON object"}) + "\n")
        return 2
    failures: dict[str, ClientConnectionError] = {}
    async with Manager(origin, parser=parser, **kwargs) as io:
        socks = []
        for ns in namespaces:
            sock = io.socket(ns, auth=args.auth)

            def on_any(event: EventName, *event_args: JSONValue, _ns: str = ns) -> None:
                printer.received({"namespace": _ns, "event": event, "args": list(event_args)})

            def on_disconnect(reason: str, _ns: str = ns) -> None:
                if reason == DisconnectReason.IO_CLIENT_DISCONNECT:
                    return  # our own exit
                printer.line({"namespace": _ns, "event": "disconnect", "reason": reason})
                if args.no_reconnect:
                    printer.done.set()

            def on_connect(_sock: ClientSocket = sock) -> None:
                printer.line(
                    {
                        "namespace": _sock.namespace,
                        "event": "connect",
                        "sid": _sock.id,
                        "engine": io.engine_id,
                    }
                )

            def on_connect_error(exc: BaseException, _ns: str = ns) -> None:
                if isinstance(exc, ClientConnectionError):
                    failures[_ns] = exc

            sock.on("connect", on_connect)
            sock.on("connect_error", on_connect_error)
            sock.on_any(on_any)
            sock.on("disconnect", on_disconnect)
            socks.append(sock)
        for sock in socks:
            try:
                await sock.connect(timeout=args.connect_timeout)
            except ConnectRefusedError as exc:
                printer.line(
                    {
                        "namespace": sock.namespace,
                        "event": "connect_error",
                        "message": exc.message,
                        "data": exc.data,
                    }
                )
                return 1
            except ClientConnectionError as exc:
                printer.line({"namespace": sock.namespace, "event": "error", **_describe(exc)})
                return 1
            except TimeoutError:
                # Still retrying: say why the last attempt failed.
                line: dict[str, JSONValue] = {
                    "namespace": sock.namespace,
                    "event": "error",
                    "message": f"not connected after {args.connect_timeout} s",
                    "reason": "timeout",
                }
                last = failures.get(sock.namespace)
                if last is not None:
                    line.update(_describe(last))
                    line["message"] = f"{line['message']} (not connected after "
                    line["message"] += f"{args.connect_timeout} s)"
                printer.line(line)
                return 1
        if args.emit is not None:
            data = [from_json(d) for d in args.data]
            answer: asyncio.Future[tuple[JSONValue, ...]] = (
                asyncio.get_running_loop().create_future()
            )

            def on_ack(*result: JSONValue) -> None:
                if not answer.done():
                    answer.set_result(result)

            socks[0].timeout(args.ack_timeout).emit(args.emit, *data, callback=on_ack)
            err, *ack = await answer
            if isinstance(err, AckTimeoutError):
                printer.line({"namespace": socks[0].namespace, "error": "ack timeout"})
                return 3
            if err is not None:
                printer.line({"namespace": socks[0].namespace, "error": str(err)})
                return 1
            printer.line({"namespace": socks[0].namespace, "ack": ack})
            if args.count is None and args.duration is None:
                return 0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(args.duration):
                await printer.done.wait()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m plexio``; returns the exit status.

    Args:
        argv: the arguments (default ``sys.argv[1:]``).
    """
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(listen(args, sys.stdout))
    except KeyboardInterrupt:
        return 130
    except ValueError as exc:  # a bad URL or option
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
