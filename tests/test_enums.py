"""plexio.enums: the closed sets of wire strings, whose values are the JS reference's."""

from __future__ import annotations

import orjson
import pytest

from plexio.enums import DisconnectReason, Transport, transports_of


def test_members_equal_print_and_serialise_as_the_reference_strings() -> None:
    assert Transport.POLLING == "polling" and Transport("websocket") is Transport.WEBSOCKET
    assert DisconnectReason.PING_TIMEOUT == "ping timeout"
    assert str(DisconnectReason.IO_SERVER_DISCONNECT) == "io server disconnect"
    assert f"{DisconnectReason.TRANSPORT_CLOSE}" == "transport close"
    assert orjson.loads(orjson.dumps([DisconnectReason.FORCED_CLOSE])) == ["forced close"]


def test_every_socket_io_reason_of_the_reference_is_there() -> None:
    reference = {
        "io server disconnect",
        "io client disconnect",
        "server namespace disconnect",
        "client namespace disconnect",
        "transport close",
        "transport error",
        "ping timeout",
        "parse error",
        "forced close",
        "server shutting down",
    }
    assert reference <= {reason.value for reason in DisconnectReason}


def test_the_engineio_core_reexports_the_same_enum() -> None:
    from plexio.engineio.events import DisconnectReason as EngineReason

    assert EngineReason is DisconnectReason


def test_transports_are_checked_once() -> None:
    assert transports_of(["websocket"]) == (Transport.WEBSOCKET,)
    assert transports_of((Transport.POLLING, "websocket")) == (
        Transport.POLLING,
        Transport.WEBSOCKET,
    )
    for bad in ([], ["smoke"], "websocket"):
        with pytest.raises(ValueError, match="transports"):
            transports_of(bad)
