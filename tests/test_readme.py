"""The quick start of README.md (and of the PyPI description) runs as printed.

Only the port changes (a free one instead of 8000). A fresh virtual environment with a
plain ``pip install`` is what the quick start promises; that is checked by hand (see
the report of issue 13) and, here, by running the same files with this environment.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]


def quick_start(doc: str) -> tuple[str, str]:
    text = (REPO / doc).read_text()
    section = text[text.index("## Quick start") :]
    section = section[: section.index("\n## ", 1)]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 2, f"{doc}: the quick start has a server and a client block"
    return blocks[0], blocks[1]


def test_readme_and_pypi_description_show_the_same_quick_start() -> None:
    assert quick_start("README.md") == quick_start("PYPI.md")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.slow
def test_quick_start_runs_as_printed(tmp_path: Path) -> None:
    server_code, client_code = quick_start("README.md")
    port = str(free_port())
    (tmp_path / "server.py").write_text(server_code.replace("8000", port))
    (tmp_path / "client.py").write_text(client_code.replace("8000", port))
    server = subprocess.Popen(
        [sys.executable, "-W", "error", "server.py"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:  # bounded: until the server accepts connections
            try:
                socket.create_connection(("127.0.0.1", int(port)), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, server.communicate()[0].decode()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.05)
        client = subprocess.run(
            [sys.executable, "-W", "error", "client.py"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert client.returncode == 0, client.stderr
        assert client.stdout == "hi\n"
    finally:
        server.terminate()
        out = server.communicate(timeout=10)[0].decode()
    assert "Traceback" not in out, out


@pytest.mark.slow
async def test_migration_guide_plexio_example_runs(tmp_path: Path) -> None:
    import asyncio

    import plexio

    text = (REPO / "docs" / "migrating-from-python-socketio.md").read_text()
    code = re.findall(r"```python\n(.*?)```", text, re.S)[-1]
    assert "plexio.run(sio, port=8000)" in code
    port = free_port()
    (tmp_path / "chat.py").write_text(code.replace("8000", str(port)))
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-W", "error", "chat.py", cwd=tmp_path, stdin=asyncio.subprocess.DEVNULL
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):  # bounded: until the server listens
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        with pytest.raises(plexio.ConnectRefusedError, match="who are you"):
            await plexio.connect(url, force_new=True, timeout=10)
        sock = await plexio.connect(url, auth={"name": "ann"}, force_new=True, timeout=10)
        said: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        sock.on("said", lambda message: said.done() or said.set_result(message))
        assert await sock.timeout(10).emit_with_ack("say", "hello") == "ok"
        assert await asyncio.wait_for(said, 10) == {"name": "ann", "text": "hello"}
        await sock.disconnect()
    finally:
        server.terminate()
        await server.wait()
