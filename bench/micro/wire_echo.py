"""Bounded over-the-wire echo: server CPU (or instructions) per ack, for before/after work.

Starts one benchmark server (``plexio`` native, ``plexio-uvicorn`` or the ``ceiling``) in a
child process pinned to ``--server-cpu``, connects ``--clients`` load-generator clients
(``bench.client``, picows) from this process, runs ``--warmup`` acks, then measures exactly
``--acks`` acks (each client a closed loop, one request in flight) and stops. Bounded by
count and by ``--timeout``; the server is always terminated.

Reported: server CPU-µs per ack (``/proc/PID/task/*/schedstat``), and with ``--callgrind``
the server's instructions per ack: the server runs under ``valgrind --tool=callgrind
--instr-atstart=no`` and instrumentation is switched on (``callgrind_control -i on``) only
for the measured acks, so start-up and connects do not count. Instruction counts do not
depend on what else runs on the machine, which makes them the figure to compare a change
by on a shared machine (CPU time is printed too; under valgrind it is meaningless).

Run: ``python -m bench.micro.wire_echo --server plexio --acks 20000``;
``--callgrind`` (about 50 times slower: use a few thousand acks).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from measure.procstat import cpu_sample
from picows import ws_connect

from bench.client import SioClient, Stats, event_frame

__all__ = ["main"]

_SERVERS = {
    "plexio": ["-m", "bench.servers.plexio_server", "--mode", "native"],
    "plexio-uvicorn": ["-m", "bench.servers.plexio_server", "--mode", "uvicorn"],
    "ceiling": ["-m", "bench.servers.ceiling"],
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return
    raise TimeoutError("server did not listen in time")


async def _until(stats: Stats, count: int, deadline: float) -> None:
    while stats.ops < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {stats.ops} of {count} acks in time")
        await asyncio.sleep(0.002)


def _callgrind(pid: int, *command: str) -> None:
    subprocess.run(
        ["callgrind_control", *command, str(pid)],
        check=True,
        capture_output=True,
        timeout=60,
    )


async def _run(args: argparse.Namespace) -> None:
    port = _free_port()
    raw = args.server == "ceiling"
    command = [sys.executable, *_SERVERS[args.server], "--port", str(port)]
    out_file = ""
    if args.callgrind:
        out_file = tempfile.mktemp(prefix="wire_echo.", suffix=".callgrind")
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out_file}",
            *command,
        ]
    command = ["taskset", "-c", str(args.server_cpu), *command]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE if args.callgrind else None)
    try:
        await _wait_port(port, proc, args.timeout)
        stats = Stats()
        url = f"ws://127.0.0.1:{port}/" + ("" if raw else "socket.io/?EIO=4&transport=websocket")
        clients: list[SioClient] = []
        for _ in range(args.clients):
            _, client = await ws_connect(lambda: SioClient(stats, ("/",), raw), url)
            assert isinstance(client, SioClient)
            await asyncio.wait_for(client.ready, args.timeout)
            clients.append(client)
        payload = '"' + "x" * args.payload + '"'
        request = (
            f'["echo",{payload}]'.encode() if raw else event_frame("/", 1, f'["echo",{payload}]')
        )
        for client in clients:
            client.prepare_echo(request)
        deadline = time.monotonic() + args.timeout
        stats.running = True
        stats.recording = True
        for client in clients:
            client.send_request()
        await _until(stats, args.warmup, deadline)
        if args.callgrind:
            _callgrind(proc.pid, "-i", "on")
        spy = None
        if args.py_spy:
            spy = subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(proc.pid)]
                + ["-r", "500", "-f", "raw", "-o", args.py_spy, "--nonblocking"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            await asyncio.sleep(1.0)  # py-spy attaches
        before = cpu_sample(proc.pid)
        start_ops = stats.ops
        started = time.monotonic()
        await _until(stats, start_ops + args.acks, deadline)
        after = cpu_sample(proc.pid)
        elapsed = time.monotonic() - started
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
        if args.callgrind:
            _callgrind(proc.pid, "-i", "off")
            _callgrind(proc.pid, "--dump=measured")
        done = stats.ops - start_ops
        stats.running = False
        await asyncio.sleep(0.05)
        for client in clients:
            client.disconnect()
        cpu = (after - before).precise_s
        print(
            f"{args.server}: {done} acks, {cpu / done * 1e6:.2f} server CPU-µs per ack, "
            f"{done / elapsed:,.0f} acks/s, errors {stats.errors}"
        )
    finally:
        proc.send_signal(signal.SIGINT if args.callgrind else signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    if args.callgrind:
        # The dump asked for after the measured acks is the first part (``OUT.1``).
        dumps = sorted(Path(out_file).parent.glob(Path(out_file).name + "*"))
        text = Path(out_file + ".1").read_text(errors="replace") if dumps else ""
        match = re.search(r"^totals:\s+(\d+)", text, re.M)
        if match is None:
            print((err or b"").decode(errors="replace")[-2000:], file=sys.stderr)
            raise RuntimeError("no callgrind totals")
        total = int(match.group(1))
        print(f"{args.server}: {total / done:,.0f} instructions per ack (callgrind: {out_file}.1)")
        if not args.keep:
            for dump in dumps:
                dump.unlink()


def main() -> None:
    """Parse the command line and run one bounded measurement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=sorted(_SERVERS), default="plexio")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5000)
    parser.add_argument("--acks", type=int, default=50000)
    parser.add_argument("--payload", type=int, default=20, help="characters of the echoed string")
    parser.add_argument("--server-cpu", type=int, default=1)
    parser.add_argument("--client-cpu", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--callgrind", action="store_true")
    parser.add_argument("--py-spy", metavar="FILE", help="py-spy raw samples of the window")
    parser.add_argument("--keep", action="store_true", help="keep the callgrind output file")
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.client_cpu})
    try:
        import uvloop

        uvloop.run(_run(args))
    except ImportError:
        asyncio.run(_run(args))


if __name__ == "__main__":
    main()
