"""permessage-deflate negotiation (RFC 7692) for plexio's own WebSocket servers.

The native listener and plexio's WebSocket protocol for uvicorn accept a client's offer
with their own parameters (a ``ServerPerMessageDeflateFactory`` of websockets, whose
extension then compresses what the server sends); the frames' inflating side is
:class:`plexio.native.frames.Inflate`.
"""

from __future__ import annotations

from websockets.exceptions import InvalidHeader, NegotiationError
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.headers import build_extension, parse_extension

__all__ = ["negotiate_deflate"]


def negotiate_deflate(
    offer: str, factory: ServerPerMessageDeflateFactory
) -> tuple[PerMessageDeflate | None, str]:
    """Accepts the client's first workable permessage-deflate offer.

    Args:
        offer: the request's ``Sec-WebSocket-Extensions`` value.
        factory: the server's parameters.

    Returns:
        The extension and the response's ``Sec-WebSocket-Extensions`` value, or
        ``(None, "")`` when no offer is workable (or the header does not parse).
    """
    try:
        offers = parse_extension(offer)
    except InvalidHeader:
        return None, ""
    for name, params in offers:
        if name != factory.name:
            continue
        try:
            response, extension = factory.process_request_params(params, [])
        except NegotiationError:
            continue
        return extension, build_extension([(factory.name, response)])
    return None, ""
