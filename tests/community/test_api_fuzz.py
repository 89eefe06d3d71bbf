"""Property test: whatever JSON reaches the write endpoints, the answer is never a 5xx."""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.community.helpers import SignUp

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec=None, categories=None), max_size=80)
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_keys = st.sampled_from(
    ["username", "password", "display_name", "name", "description", "topic", "body", "client_id"]
)
_payloads = st.dictionaries(_keys, _json, max_size=4) | _json
_ids = st.integers() | st.text(max_size=12)
_routes = st.sampled_from(
    [
        ("POST", "/api/auth/signup"),
        ("POST", "/api/auth/login"),
        ("POST", "/api/communities"),
        ("PATCH", "/api/communities/{id}"),
        ("POST", "/api/communities/{id}/channels"),
        ("POST", "/api/channels/{id}/messages"),
        ("PATCH", "/api/messages/{id}"),
        ("GET", "/api/channels/{id}/messages?limit={id}&before={id}"),
        ("DELETE", "/api/communities/{id}/members/{id}"),
    ]
)


@pytest.fixture
async def headers(client: httpx.AsyncClient, sign_up: SignUp) -> dict[str, str]:
    """A user owning community 1, so that the fuzzed requests can reach real rows."""
    account = await sign_up("fuzzer")
    await client.post("/api/communities", json={"name": "fuzz"}, headers=account.headers)
    return {**account.headers, "Content-Type": "application/json"}


@settings(
    max_examples=150,
    deadline=None,
    # The fixtures are shared by all examples on purpose: state piles up like on a server.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(route=_routes, ident=_ids, payload=_payloads)
async def test_no_input_causes_a_server_error(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    route: tuple[str, str],
    ident: object,
    payload: object,
) -> None:
    method, template = route
    path = template.replace("{id}", quote(str(ident), safe=""))
    body = json.dumps(payload).encode()
    response = await client.request(method, path, content=body, headers=headers)
    assert response.status_code < 500, (method, path, body, response.text)
