"""REST and the socket gateway check what clients send with the same types
(community/inputs.py): the same bad value gets the same error code through either."""

from __future__ import annotations

from typing import Any

import pytest
from community.inputs import MAX_ID

from tests.community.gateway.helpers import Clients, Live, Recorder, User, make_user

# Ids no row can have, and values that are no id at all: refused before any service runs.
NOT_IDS: list[Any] = [0, -1, MAX_ID + 1, 2**64 - 1, "abc", 1.5]


async def _rest_code(live: Live, user: User, method: str, path: str, body: object) -> str:
    response = await live.http.request(method, path, json=body, headers=user.headers)
    assert 400 <= response.status_code < 500, (method, path, response.text)
    code = response.json()["code"]
    assert isinstance(code, str)
    return code


async def _socket_code(socket: Recorder, event: str, payload: dict[str, Any]) -> str:
    ack = await socket.request(event, payload)
    assert ack["ok"] is False, (event, payload, ack)
    code = ack["error"]["code"]
    assert isinstance(code, str)
    return code


def _requests(value: Any, body: Any = "hi") -> list[tuple[str, str, object, str, dict[str, Any]]]:
    """The same request through REST (method, path, body) and the gateway (event, payload)."""
    return [
        ("PATCH", f"/api/messages/{value}", {"body": body}, "message:edit",
         {"message_id": value, "body": body}),
        ("DELETE", f"/api/messages/{value}", None, "message:delete", {"message_id": value}),
        ("POST", f"/api/channels/{value}/join", None, "channel:join", {"channel_id": value}),
        ("POST", f"/api/channels/{value}/leave", None, "channel:leave", {"channel_id": value}),
    ]  # fmt: skip


@pytest.fixture
async def alice(live: Live) -> User:
    """A user who owns a community, with a message in its #general."""
    user = await make_user(live.services, "alice")
    community = await live.services.communities.create(user.id, f"Lounge {user.id}")
    general = (await live.services.channels.of_user(user.id, community.id))[0]
    await live.services.messages.post(user.id, general.id, "first")
    return user


@pytest.mark.parametrize("topology", ["community", "single"])
async def test_a_bad_id_gets_the_same_error_through_rest_and_the_gateway(
    live: Live, clients: Clients, alice: User, topology: str
) -> None:
    (community,) = await live.services.communities.of_user(alice.id)
    if topology == "single":
        socket = await clients.single(alice)
        scope: dict[str, Any] = {"community_id": community.id}
    else:
        socket = await clients.community(alice, community.id)
        scope = {}
    checked = 0
    for value, expected in [*((v, "invalid_input") for v in NOT_IDS), (MAX_ID, "not_found")]:
        for method, path, body, event, payload in _requests(value):
            if event.startswith("channel:"):
                payload = {**payload, **scope}
            rest = await _rest_code(live, alice, method, path, body)
            gateway = await _socket_code(socket, event, payload)
            assert rest == gateway == expected, (value, path, event, rest, gateway)
            checked += 1
    assert checked == (len(NOT_IDS) + 1) * 4


async def test_a_bad_body_gets_the_same_error_through_rest_and_the_gateway(
    live: Live, clients: Clients, alice: User
) -> None:
    (community,) = await live.services.communities.of_user(alice.id)
    (general,) = await live.services.channels.of_user(alice.id, community.id)
    page = await live.services.messages.history(alice.id, general.id)
    message_id = page.messages[0].id
    socket = await clients.community(alice, community.id)
    for body in ["", "   ", "x" * 4001, "\x00", 7, None, ["hi"]]:
        rest = await _rest_code(live, alice, "PATCH", f"/api/messages/{message_id}", {"body": body})
        gateway = await _socket_code(
            socket, "message:edit", {"message_id": message_id, "body": body}
        )
        assert rest == gateway == "invalid_input", (body, rest, gateway)
        rest = await _rest_code(
            live, alice, "POST", f"/api/channels/{general.id}/messages", {"body": body}
        )
        gateway = await _socket_code(
            socket, "message:send", {"channel_id": general.id, "body": body}
        )
        assert rest == gateway == "invalid_input", (body, rest, gateway)
    assert (await live.services.messages.history(alice.id, general.id)) == page
