"""The official socket.io-client in Chromium, driven by Playwright.

The measurement page (:data:`PAGE`) is served on the server's own origin through Playwright
routes (``/topology/...``: the page, ``socket.io.min.js`` from ``topology/js/node_modules``
and :file:`topology/js/scenario.js`), so the page talks to the gateway as a same-origin web
client would, through the delay proxy when there is one. Debian's ``/usr/bin/chromium``
runs headless.

* :func:`browser_costs`: what one connected user costs the page — JS heap after a forced
  GC (``HeapProfiler.collectGarbage``, ``Runtime.getHeapUsage``), main-thread task and
  script time (``Performance.getMetrics``), the sockets the manager holds;
* :func:`capture_har`: a HAR of what the browser sent and received while one user
  connected (polling requests with their bodies; WebSocket frames added to the upgrade
  request as ``_webSocketMessages``, the field Chromium's DevTools export uses).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from measure.chromium import CHROMIUM
from measure.chromium import CHROMIUM_ARGS as BASE_ARGS
from measure.chromium import launch as launch_chromium

from topology.clients import JS_DIR
from topology.model import make_token

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "PAGE",
    "ROUTED_PAGE_ARGS",
    "browser_available",
    "browser_connect",
    "browser_costs",
    "capture_har",
    "launch",
]

# The page comes from a Playwright route, which has no IP address space: Chromium's
# Local Network Access checks would then block its WebSocket to 127.0.0.1 (a page
# served by the gateway itself is same-origin and never blocked).
ROUTED_PAGE_ARGS = ("--disable-features=LocalNetworkAccessChecks",)
CHROMIUM_ARGS = [*BASE_ARGS, *ROUTED_PAGE_ARGS]
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>topology</title>
<script src="/topology/socket.io.min.js"></script>
<script src="/topology/scenario.js"></script>
</head><body>topology measurement page</body></html>
"""
_BUNDLE = JS_DIR / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"


def browser_available() -> bool:
    """Whether chromium, Playwright and the socket.io-client bundle are installed."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return False
    return CHROMIUM.exists() and _BUNDLE.exists()


@asynccontextmanager
async def launch() -> AsyncIterator[Any]:
    """Headless Debian chromium through Playwright."""
    async with launch_chromium(*ROUTED_PAGE_ARGS) as browser:
        yield browser


async def _serve_page(context: Any) -> None:
    files = {
        "/topology/page.html": (PAGE.encode(), "text/html; charset=utf-8"),
        "/topology/socket.io.min.js": (_BUNDLE.read_bytes(), "text/javascript"),
        "/topology/scenario.js": ((JS_DIR / "scenario.js").read_bytes(), "text/javascript"),
    }

    async def handle(route: Any) -> None:
        from urllib.parse import urlsplit

        body, kind = files.get(urlsplit(route.request.url).path, (b"", ""))
        if not kind:
            await route.fulfill(status=404, body=b"not found")
        else:
            await route.fulfill(status=200, body=body, content_type=kind)

    await context.route("**/topology/*", handle)


def _config(style: str, user: int, communities: list[int], websocket_only: bool) -> dict[str, Any]:
    return {
        "topology": style,
        "communities": communities,
        "token": make_token(user),
        "transports": ["websocket"] if websocket_only else ["polling", "websocket"],
    }


async def browser_connect(
    browser: Any,
    origin: str,
    style: str,
    user: int,
    communities: list[int],
    websocket_only: bool = False,
) -> dict[str, Any]:
    """One user connects from a fresh page (its own context: no connection is reused).

    Returns:
        What the page reported: ``ready_ms`` (``performance.now()`` from the first
        connect call to subscribed), ``transport`` at ready, ``sockets``.
    """
    context = await browser.new_context()
    try:
        await _serve_page(context)
        page = await context.new_page()
        await page.goto(f"{origin}/topology/page.html")
        result: dict[str, Any] = await page.evaluate(
            "cfg => topologyConnect(io, location.origin, cfg)",
            _config(style, user, communities, websocket_only),
        )
        await page.evaluate("() => topologyClose()")
    finally:
        await context.close()
    return result


async def _metrics(cdp: Any) -> dict[str, float]:
    for _ in range(2):
        await cdp.send("HeapProfiler.collectGarbage")
    heap = await cdp.send("Runtime.getHeapUsage")
    metrics = await cdp.send("Performance.getMetrics")
    values = {m["name"]: float(m["value"]) for m in metrics["metrics"]}
    return {
        "heap_bytes": float(heap["usedSize"]),
        "task_s": values.get("TaskDuration", 0.0),
        "script_s": values.get("ScriptDuration", 0.0),
        "listeners": values.get("JSEventListeners", 0.0),
    }


async def browser_costs(
    browser: Any,
    origin: str,
    style: str,
    user: int,
    communities: list[int],
    samples: int = 3,
) -> dict[str, Any]:
    """Connects one user ``samples`` times in one page (after one unmeasured warm-up
    connect); medians of what each connect cost.

    Returns:
        ``ready_ms``, ``heap_bytes`` (JS heap growth once subscribed, after GC),
        ``task_ms`` / ``script_ms`` (main-thread time of the connect), ``sockets``,
        ``transport`` (at ready) and every sample.
    """
    context = await browser.new_context()
    try:
        await _serve_page(context)
        page = await context.new_page()
        await page.goto(f"{origin}/topology/page.html")
        cdp = await context.new_cdp_session(page)
        await cdp.send("Performance.enable")
        runs = []
        for index in range(samples + 1):  # the first connect warms up, unmeasured
            before = await _metrics(cdp)
            result = await page.evaluate(
                "cfg => topologyConnect(io, location.origin, cfg)",
                _config(style, user, communities, False),
            )
            after = await _metrics(cdp)
            await page.evaluate("() => topologyClose()")
            if index == 0:
                continue
            runs.append(
                {
                    "ready_ms": float(result["ready_ms"]),
                    "transport": result["transport"],
                    "sockets": result["sockets"],
                    "heap_bytes": after["heap_bytes"] - before["heap_bytes"],
                    "task_ms": (after["task_s"] - before["task_s"]) * 1e3,
                    "script_ms": (after["script_s"] - before["script_s"]) * 1e3,
                    "listeners": after["listeners"] - before["listeners"],
                }
            )
    finally:
        await context.close()
    out: dict[str, Any] = {"samples": runs}
    for key in ("ready_ms", "heap_bytes", "task_ms", "script_ms", "listeners"):
        out[key] = statistics.median(r[key] for r in runs)
    out["sockets"] = runs[-1]["sockets"]
    out["transport"] = runs[-1]["transport"]
    return out


async def capture_har(
    browser: Any,
    origin: str,
    style: str,
    user: int,
    communities: list[int],
    path: Path,
    websocket_only: bool = False,
    settle_s: float = 1.0,
) -> dict[str, Any]:
    """Records a HAR of one user connecting (and ``settle_s`` more, for the upgrade).

    Returns:
        What the page reported (``ready_ms``, ``transport``, ``sockets``).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    context = await browser.new_context(
        record_har_path=str(path),
        record_har_content="embed",
        record_har_url_filter="**/socket.io/**",
    )
    frames: list[dict[str, Any]] = []
    try:
        await _serve_page(context)
        page = await context.new_page()

        def on_websocket(ws: Any) -> None:
            def record(kind: str) -> Any:
                def handler(payload: Any) -> None:
                    data = payload if isinstance(payload, str) else f"<{len(payload)} bytes>"
                    frames.append(
                        {
                            "url": ws.url,
                            "type": kind,
                            "time": time.time(),
                            "opcode": 1,
                            "data": data,
                        }
                    )

                return handler

            ws.on("framesent", record("send"))
            ws.on("framereceived", record("receive"))

        page.on("websocket", on_websocket)
        await page.goto(f"{origin}/topology/page.html")
        result: dict[str, Any] = await page.evaluate(
            "cfg => topologyConnect(io, location.origin, cfg)",
            _config(style, user, communities, websocket_only),
        )
        await page.wait_for_timeout(settle_s * 1000)
        await page.evaluate("() => topologyClose()")
        await page.wait_for_timeout(200)
    finally:
        await context.close()  # writes the HAR
    _add_frames(path, frames)
    return result


def _add_frames(path: Path, frames: list[dict[str, Any]]) -> None:
    """Puts WebSocket frames under their upgrade request, as DevTools' HAR export does."""
    har = json.loads(path.read_text())
    entries = har["log"]["entries"]
    for entry in entries:
        url = entry["request"]["url"]
        if "transport=websocket" not in url:
            continue
        mine = [f for f in frames if _same_socket(f["url"], url)]
        entry["_resourceType"] = "websocket"
        entry["_webSocketMessages"] = [
            {k: f[k] for k in ("type", "time", "opcode", "data")} for f in mine
        ]
    path.write_text(json.dumps(har, indent=1) + "\n")


def _same_socket(ws_url: str, http_url: str) -> bool:
    return ws_url.split("://", 1)[-1] == http_url.split("://", 1)[-1]
