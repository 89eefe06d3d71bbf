"""Sign-up, log-in and bearer tokens over HTTP (community/api.py, community/security.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import jwt
from community.security import encode_token

from tests.community.helpers import PASSWORD, TEST_SECRET, SignUp


async def test_sign_up_returns_a_token_that_authenticates(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/signup",
        json={"username": "Alice", "password": PASSWORD, "display_name": "Alice A."},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["user"]["username"] == "alice"
    assert body["user"]["display_name"] == "Alice A."
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json() == body["user"]


async def test_token_is_hs256_with_expiry(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/signup", json={"username": "bob", "password": PASSWORD})
    body = response.json()
    claims = jwt.decode(body["access_token"], TEST_SECRET, algorithms=["HS256"])
    assert claims["sub"] == str(body["user"]["id"])
    assert claims["exp"] - claims["iat"] == 12 * 3600
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert int(expires_at.timestamp()) == claims["exp"]


async def test_log_in_is_case_insensitive_on_username(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    account = await sign_up("carol")
    response = await client.post(
        "/api/auth/login", json={"username": " CAROL ", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert response.json()["user"]["id"] == account.id


async def test_bad_password_and_unknown_user_get_the_same_401(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    await sign_up("dave")
    wrong = await client.post("/api/auth/login", json={"username": "dave", "password": "nope!"})
    unknown = await client.post(
        "/api/auth/login", json={"username": "nobody", "password": PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {
            "detail": "wrong username or password",
            "code": "unauthorized",
        }
    )


async def test_duplicate_username_is_409(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    await sign_up("erin")
    response = await client.post(
        "/api/auth/signup", json={"username": "ERIN", "password": PASSWORD}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"


async def test_sign_up_validation_errors_are_422(client: httpx.AsyncClient) -> None:
    cases = [
        {"username": "ab", "password": PASSWORD},
        {"username": "has space", "password": PASSWORD},
        {"username": "x" * 33, "password": PASSWORD},
        {"username": "frank", "password": "short"},
        {"username": "frank", "password": "x" * 5000},
        {"username": "frank", "password": "nul\u0000inside"},
        {"username": "frank", "password": PASSWORD, "display_name": "line\nbreak"},
        {"username": 12345, "password": PASSWORD},
        {"username": "frank"},
        {"username": "frank", "password": PASSWORD, "admin": True},
    ]
    for payload in cases:
        response = await client.post("/api/auth/signup", json=payload)
        assert response.status_code == 422, payload
    assert (
        await client.post("/api/auth/login", json={"username": "frank", "password": PASSWORD})
    ).status_code == 401


async def test_missing_malformed_and_forged_tokens_are_401(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    account = await sign_up("grace")
    forged = encode_token(
        "another-secret-" + "y" * 40, account.id, now=datetime.now(UTC), ttl=timedelta(hours=1)
    )
    header_sets: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": f"Basic {account.token}"},
        {"Authorization": f"Bearer {forged}"},
        {"Authorization": f"Bearer {account.token}x"},
    ]
    for headers in header_sets:
        response = await client.get("/api/me", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_expired_token_is_401_token_expired(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    account = await sign_up("heidi")
    issued = datetime.now(UTC) - timedelta(hours=2)
    expired = encode_token(TEST_SECRET, account.id, now=issued, ttl=timedelta(hours=1))
    response = await client.get("/api/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"
    assert "token expired" in response.headers["www-authenticate"]


async def test_token_of_a_user_id_that_does_not_exist_is_401(client: httpx.AsyncClient) -> None:
    for user_id in (999, 2**70):
        token = encode_token(TEST_SECRET, user_id, now=datetime.now(UTC), ttl=timedelta(hours=1))
        response = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401


async def test_token_without_required_claims_is_401(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    account = await sign_up("ivan")
    now = int(datetime.now(UTC).timestamp())
    payloads: list[dict[str, object]] = [
        {"sub": str(account.id), "iat": now},
        {"sub": str(account.id), "exp": now + 3600, "iat": now},  # no "typ"
        {"sub": account.id, "exp": now + 3600, "iat": now, "typ": "access"},
        {"sub": "-1", "exp": now + 3600, "iat": now, "typ": "access"},
        {"sub": str(account.id), "exp": now + 3600, "iat": now, "typ": "refresh"},
    ]
    for payload in payloads:
        token = jwt.encode(payload, TEST_SECRET, algorithm="HS256")
        response = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, payload
    none_alg = jwt.encode(
        {"sub": str(account.id), "exp": now + 3600, "iat": now, "typ": "access"},
        key=None,
        algorithm="none",
    )
    response = await client.get("/api/me", headers={"Authorization": f"Bearer {none_alg}"})
    assert response.status_code == 401
