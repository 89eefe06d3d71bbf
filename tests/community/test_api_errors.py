"""Bad input never reaches a 500: odd bytes, ids, bodies and sizes (community/api.py,
community/limits.py), and the OpenAPI documents."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from tests.community.helpers import PASSWORD, SignUp


async def test_openapi_and_docs_are_served(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert "/api/channels/{channel_id}/messages" in schema["paths"]
    assert "/api/auth/login" in schema["paths"]
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "openapi.json" in docs.text
    assert (await client.get("/api/health")).json() == {"status": "ok"}


async def test_lone_surrogates_and_nul_are_rejected_cleanly(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    raw_bodies = [
        b'{"username": "\\ud800abc", "password": "password123"}',
        b'{"username": "abc", "password": "pass\\udfffword123"}',
        b'{"username": "abc", "password": "pass\\u0000word123"}',
    ]
    for raw in raw_bodies:
        response = await client.post(
            "/api/auth/signup", content=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, raw
        response = await client.post(
            "/api/auth/login", content=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status_code in (401, 422), raw
    alice = await sign_up("alice")
    headers = {**alice.headers, "Content-Type": "application/json"}
    for raw in [
        b'{"name": "a\\ud800"}',
        b'{"name": "a\\u0000"}',
        b'{"name": "x", "description": "\\udc00"}',
    ]:
        response = await client.post("/api/communities", content=raw, headers=headers)
        assert response.status_code == 422, raw


async def test_malformed_json_and_wrong_types_are_422(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    alice = await sign_up("alice")
    for raw in [b"", b"{", b"null", b"[1,2]", b'"x"', b"\xff\xfe"]:
        response = await client.post(
            "/api/communities",
            content=raw,
            headers={**alice.headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 422, raw


async def test_out_of_range_and_non_numeric_ids_are_4xx(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    alice = await sign_up("alice")
    for community_id in ("0", "-1", str(2**63), str(10**40), "abc", "1.5"):
        for method, path in [
            ("GET", f"/api/communities/{community_id}"),
            ("POST", f"/api/communities/{community_id}/join"),
            ("GET", f"/api/channels/{community_id}/messages"),
            ("DELETE", f"/api/communities/1/members/{community_id}"),
            ("PATCH", f"/api/messages/{community_id}"),
        ]:
            response = await client.request(method, path, headers=alice.headers, json={"body": "x"})
            assert 400 <= response.status_code < 500, (method, path, response.status_code)
    largest = str(2**63 - 1)
    assert (
        await client.get(f"/api/communities/{largest}", headers=alice.headers)
    ).status_code == 404


async def test_oversized_bodies_are_413_declared_or_streamed(client: httpx.AsyncClient) -> None:
    big = b'{"username": "alice", "password": "' + b"x" * 70_000 + b'"}'
    response = await client.post(
        "/api/auth/signup", content=big, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"x" * 1000

    streamed = await client.post(
        "/api/auth/signup", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    # A body under the limit still goes through.
    ok = await client.post("/api/auth/signup", json={"username": "alice", "password": PASSWORD})
    assert ok.status_code == 201


async def test_every_limit_response_is_json_with_a_code(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    alice = await sign_up("alice")
    response = await client.get("/api/communities/5", headers=alice.headers)
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"detail", "code"}


async def test_validation_errors_neither_echo_input_nor_break_on_surrogates(
    client: httpx.AsyncClient,
) -> None:
    # Found by test_api_fuzz: FastAPI's default 422 echoed a lone surrogate and then failed
    # to encode its own response.
    for raw in [b'"\\ud800"', b'{"username": "abc", "password": "x", "\\ud800": 1}']:
        response = await client.post(
            "/api/auth/signup", content=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, raw
        assert response.json()["code"] == "invalid_input"
    response = await client.post(
        "/api/auth/signup", json={"username": "abc", "password": ["hunter2-secret"]}
    )
    assert response.status_code == 422
    assert "hunter2-secret" not in response.text
    assert response.json()["detail"][0]["loc"] == ["body", "password"]
