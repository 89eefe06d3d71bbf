"""What the browser saw, as a timeline: which request carried which CONNECT, in which order
the replies came.

``python -m topology.har show FILE.har`` prints the timeline of a HAR (ours, or one
exported from Chromium's DevTools: WebSocket frames are read from ``_webSocketMessages``).
``python -m topology.har capture --out DIR [--rtt-ms 50] [--n 3]`` starts a gateway
server, a delay proxy and headless chromium, records one user connecting in topologies A
and B with the official socket.io-client (polling first, the browser default), writes
``DIR/A.har`` and ``DIR/B.har`` and prints both timelines.

Each line is one event at the client: a request leaving (→), a response (its first
byte, from the HAR timings) or a frame arriving (←), with the Engine.IO / Socket.IO
packets it carried, decoded
(``CONNECT /socket/commu-3``, ``CONNECT ok /socket/commu-3``, ``EVENT subscribe``, ...).
The step column numbers the Socket.IO connection's phases: 1 the Engine.IO handshake,
2 CONNECTs sent, 3 CONNECT replies received, 4 the WebSocket upgrade probe,
5 the upgrade done.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["Event", "decode_engine_payload", "describe_packet", "main", "timeline", "render"]

_EIO = {"0": "open", "1": "close", "2": "ping", "3": "pong", "4": "message", "5": "upgrade"}
_EIO["6"] = "noop"
_SIO = {"0": "CONNECT", "1": "DISCONNECT", "2": "EVENT", "3": "ACK", "4": "CONNECT_ERROR"}
_SIO["5"] = "BINARY_EVENT"


@dataclass(frozen=True, slots=True)
class Event:
    """One thing the client saw.

    Attributes:
        t_ms: milliseconds since the first request started.
        channel: ``"GET#1"``, ``"POST#2"``, ``"WS"``.
        direction: ``"→"`` (client to server) or ``"←"``.
        packets: the decoded packets it carried.
        step: the phase number (0: none of the five).
    """

    t_ms: float
    channel: str
    direction: str
    packets: tuple[str, ...]
    step: int


def describe_packet(packet: str, upstream: bool) -> str:
    """One Engine.IO packet (``"40/socket,{...}"``) in words."""
    if not packet:
        return "(empty)"
    kind = _EIO.get(packet[0], f"?{packet[0]}")
    rest = packet[1:]
    if kind != "message":
        if kind == "open":
            try:
                sid = json.loads(rest).get("sid", "?")
            except (ValueError, AttributeError):
                sid = "?"
            return f"open sid={sid}"
        return f"{kind} {rest}".strip()
    if not rest:
        return "message (empty)"
    sio = _SIO.get(rest[0], f"?{rest[0]}")
    body = rest[1:]
    namespace = "/"
    if body.startswith("/"):
        namespace, _, body = body.partition(",")
    if sio == "CONNECT" and not upstream:
        sio = "CONNECT ok"
    if sio in ("EVENT", "ACK"):
        digits = len(body) - len(body.lstrip("0123456789"))
        ack, payload = body[:digits], body[digits:]
        name = ""
        if sio == "EVENT":
            try:
                args = json.loads(payload)
                name = f" {args[0]}" if isinstance(args, list) and args else ""
            except ValueError:
                name = ""
        suffix = f" ack={ack}" if ack else ""
        return f"{sio}{name} {namespace}{suffix}"
    return f"{sio} {namespace}"


def decode_engine_payload(text: str) -> list[str]:
    """The Engine.IO packets of a polling body (separated by ``\\x1e``)."""
    return [p for p in text.split("\x1e")] if text else []


def _ms(stamp: str | float) -> float:
    if isinstance(stamp, int | float):
        return float(stamp) * 1e3
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1e3


def _step(packets: list[str], upstream: bool, seen: set[int]) -> int:
    """The first of the five phases these packets start (0 if none)."""
    step = 0
    for p in packets:
        if p.startswith("0") and not upstream:
            step = 1
        elif p.startswith("40") and upstream:
            step = 2
        elif p.startswith("40") and not upstream:
            step = 3
        elif p == "2probe" and upstream:
            step = 4
        elif p == "5" and upstream:
            step = 5
        if step and step not in seen:
            seen.add(step)
            return step
    return 0


def _first_byte_ms(entry: dict[str, Any]) -> float:
    """When the response began to arrive, from the request's start (the HAR ``timings``
    up to ``wait``; ``connect`` includes ``ssl``). Falls back to the entry's ``time``."""
    timings = entry.get("timings", {})
    if float(timings.get("wait", -1)) < 0:
        return float(entry.get("time") or 0)
    return sum(
        max(0.0, float(timings.get(k, 0))) for k in ("blocked", "dns", "connect", "send", "wait")
    )


def timeline(har: dict[str, Any]) -> list[Event]:
    """The Socket.IO traffic of a HAR as time-ordered events."""
    entries = [
        e for e in har.get("log", {}).get("entries", []) if "/socket.io/" in e["request"]["url"]
    ]
    if not entries:
        return []
    t0 = min(_ms(e["startedDateTime"]) for e in entries)
    raw: list[tuple[float, str, str, list[str]]] = []
    counter = 0
    for entry in sorted(entries, key=lambda e: _ms(e["startedDateTime"])):
        request = entry["request"]
        transport = parse_qs(urlsplit(request["url"]).query).get("transport", ["?"])[0]
        start = _ms(entry["startedDateTime"]) - t0
        counter += 1
        if transport == "websocket":
            channel = "WS"
            raw.append((start, channel, "→", ["(upgrade request)"]))
            for message in entry.get("_webSocketMessages", []):
                upstream = message.get("type") == "send"
                raw.append(
                    (
                        _ms(message["time"]) - t0,
                        channel,
                        "→" if upstream else "←",
                        [str(message.get("data", ""))],
                    )
                )
            continue
        channel = f"{request['method']}#{counter}"
        body = (request.get("postData") or {}).get("text", "")
        raw.append((start, channel, "→", decode_engine_payload(body)))
        total = _first_byte_ms(entry)
        if total >= 0 and entry.get("response", {}).get("status", 0) > 0:
            text = entry["response"].get("content", {}).get("text", "")
            packets = decode_engine_payload(text) if request["method"] == "GET" else []
            raw.append((start + total, channel, "←", packets or [f"HTTP {text[:20]}".strip()]))
    raw.sort(key=lambda r: r[0])
    seen: set[int] = set()
    events = []
    for t, channel, direction, packets in raw:
        upstream = direction == "→"
        events.append(
            Event(
                round(t, 1),
                channel,
                direction,
                tuple(packets),
                _step(packets, upstream, seen),
            )
        )
    return events


def render(events: list[Event], title: str = "") -> str:
    """The timeline as text."""
    lines = [title] if title else []
    lines.append(f"{'t ms':>8}  {'step':4}  {'channel':9} dir  packets")
    for e in events:
        upstream = e.direction == "→"
        words = ", ".join(
            p if p.startswith("(") or p.startswith("HTTP") else describe_packet(p, upstream)
            for p in e.packets
        )
        step = str(e.step) if e.step else ""
        lines.append(f"{e.t_ms:8.1f}  {step:4}  {e.channel:9} {e.direction}   {words or '-'}")
    return "\n".join(lines)


async def _capture(out: Path, rtt_ms: float, n: int) -> int:
    from topology.browser import browser_available, capture_har, launch
    from topology.delayproxy import DelayProxy
    from topology.model import Membership, ModelParams
    from topology.runner import ServerProcess

    if not browser_available():
        print("chromium, playwright or topology/js/node_modules missing", file=sys.stderr)
        return 1
    model = ModelParams(users=2, per_user=n)
    communities = Membership(model).of_user[0]
    async with ServerProcess(model) as server, launch() as browser:
        for style in ("A", "B"):
            async with DelayProxy("127.0.0.1", server.port, rtt_ms / 2000) as proxy:
                path = out / f"{style}.har"
                result = await capture_har(
                    browser, f"http://127.0.0.1:{proxy.port}", style, 0, communities, path
                )
            events = timeline(json.loads(path.read_text()))
            title = (
                f"== {style}, N={n}, RTT {rtt_ms:g} ms: ready after {result['ready_ms']:.0f} ms "
                f"({path})"
            )
            print(render(events, title) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m topology.har")
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="print the timeline of a HAR file")
    show.add_argument("har", type=Path)
    cap = sub.add_parser("capture", help="record A and B in chromium, print the timelines")
    cap.add_argument("--out", type=Path, default=Path("topology/results/har"))
    cap.add_argument("--rtt-ms", type=float, default=50.0)
    cap.add_argument("--n", type=int, default=3, help="communities of the user")
    args = parser.parse_args(argv)
    if args.command == "show":
        print(render(timeline(json.loads(args.har.read_text())), str(args.har)))
        return 0
    if args.n < 1 or args.rtt_ms < 0:
        parser.error("--n must be >= 1 and --rtt-ms >= 0")
    return asyncio.run(_capture(args.out, args.rtt_ms, args.n))


if __name__ == "__main__":
    sys.exit(main())
