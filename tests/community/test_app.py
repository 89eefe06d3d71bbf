"""App factory, lifespan and demo seed (community/app.py, community/seed.py)."""

from __future__ import annotations

import gc
from dataclasses import replace

import httpx
import pytest
from community.app import create_app, create_asgi_app, get_engine, get_services, get_settings
from community.db import create_sessionmaker
from community.models import Channel, ChannelMember, Community, CommunityMember, Message, User
from community.seed import DEMO_COMMUNITIES, DEMO_PASSWORD, DEMO_USERS
from community.settings import Settings
from fastapi import FastAPI
from sqlalchemy import func, select

COUNTED = (User, Community, CommunityMember, Channel, ChannelMember, Message)


async def _counts(app: FastAPI) -> dict[str, int]:
    sessionmaker = create_sessionmaker(get_engine(app))
    async with sessionmaker() as session:
        return {
            model.__tablename__: (await session.scalar(select(func.count()).select_from(model)))
            or 0
            for model in COUNTED
        }


async def _run_once(settings: Settings) -> dict[str, int]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        return await _counts(app)


async def test_demo_seed_is_complete_and_idempotent(settings: Settings) -> None:
    demo = replace(settings, seed_demo=True)
    first = await _run_once(demo)
    assert first["users"] == len(DEMO_USERS)
    assert first["communities"] == len(DEMO_COMMUNITIES) == 3
    assert first["channels"] == sum(1 + len(c.channels) for c in DEMO_COMMUNITIES)
    assert first["messages"] == sum(len(c.messages) for c in DEMO_COMMUNITIES)
    assert await _run_once(demo) == first
    assert await _run_once(settings) == first


async def test_demo_users_log_in_and_see_their_communities(settings: Settings) -> None:
    app = create_app(replace(settings, seed_demo=True))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for username, display_name in DEMO_USERS:
                response = await client.post(
                    "/api/auth/login", json={"username": username, "password": DEMO_PASSWORD}
                )
                assert response.status_code == 200, username
                assert response.json()["user"]["display_name"] == display_name
            token = response.json()["access_token"]
            mine = await client.get(
                "/api/communities", headers={"Authorization": f"Bearer {token}"}
            )
            expected = {c.name for c in DEMO_COMMUNITIES if username in (c.owner, *c.members)}
            assert {c["name"] for c in mine.json()} == expected


async def test_seed_repairs_missing_pieces(settings: Settings) -> None:
    demo = replace(settings, seed_demo=True)
    app = create_app(demo)
    async with app.router.lifespan_context(app):
        services = get_services(app)
        bob = await services.accounts.find("bob")
        lounge = await services.communities.find("Plexio Lounge")
        assert bob is not None and lounge is not None
        await services.members.leave(bob.id, lounge.id)
    app = create_app(demo)
    async with app.router.lifespan_context(app):
        services = get_services(app)
        assert await services.members.is_member(bob.id, lounge.id)
        assert len(await services.channels.of_user(bob.id, lounge.id)) == 3


async def test_app_accessors(settings: Settings) -> None:
    app = create_app(settings)
    assert get_settings(app) is settings
    assert get_services(app).limits == settings.limits
    assert create_asgi_app(settings) is not None
    bare = FastAPI()
    for accessor, name in (
        (get_settings, "settings"),
        (get_services, "services"),
        (get_engine, "engine"),
    ):
        with pytest.raises(RuntimeError, match=f"no community {name}; build it with create_app"):
            accessor(bare)
    await get_engine(app).dispose()


async def test_subscribers_registered_before_start_see_events(settings: Settings) -> None:
    app = create_app(replace(settings, seed_demo=True))
    seen: list[str] = []
    get_services(app).events.subscribe(lambda event: seen.append(type(event).__name__))
    async with app.router.lifespan_context(app):
        pass
    assert seen.count("CommunityCreated") == 3


async def test_start_up_objects_are_kept_out_of_full_collections(settings: Settings) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        # Everything alive after start-up is frozen: full passes skip it.
        assert gc.get_freeze_count() > 10_000
    # ... until the app stops.
    assert gc.get_freeze_count() == 0
