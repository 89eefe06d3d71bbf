"""Both HTTP parsers of the native listener (httptools and h11) report the same thing."""

from __future__ import annotations

from typing import Literal

import pytest

from plexio.native.http import (
    BadRequest,
    RequestParser,
    UpgradeRequested,
    make_parser,
    resolve_parser,
)

Name = Literal["httptools", "h11"]
PARSERS: list[Name] = ["httptools", "h11"]


class Recorder:
    """The listener's callbacks; like the listener, reads keep-alive once the headers are in."""

    def __init__(self) -> None:
        self.events: list[tuple[str, bytes]] = []
        self.parser: RequestParser | None = None
        self.keep_alive: list[bool] = []

    def on_message_begin(self) -> None:
        self.events.append(("begin", b""))

    def on_url(self, url: bytes) -> None:
        # httptools may report a URL in pieces; the listener joins them, so do we
        if self.events and self.events[-1][0] == "url":
            url = self.events.pop()[1] + url
        self.events.append(("url", url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self.events.append(("header", name.lower() + b"=" + value))

    def on_headers_complete(self) -> None:
        self.events.append(("headers", b""))
        if self.parser is not None:
            self.keep_alive.append(self.parser.should_keep_alive())

    def on_body(self, body: bytes) -> None:
        self.events.append(("body", body))

    def on_message_complete(self) -> None:
        self.events.append(("end", b""))


def body_of(events: list[tuple[str, bytes]]) -> bytes:
    return b"".join(data for kind, data in events if kind == "body")


@pytest.mark.parametrize("name", PARSERS)
def test_pipelined_requests_fed_byte_by_byte(name: Name) -> None:
    rec = Recorder()
    parser = make_parser(rec, name)
    wire = (
        b"POST /socket.io/?EIO=4&sid=x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
        b"GET /socket.io/?EIO=4 HTTP/1.1\r\nHost: a\r\n\r\n"
    )
    for i in range(len(wire)):
        parser.feed(wire[i : i + 1])
    kinds = [kind for kind, _ in rec.events]
    assert kinds.count("begin") == 2 and kinds.count("end") == 2
    assert [u for k, u in rec.events if k == "url"] == [
        b"/socket.io/?EIO=4&sid=x",
        b"/socket.io/?EIO=4",
    ]
    assert body_of(rec.events) == b"hello"
    assert ("header", b"content-length=5") in rec.events
    assert parser.get_method() == b"GET"


@pytest.mark.parametrize("name", PARSERS)
def test_chunked_body(name: Name) -> None:
    rec = Recorder()
    parser = make_parser(rec, name)
    parser.feed(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    assert body_of(rec.events) == b"abcde"
    assert rec.events[-1] == ("end", b"")


@pytest.mark.parametrize("name", PARSERS)
@pytest.mark.parametrize(
    ("head", "keep"),
    [
        (b"GET / HTTP/1.1\r\nHost: a\r\n", True),
        (b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n", False),
        (b"GET / HTTP/1.0\r\n", False),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n", True),
    ],
)
def test_keep_alive(name: Name, head: bytes, keep: bool) -> None:
    rec = Recorder()
    rec.parser = make_parser(rec, name)
    rec.parser.feed(head + b"\r\n")
    assert rec.keep_alive == [keep]


@pytest.mark.parametrize("name", PARSERS)
def test_upgrade_hands_over_the_bytes_after_the_request(name: Name) -> None:
    rec = Recorder()
    parser = make_parser(rec, name)
    with pytest.raises(UpgradeRequested) as raised:
        parser.feed(
            b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: a\r\n"
            b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n\x81\x85frame"
        )
    assert raised.value.extra == b"\x81\x85frame"
    assert parser.should_upgrade()
    assert ("header", b"upgrade=websocket") in rec.events


@pytest.mark.parametrize("name", PARSERS)
def test_garbage_is_a_bad_request(name: Name) -> None:
    parser = make_parser(Recorder(), name)
    with pytest.raises(BadRequest):
        parser.feed(b"\x00\x01 not http at all\r\n\r\n")


def test_auto_prefers_httptools_and_explicit_missing_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert resolve_parser("auto") == "httptools"
    assert resolve_parser("h11") == "h11"
    monkeypatch.setitem(__import__("sys").modules, "httptools", None)
    assert resolve_parser("auto") == "h11"
    with pytest.raises(RuntimeError, match=r"pip install 'plexio\[fast\]'"):
        resolve_parser("httptools")
