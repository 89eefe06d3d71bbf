"""permessage-deflate negotiation shared by the native listener and the uvicorn protocol."""

from __future__ import annotations

from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

from plexio.native.deflate import negotiate_deflate

LISTENER = ServerPerMessageDeflateFactory(server_no_context_takeover=True)


def test_a_plain_offer_is_accepted_with_the_servers_parameters() -> None:
    extension, header = negotiate_deflate("permessage-deflate", LISTENER)
    assert extension is not None and extension.local_no_context_takeover
    assert header == "permessage-deflate; server_no_context_takeover"


def test_the_first_workable_offer_wins() -> None:
    # x-webkit-deflate-frame is not ours; server_max_window_bits=7 is out of RFC 7692's range
    offer = (
        "x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=7, "
        "permessage-deflate; client_no_context_takeover"
    )
    extension, header = negotiate_deflate(offer, LISTENER)
    assert extension is not None and extension.remote_no_context_takeover
    assert header == "permessage-deflate; server_no_context_takeover; client_no_context_takeover"


def test_parameters_are_the_callers() -> None:
    uvicorn_like = ServerPerMessageDeflateFactory(
        server_max_window_bits=12, client_max_window_bits=12, compress_settings={"memLevel": 5}
    )
    extension, header = negotiate_deflate(
        "permessage-deflate; client_max_window_bits", uvicorn_like
    )
    assert extension is not None and extension.local_max_window_bits == 12
    assert "server_max_window_bits=12" in header and "client_max_window_bits=12" in header


def test_nothing_workable_or_unparsable_is_no_extension() -> None:
    assert negotiate_deflate("x-webkit-deflate-frame", LISTENER) == (None, "")
    assert negotiate_deflate("permessage-deflate; server_max_window_bits=7", LISTENER) == (None, "")
    assert negotiate_deflate("permessage-deflate; =;;", LISTENER) == (None, "")
