"""Socket gateway and web page of the community application (plexio's public API only).

:class:`Gateway` serves the two socket topologies on one plexio server; :func:`create_gateway_app`
wraps the REST app so that one ASGI app serves Socket.IO (``/socket.io/``), the page (``/``)
and the REST API (``/api``)::

    api = community.app.create_app(settings)
    app = create_gateway_app(api)   # serve with uvicorn
"""

from __future__ import annotations

from fastapi import FastAPI

import plexio
from community.api import get_services
from community.gateway.gateway import Gateway
from community.gateway.options import GatewayOptions
from community.gateway.web import WEB_ROOT, WebPage

__all__ = ["WEB_ROOT", "Gateway", "GatewayOptions", "WebPage", "create_gateway_app", "get_gateway"]


def create_gateway_app(api: FastAPI, options: GatewayOptions | None = None) -> plexio.ASGIApp:
    """Wrap the REST app with the socket gateway and the web page.

    The gateway subscribes to the app's service events at once; lifespan events reach the
    REST app (migrations, demo seed), and on shutdown the gateway stops before it.

    Args:
        api: The app made by :func:`community.app.create_app`.
        options: Socket.IO settings and limits.

    Returns:
        The ASGI app to serve.
    """
    gateway = Gateway(get_services(api), options)
    api.state.community_gateway = gateway
    page = WebPage(api, on_shutdown=gateway.close)
    return plexio.ASGIApp(gateway.server, other_app=page)


def get_gateway(api: FastAPI) -> Gateway:
    """Return the gateway :func:`create_gateway_app` attached to a REST app.

    Args:
        api: The REST app.

    Returns:
        Its gateway.

    Raises:
        RuntimeError: The app has no gateway.
    """
    gateway = getattr(api.state, "community_gateway", None)
    if not isinstance(gateway, Gateway):
        raise RuntimeError("this app has no gateway; wrap it with create_gateway_app()")
    return gateway
