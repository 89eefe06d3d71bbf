"""The clients a measurement can drive: plexio's counting client, plexio's own client, and
the official socket.io-client under Node (``topology/js``).

Every client connects one user in a *style*:

* ``"A"``: one namespace ``/socket/commu-{id}`` per community, all opened in one tick
  (the CONNECTs are pipelined on the shared connection);
* ``"A-seq"``: the same namespaces, each awaited before the next is opened;
* ``"B"``: one CONNECT to ``/socket``, the server subscribes the user;
* ``"B-sub"``: one CONNECT to ``/socket``, then a ``subscribe`` event with an ack.

Client kinds (:data:`CLIENT_KINDS`):

* ``wire-ws`` / ``wire-polling``: the counting client of :mod:`topology.wire`
  (WebSocket only / long-polling only); counts requests, packets and round trips;
* ``node`` / ``node-ws``: socket.io-client 4.8 under Node, its default transports
  (polling first, then the WebSocket upgrade, as in browsers) / WebSocket only;
* ``chromium``: socket.io-client 4.8 in headless Chromium (:mod:`topology.browser`), its
  default transports: what a browser user gets;
* ``plexio``: plexio's :class:`plexio.client.Manager` with its default transports
  (polling first, then the upgrade).
"""

from __future__ import annotations

import asyncio
import gc
import json
import shutil
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from topology.model import MAIN_NAMESPACE, community_namespace, make_token
from topology.scenario import User

__all__ = [
    "CLIENT_KINDS",
    "JS_DIR",
    "STYLES",
    "ClientSample",
    "node_available",
    "plexio_client_cost",
    "run_client",
]

CLIENT_KINDS: tuple[str, ...] = (
    "wire-ws",
    "wire-polling",
    "node",
    "node-ws",
    "chromium",
    "plexio",
)
STYLES: tuple[str, ...] = ("A", "A-seq", "B", "B-sub")
JS_DIR = Path(__file__).resolve().parent / "js"
HOST = "127.0.0.1"


@dataclass(slots=True)
class ClientSample:
    """One user's connect as one client saw it.

    Attributes:
        ready_ms: from the first byte to subscribed to every community.
        traffic: the counting client's counters (``wire-*`` only).
        extra: what else the client reported (transport at ready, sockets, heap, CPU).
    """

    ready_ms: float
    traffic: dict[str, int]
    extra: dict[str, Any]


def node_available() -> bool:
    """Whether Node and the ``topology/js`` packages are installed."""
    return shutil.which("node") is not None and (JS_DIR / "node_modules").is_dir()


def _check(kind: str, style: str) -> None:
    if kind not in CLIENT_KINDS:
        raise ValueError(f"unknown client {kind!r} (one of {CLIENT_KINDS})")
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r} (one of {STYLES})")


async def run_client(
    kind: str,
    style: str,
    ports: list[int],
    user: int,
    communities: list[int],
    timeout: float = 60.0,
    after_ready: Any = None,
    browser: Any = None,
) -> list[ClientSample]:
    """Connects one user once per port, one after the other; returns one sample per port.

    Args:
        kind: one of :data:`CLIENT_KINDS`.
        style: one of :data:`STYLES`.
        ports: where to connect (one fresh delay proxy per sample, typically).
        user: the user id (its token is signed here).
        communities: the user's communities.
        timeout: bound on each connect, in seconds.
        after_ready: ``callable(index)`` called as soon as sample ``index`` is ready
            (in-process clients only: lets the caller snapshot its proxy at that moment).
        browser: a Playwright browser (``chromium`` only).

    Raises:
        ValueError: unknown kind or style.
        RuntimeError: the Node client failed.
    """
    _check(kind, style)
    if kind.startswith("wire-"):
        return await _run_wire(kind, style, ports, user, communities, timeout, after_ready)
    if kind == "plexio":
        return await _run_plexio(style, ports, user, communities, timeout, after_ready)
    if kind == "chromium":
        return await _run_chromium(browser, style, ports, user, communities, timeout)
    return await _run_node(kind, style, ports, user, communities, timeout)


async def _run_wire(
    kind: str,
    style: str,
    ports: list[int],
    user: int,
    communities: list[int],
    timeout: float,
    after_ready: Any,
) -> list[ClientSample]:
    transport = "websocket" if kind == "wire-ws" else "polling"
    topology = "A" if style == "A-seq" else style
    out = []
    for index, port in enumerate(ports):
        client = User(
            user, communities, topology, transport, HOST, port, timeout, sequential=style == "A-seq"
        )
        try:
            async with asyncio.timeout(timeout):
                ready = await client.connect()
            if after_ready is not None:
                after_ready(index)
            out.append(ClientSample(ready * 1e3, client.setup.as_dict(), {"transport": transport}))
        finally:
            await client.close()
    return out


async def _plexio_connect(
    style: str, url: str, user: int, communities: list[int], transports: tuple[str, ...]
) -> tuple[Any, list[Any]]:
    from plexio.client import Manager

    manager = Manager(url, transports=transports, reconnection=False)
    token = make_token(user)
    sockets: list[Any] = []
    if style in ("A", "A-seq"):
        for c in communities:
            sockets.append(manager.socket(community_namespace(c), auth={"token": token}))
        if style == "A":
            await asyncio.gather(*(s.connect() for s in sockets))
        else:
            for s in sockets:
                await s.connect()
    else:
        auth = {"token": token, "subscribe": "server"} if style == "B" else {"token": token}
        socket = manager.socket(MAIN_NAMESPACE, auth=auth)
        sockets.append(socket)
        await socket.connect()
        if style == "B-sub":
            answer = await socket.emit_with_ack("subscribe", communities, timeout=30)
            if not (isinstance(answer, dict) and answer.get("ok")):
                raise RuntimeError(f"subscribe refused: {answer}")
    return manager, sockets


async def _run_plexio(
    style: str,
    ports: list[int],
    user: int,
    communities: list[int],
    timeout: float,
    after_ready: Any,
) -> list[ClientSample]:
    out = []
    for index, port in enumerate(ports):
        start = time.perf_counter()
        manager: Any = None
        try:
            async with asyncio.timeout(timeout):
                manager, sockets = await _plexio_connect(
                    style, f"http://{HOST}:{port}", user, communities, ("polling", "websocket")
                )
            ready = time.perf_counter() - start
            if after_ready is not None:
                after_ready(index)
            extra = {"transport": manager.transport or "", "sockets": len(sockets)}
            out.append(ClientSample(ready * 1e3, {}, extra))
        finally:
            if manager is not None:
                await manager.close()
    return out


async def _run_chromium(
    browser: Any, style: str, ports: list[int], user: int, communities: list[int], timeout: float
) -> list[ClientSample]:
    if browser is None:
        raise RuntimeError("the chromium client needs a browser (topology.browser.launch)")
    from topology.browser import browser_connect

    out = []
    for port in ports:
        async with asyncio.timeout(timeout):
            result = await browser_connect(
                browser, f"http://{HOST}:{port}", style, user, communities
            )
        ready = float(result.pop("ready_ms"))
        out.append(ClientSample(ready, {}, result))
    return out


async def _run_node(
    kind: str,
    style: str,
    ports: list[int],
    user: int,
    communities: list[int],
    timeout: float,
    hold_ms: int = 0,
) -> list[ClientSample]:
    if not node_available():
        raise RuntimeError("node or topology/js/node_modules missing: run `make node-deps`")
    config = {
        "ports": ports,
        "topology": style,
        "communities": communities,
        "token": make_token(user),
        "transports": ["websocket"] if kind == "node-ws" else ["polling", "websocket"],
        "timeout_ms": int(timeout * 1000 * max(1, len(ports))),
        "hold_ms": hold_ms,
    }
    proc = await asyncio.create_subprocess_exec(
        "node",
        "--expose-gc",
        str(JS_DIR / "client.js"),
        json.dumps(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=JS_DIR,
    )
    try:
        async with asyncio.timeout(timeout * max(1, len(ports)) + 10):
            stdout, stderr = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeError("the Node client did not finish in time") from None
    if proc.returncode != 0:
        raise RuntimeError(f"the Node client failed: {stderr.decode()[-1500:]}")
    samples = json.loads(stdout.decode().strip().splitlines()[-1])["samples"]
    return [ClientSample(float(s.pop("ready_ms")), {}, s) for s in samples]


async def plexio_client_cost(
    style: str, port: int, user: int, communities: list[int], transports: tuple[str, ...]
) -> dict[str, float]:
    """What one connected user costs plexio's client in this process.

    Two connects: one timed (wall and ``time.process_time``), one under ``tracemalloc``
    (bytes still allocated once subscribed, and the growth of ``gc``'s object count).

    Returns:
        ``ready_ms``, ``cpu_us``, ``heap_bytes``, ``gc_objects``, ``sockets``.
    """
    url = f"http://{HOST}:{port}"
    gc.collect()
    cpu0 = time.process_time()
    start = time.perf_counter()
    manager, sockets = await _plexio_connect(style, url, user, communities, transports)
    ready = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    await manager.close()
    await asyncio.sleep(0.05)
    gc.collect()
    objects0 = len(gc.get_objects())
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        manager, sockets = await _plexio_connect(style, url, user, communities, transports)
        gc.collect()
        heap = tracemalloc.get_traced_memory()[0] - base
        objects = len(gc.get_objects()) - objects0
    finally:
        tracemalloc.stop()
    count = len(sockets)
    await manager.close()
    return {
        "ready_ms": ready * 1e3,
        "cpu_us": cpu * 1e6,
        "heap_bytes": float(heap),
        "gc_objects": float(objects),
        "sockets": float(count),
    }
