from __future__ import annotations

import pytest

from plexio.engineio.handshake import (
    ErrorCode,
    RequestParams,
    bad_handshake_method,
    bad_request,
    forbidden,
    parse_params,
    unknown_sid,
)
from plexio.enums import Transport
from plexio.exceptions import HandshakeError

BOTH = (Transport.POLLING, Transport.WEBSOCKET)


def test_valid_params() -> None:
    polling = parse_params({"EIO": "4", "transport": "polling", "t": "x"}, BOTH)
    assert polling == RequestParams(Transport.POLLING, None)
    assert polling.transport is Transport.POLLING
    assert parse_params({"EIO": "4", "transport": "websocket", "sid": "abc"}, BOTH) == (
        RequestParams(Transport.WEBSOCKET, "abc")
    )


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"EIO": "4"}, ErrorCode.UNKNOWN_TRANSPORT),
        ({"EIO": "4", "transport": "flash"}, ErrorCode.UNKNOWN_TRANSPORT),
        ({"transport": "polling"}, ErrorCode.UNSUPPORTED_PROTOCOL_VERSION),
        ({"EIO": "3", "transport": "polling"}, ErrorCode.UNSUPPORTED_PROTOCOL_VERSION),
    ],
)
def test_bad_params(query: dict[str, str], code: ErrorCode) -> None:
    with pytest.raises(HandshakeError) as info:
        parse_params(query, BOTH)
    assert info.value.code == code and info.value.status == 400


def test_disabled_transport_is_unknown() -> None:
    with pytest.raises(HandshakeError) as info:
        parse_params({"EIO": "4", "transport": "polling"}, (Transport.WEBSOCKET,))
    assert info.value.code == ErrorCode.UNKNOWN_TRANSPORT


def test_error_constructors() -> None:
    assert (unknown_sid().code, unknown_sid().message) == (1, "Session ID unknown")
    assert (bad_request().code, bad_request().message) == (3, "Bad request")
    assert bad_handshake_method().message == "Bad handshake method"
    assert (forbidden().code, forbidden().status) == (4, 403)
