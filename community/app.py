"""FastAPI app factory of the community application.

:func:`create_app` wires settings, database engine, services and REST API together; the
app's lifespan runs the migrations and, when asked, seeds the demo data. :func:`create_asgi_app`
is what ``python -m community`` serves: the REST app wrapped by the socket gateway
(:func:`community.gateway.create_gateway_app`).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

import plexio
from community.api import app_state, get_services, install_error_handlers, router
from community.db import create_engine, create_sessionmaker, migrate
from community.gateway import GatewayOptions, create_gateway_app
from community.limits import BodySizeLimit
from community.security import PasswordHashing
from community.seed import seed_demo
from community.services import create_services
from community.settings import Settings

__all__ = ["create_app", "create_asgi_app", "get_engine", "get_services", "get_settings"]

logger = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    """Build the REST application.

    The engine and the services exist as soon as this returns (so the socket gateway can
    subscribe to ``get_services(app).events`` before start-up); the database is touched only
    when the lifespan starts: it upgrades the schema to the latest migration, seeds the demo
    data if ``settings.seed_demo``, and disposes of the engine on shutdown.

    Args:
        settings: The configuration.

    Returns:
        The FastAPI app, with the REST API under ``/api`` and docs at ``/docs`` and
        ``/openapi.json``.
    """
    engine = create_engine(settings.database_url, pool_size=settings.pool_size)
    services = create_services(
        create_sessionmaker(engine),
        secret=settings.secret,
        token_ttl=settings.token_ttl,
        limits=settings.limits,
        passwords=PasswordHashing(settings.password_cost),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await migrate(engine)
            if settings.seed_demo:
                await seed_demo(services)
                logger.info("demo data is in place")
            # What start-up made (modules, ORM mappings, the OpenAPI schema ...) lives as long
            # as the app: keep it out of the collector's full passes, which otherwise walk it
            # every time and pause every request meanwhile (given back at shutdown).
            gc.collect()
            gc.freeze()
            yield
        finally:
            gc.unfreeze()
            await services.close()
            await engine.dispose()

    app = FastAPI(
        title="plexio community",
        summary="Users, communities, channels and messages of the plexio community gateway.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.community_settings = settings
    app.state.community_engine = engine
    app.state.community_services = services
    app.include_router(router, prefix="/api")
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.limits.max_request_bytes)
    return app


def get_settings(app: FastAPI) -> Settings:
    """Return the settings an app made by :func:`create_app` was built with.

    Args:
        app: The app.

    Returns:
        Its settings.

    Raises:
        RuntimeError: The app was not made by ``create_app``.
    """
    return app_state(app, "settings", Settings)


def get_engine(app: FastAPI) -> AsyncEngine:
    """Return the database engine of an app made by :func:`create_app`.

    Args:
        app: The app.

    Returns:
        Its engine.

    Raises:
        RuntimeError: The app was not made by ``create_app``.
    """
    return app_state(app, "engine", AsyncEngine)


def create_asgi_app(
    settings: Settings, gateway_options: GatewayOptions | None = None
) -> plexio.ASGIApp:
    """Build the whole ASGI application served by ``python -m community``: the REST app wrapped
    by the socket gateway (Socket.IO at ``/socket.io/``, the web page at ``/``, everything else
    and the lifespan to the REST app).

    Args:
        settings: The configuration.
        gateway_options: The gateway's settings (default: read from the environment).

    Returns:
        The ASGI app.
    """
    options = gateway_options if gateway_options is not None else GatewayOptions.from_env()
    return create_gateway_app(create_app(settings), options)
