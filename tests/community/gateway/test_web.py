"""The page, its assets and the REST app behind one ASGI app (community/gateway/web.py)."""

from __future__ import annotations

from pathlib import Path

import httpx
from community.app import create_app, get_services
from community.settings import Settings

from community.gateway import WEB_ROOT, WebPage, create_gateway_app
from tests.community.gateway.helpers import Live
from tests.helpers.servers import running_uvicorn


async def test_page_and_assets_are_served(live: Live) -> None:
    page = await live.http.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    html = page.text
    # Everything the page loads is local: no CDN.
    for asset in ("/static/vendor/socket.io.min.js", "/static/app.js", "/static/style.css"):
        assert asset in html
        response = await live.http.get(asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 1000, asset
    assert "http://" not in html and "https://" not in html
    client = await live.http.get("/static/vendor/socket.io.min.js")
    assert client.headers["content-type"].startswith("text/javascript")
    assert b"Socket.IO v4.8" in client.content


async def test_only_known_files_are_served(live: Live) -> None:
    for path in (
        "/static/../package.json",
        "/static/vendor/socket.io.js",
        "/node_modules/socket.io-client/package.json",
        "/package.json",
    ):
        assert (await live.http.get(path)).status_code == 404, path
    response = await live.http.post("/")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    head = await live.http.head("/static/app.js")
    assert head.status_code == 200 and head.content == b""


async def test_rest_and_docs_still_answer_behind_the_page(live: Live) -> None:
    assert (await live.http.get("/api/health")).status_code == 200
    assert (await live.http.get("/openapi.json")).status_code == 200
    assert (await live.http.get("/api/me")).status_code == 401


async def test_missing_client_build_is_a_clear_503(tmp_path: Path) -> None:
    static = tmp_path / "static"
    static.mkdir()
    (static / "index.html").write_text("<!doctype html>", encoding="utf-8")

    async def fallback(scope: object, receive: object, send: object) -> None:
        raise AssertionError("the page's paths must not reach the wrapped app")

    page = WebPage(fallback, root=tmp_path)
    transport = httpx.ASGITransport(app=page)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        assert (await http.get("/")).status_code == 200
        missing = await http.get("/static/vendor/socket.io.min.js")
        assert missing.status_code == 503
        assert "make node-deps" in missing.text
        assert (await http.get("/static/app.js")).status_code == 404


def test_the_page_folder_is_the_npm_folder() -> None:
    assert (WEB_ROOT / "package.json").is_file()
    assert (WEB_ROOT / "package-lock.json").is_file()
    assert (WEB_ROOT / "static" / "index.html").is_file()


async def test_the_gateway_unsubscribes_when_the_server_stops(
    gateway_settings: Settings,
) -> None:
    api = create_app(gateway_settings)
    services = get_services(api)
    before = services.events.subscriber_count
    app = create_gateway_app(api)
    assert services.events.subscriber_count == before + 1
    async with running_uvicorn(app, lifespan="on") as server:
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            assert (await http.get("/api/health")).status_code == 200
    assert services.events.subscriber_count == before
