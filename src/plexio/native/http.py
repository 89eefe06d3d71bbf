"""HTTP/1.1 request parsing for the native listener: httptools when installed, else h11.

Both parsers drive the same callbacks on the connection (``on_message_begin``,
``on_url``, ``on_header``, ``on_headers_complete``, ``on_body``,
``on_message_complete``), so the listener does not know which one runs.
``httptools`` (the ``fast`` extra) is a C parser; ``h11`` is pure Python and always
installed. A request asking for a protocol switch ends :meth:`RequestParser.feed`
with :class:`UpgradeRequested` carrying the bytes that followed it; malformed input
raises :class:`BadRequest`.
"""

from __future__ import annotations

import importlib.util
from typing import Literal, Protocol

import h11

__all__ = [
    "BadRequest",
    "HttpParserName",
    "ParserCallbacks",
    "RequestParser",
    "UpgradeRequested",
    "make_parser",
    "resolve_parser",
]

#: ``"auto"`` picks httptools when it is installed, else h11.
HttpParserName = Literal["auto", "httptools", "h11"]


class BadRequest(Exception):
    """The client sent something that is not HTTP/1.1."""


class UpgradeRequested(Exception):
    """The request asks for a protocol switch; ``extra`` is what followed it."""

    def __init__(self, extra: bytes) -> None:
        super().__init__(extra)
        self.extra = extra


class ParserCallbacks(Protocol):
    """What the connection implements (the httptools callback names)."""

    def on_message_begin(self) -> None: ...
    def on_url(self, url: bytes) -> None: ...
    def on_header(self, name: bytes, value: bytes) -> None: ...
    def on_headers_complete(self) -> None: ...
    def on_body(self, body: bytes) -> None: ...
    def on_message_complete(self) -> None: ...


class RequestParser(Protocol):
    """One connection's incoming HTTP/1.1 stream."""

    def feed(self, data: bytes) -> None:
        """Parses ``data``, calling back for each part of each request.

        Raises:
            UpgradeRequested: a request asked for a protocol switch.
            BadRequest: malformed input.
        """
        ...

    def get_method(self) -> bytes:
        """The current request's method."""
        ...

    def should_keep_alive(self) -> bool:
        """Whether the connection stays open after the current request."""
        ...

    def should_upgrade(self) -> bool:
        """Whether the current request asks for a protocol switch."""
        ...


def resolve_parser(name: HttpParserName = "auto") -> Literal["httptools", "h11"]:
    """The parser ``name`` stands for.

    Raises:
        RuntimeError: httptools was asked for and is not installed (the message names
            the extra that brings it).
    """
    if name == "h11":
        return "h11"
    available = importlib.util.find_spec("httptools") is not None
    if name == "httptools" and not available:
        raise RuntimeError(
            "http='httptools' needs httptools, which is not installed: "
            "pip install 'plexio[fast]' (or use http='auto')"
        )
    if name not in ("auto", "httptools"):
        raise ValueError(f"unknown HTTP parser {name!r}: use 'auto', 'httptools' or 'h11'")
    return "httptools" if available else "h11"


def make_parser(callbacks: ParserCallbacks, name: Literal["httptools", "h11"]) -> RequestParser:
    """A parser for one connection."""
    if name == "httptools":
        return _HttpToolsParser(callbacks)
    return _H11Parser(callbacks)


class _HttpToolsParser:
    __slots__ = ("_parser", "_upgrade_error", "_parser_error")

    def __init__(self, callbacks: ParserCallbacks) -> None:
        import httptools

        self._parser = httptools.HttpRequestParser(callbacks)
        self._upgrade_error = httptools.HttpParserUpgrade
        self._parser_error = httptools.HttpParserError

    def feed(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except self._upgrade_error as upgrade:
            raise UpgradeRequested(data[upgrade.args[0] :] if upgrade.args else b"") from None
        except self._parser_error as exc:
            raise BadRequest(str(exc)) from None

    def get_method(self) -> bytes:
        method: bytes = self._parser.get_method()
        return method

    def should_keep_alive(self) -> bool:
        return bool(self._parser.should_keep_alive())

    def should_upgrade(self) -> bool:
        return bool(self._parser.should_upgrade())


class _H11Parser:
    """h11 for one request at a time: a fresh state machine per request, fed what the
    previous one left over, so requests may be pipelined while responses are pending."""

    __slots__ = ("_callbacks", "_conn", "_method", "_keep_alive", "_upgrade")

    def __init__(self, callbacks: ParserCallbacks) -> None:
        self._callbacks = callbacks
        self._conn = h11.Connection(h11.SERVER)
        self._method = b"GET"
        self._keep_alive = True
        self._upgrade = False

    def feed(self, data: bytes) -> None:
        conn = self._conn
        conn.receive_data(data)
        callbacks = self._callbacks
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise BadRequest(str(exc)) from None
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.Request):
                self._method = event.method
                self._upgrade = False
                connection = b""
                for name, value in event.headers:
                    if name == b"connection":
                        connection += value.lower() + b","
                    elif name == b"upgrade":
                        self._upgrade = True
                if event.http_version == b"1.0":
                    self._keep_alive = b"keep-alive" in connection
                else:
                    self._keep_alive = b"close" not in connection
                self._upgrade = self._upgrade and b"upgrade" in connection
                callbacks.on_message_begin()
                callbacks.on_url(event.target)
                for name, value in event.headers:
                    callbacks.on_header(name, value)
                callbacks.on_headers_complete()
            elif isinstance(event, h11.Data):
                callbacks.on_body(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                callbacks.on_message_complete()
                rest, closed = conn.trailing_data
                if self._upgrade:
                    raise UpgradeRequested(bytes(rest))
                # the next request starts a new state machine with the leftover bytes
                conn = self._conn = h11.Connection(h11.SERVER)
                if rest:
                    conn.receive_data(bytes(rest))
                if closed:
                    conn.receive_data(b"")
            elif isinstance(event, h11.ConnectionClosed):
                return

    def get_method(self) -> bytes:
        return self._method

    def should_keep_alive(self) -> bool:
        return self._keep_alive

    def should_upgrade(self) -> bool:
        return self._upgrade
