"""Tests of plexio.client.engine's decisions that need no server: what a failure to
connect is called, how a closed WebSocket is reported, which transports are valid."""

from __future__ import annotations

import socket
import ssl

import httpx
import pytest
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK
from websockets.frames import Close

from plexio.client.engine import connect_failure, engine_url, websocket_close_reason
from plexio.enums import DisconnectReason
from plexio.exceptions import ConnectionFailure


def wrapped(cause: BaseException) -> httpx.ConnectError:
    """What httpx raises: its own error, the OS error as the cause."""
    try:
        try:
            raise cause
        except BaseException as exc:
            raise httpx.ConnectError("connect failed") from exc
    except httpx.ConnectError as outer:
        return outer


@pytest.mark.parametrize(
    ("cause", "failure"),
    [
        (ConnectionRefusedError(111, "Connection refused"), ConnectionFailure.REFUSED),
        (socket.gaierror(-2, "Name or service not known"), ConnectionFailure.UNREACHABLE),
        (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER]"), ConnectionFailure.TLS),
        (TimeoutError(), ConnectionFailure.TIMEOUT),
        (OSError(113, "No route to host"), ConnectionFailure.UNREACHABLE),
    ],
)
def test_a_connect_failure_is_named_by_its_cause(
    cause: BaseException, failure: ConnectionFailure
) -> None:
    assert connect_failure(wrapped(cause)) is failure
    assert connect_failure(cause) is failure


def test_an_unknown_failure_is_a_protocol_error() -> None:
    assert connect_failure(ValueError("odd answer")) is ConnectionFailure.PROTOCOL


def test_a_websocket_that_closes_is_a_transport_close() -> None:
    # A clean close, and a server that died without a close frame (websockets raises
    # ConnectionClosedError with no frames): the official client says "transport close".
    assert websocket_close_reason(ConnectionClosedOK(Close(1000, ""), Close(1000, ""), True)) == (
        DisconnectReason.TRANSPORT_CLOSE
    )
    lost = ConnectionClosedError(None, None)
    assert websocket_close_reason(lost) is DisconnectReason.TRANSPORT_CLOSE
    assert websocket_close_reason(ConnectionClosedError(Close(1011, "boom"), None)) is (
        DisconnectReason.TRANSPORT_CLOSE
    )


def test_a_websocket_we_failed_for_bad_input_is_a_transport_error() -> None:
    # websockets closes with 1002/1007/1009 when the server broke the protocol.
    for code in (1002, 1007, 1009):
        exc = ConnectionClosedError(None, Close(code, "bad frame"))
        assert websocket_close_reason(exc) is DisconnectReason.TRANSPORT_ERROR


def test_engine_url() -> None:
    assert engine_url("ws://h:1/ignored", "socket.io") == "http://h:1/socket.io/"
    assert engine_url("https://h", "/x/") == "https://h/x/"
    with pytest.raises(ValueError):
        engine_url("ftp://h", "/")
