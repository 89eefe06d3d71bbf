"""Messages over HTTP: posting, idempotent retries, history pagination, edit and delete."""

from __future__ import annotations

import httpx

from tests.community.helpers import Account, SignUp


async def _channel(client: httpx.AsyncClient, owner: Account, *members: Account) -> int:
    community = await client.post(
        "/api/communities", json={"name": "Lounge"}, headers=owner.headers
    )
    cid = community.json()["id"]
    channels = await client.get(f"/api/communities/{cid}/channels", headers=owner.headers)
    channel_id: int = channels.json()[0]["id"]
    for member in members:
        await client.post(f"/api/communities/{cid}/join", headers=member.headers)
        await client.post(f"/api/channels/{channel_id}/join", headers=member.headers)
    return channel_id


async def _post(client: httpx.AsyncClient, who: Account, channel_id: int, body: str) -> int:
    response = await client.post(
        f"/api/channels/{channel_id}/messages", json={"body": body}, headers=who.headers
    )
    assert response.status_code == 201, response.text
    message_id: int = response.json()["id"]
    return message_id


async def test_history_pages_cover_everything_once_newest_first(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    alice, bob = await sign_up("alice"), await sign_up("bob")
    channel_id = await _channel(client, alice, bob)
    posted = [await _post(client, (alice, bob)[i % 2], channel_id, f"m{i}") for i in range(23)]
    assert posted == sorted(posted)

    url = f"/api/channels/{channel_id}/messages"
    collected: list[dict[str, object]] = []
    before: int | None = None
    pages = 0
    for _ in range(10):
        params = {"limit": 5} if before is None else {"limit": 5, "before": before}
        response = await client.get(url, params=params, headers=bob.headers)
        assert response.status_code == 200
        page = response.json()
        pages += 1
        assert len(page["messages"]) <= 5
        collected += page["messages"]
        before = page["next_before"]
        if before is None:
            break
        # A message posted while paging lands on the first page, never shifts later ones.
        if pages == 2:
            posted_late = await _post(client, alice, channel_id, "late")
    assert pages == 5
    assert [m["id"] for m in collected] == list(reversed(posted))
    assert [m["body"] for m in collected] == [f"m{i}" for i in reversed(range(23))]
    assert collected[0]["author_username"] == "alice"

    newest = (await client.get(url, params={"limit": 1}, headers=bob.headers)).json()
    assert [m["id"] for m in newest["messages"]] == [posted_late]
    assert newest["next_before"] == posted_late


async def test_exact_multiple_of_the_page_size_ends_with_null_cursor(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    alice = await sign_up("alice")
    channel_id = await _channel(client, alice)
    for i in range(4):
        await _post(client, alice, channel_id, f"m{i}")
    url = f"/api/channels/{channel_id}/messages"
    first = (await client.get(url, params={"limit": 2}, headers=alice.headers)).json()
    second = (
        await client.get(
            url, params={"limit": 2, "before": first["next_before"]}, headers=alice.headers
        )
    ).json()
    assert [m["body"] for m in first["messages"] + second["messages"]] == ["m3", "m2", "m1", "m0"]
    assert second["next_before"] is None
    empty = (await client.get(url, params={"before": 1}, headers=alice.headers)).json()
    assert empty == {"messages": [], "next_before": None}


async def test_default_and_maximum_page_size(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    alice = await sign_up("alice")
    channel_id = await _channel(client, alice)
    url = f"/api/channels/{channel_id}/messages"
    assert (await client.get(url, headers=alice.headers)).status_code == 200
    for limit in (0, -1, 101, 10**30, "ten", 1.5):
        response = await client.get(url, params={"limit": limit}, headers=alice.headers)
        assert response.status_code == 422, limit
    for before in ("x", 1.5):
        response = await client.get(url, params={"before": before}, headers=alice.headers)
        assert response.status_code == 422, before
    for before in (0, -5, 10**30):
        response = await client.get(url, params={"before": before}, headers=alice.headers)
        assert response.status_code == 200, before


async def test_retry_with_same_client_id_returns_the_stored_message(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    alice, bob = await sign_up("alice"), await sign_up("bob")
    channel_id = await _channel(client, alice, bob)
    url = f"/api/channels/{channel_id}/messages"
    payload = {"body": "hello", "client_id": "c-1"}
    first = await client.post(url, json=payload, headers=alice.headers)
    again = await client.post(url, json=payload, headers=alice.headers)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == first.json()
    # The key is per user: bob's c-1 is another message.
    other = await client.post(url, json=payload, headers=bob.headers)
    assert other.status_code == 201
    assert other.json()["id"] != first.json()["id"]
    history = (await client.get(url, headers=alice.headers)).json()["messages"]
    assert [m["id"] for m in history] == [other.json()["id"], first.json()["id"]]


async def test_client_id_reused_in_another_channel_is_409(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    alice = await sign_up("alice")
    channel_id = await _channel(client, alice)
    cid = (await client.get(f"/api/channels/{channel_id}", headers=alice.headers)).json()[
        "community_id"
    ]
    other = await client.post(
        f"/api/communities/{cid}/channels", json={"name": "other"}, headers=alice.headers
    )
    payload = {"body": "hello", "client_id": "same"}
    first = await client.post(
        f"/api/channels/{channel_id}/messages", json=payload, headers=alice.headers
    )
    assert first.status_code == 201
    response = await client.post(
        f"/api/channels/{other.json()['id']}/messages", json=payload, headers=alice.headers
    )
    assert response.status_code == 409


async def test_non_members_cannot_read_or_post(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    alice, bob, eve = await sign_up("alice"), await sign_up("bob"), await sign_up("eve")
    channel_id = await _channel(client, alice)
    cid = (await client.get(f"/api/channels/{channel_id}", headers=alice.headers)).json()[
        "community_id"
    ]
    message_id = await _post(client, alice, channel_id, "secret")
    url = f"/api/channels/{channel_id}/messages"
    # eve is in no community; bob is in the community but not in the channel.
    await client.post(f"/api/communities/{cid}/join", headers=bob.headers)
    for who in (eve, bob):
        assert (await client.get(url, headers=who.headers)).status_code == 403
        posted = await client.post(url, json={"body": "hi"}, headers=who.headers)
        assert posted.status_code == 403
        assert (
            await client.get(f"/api/messages/{message_id}", headers=who.headers)
        ).status_code == 403


async def test_edit_and_delete_by_author_only(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    alice, bob = await sign_up("alice"), await sign_up("bob")
    channel_id = await _channel(client, alice, bob)
    message_id = await _post(client, alice, channel_id, "first version")
    url = f"/api/messages/{message_id}"

    assert (await client.patch(url, json={"body": "bob"}, headers=bob.headers)).status_code == 403
    assert (await client.delete(url, headers=bob.headers)).status_code == 403
    assert (await client.patch(url, json={"body": "  "}, headers=alice.headers)).status_code == 422

    edited = await client.patch(url, json={"body": "second version"}, headers=alice.headers)
    assert edited.status_code == 200
    assert edited.json()["body"] == "second version"
    assert edited.json()["edited_at"] is not None
    assert (await client.get(url, headers=bob.headers)).json()["body"] == "second version"

    assert (await client.delete(url, headers=alice.headers)).status_code == 204
    assert (await client.delete(url, headers=alice.headers)).status_code == 404
    assert (await client.get(url, headers=alice.headers)).status_code == 404
    assert (
        await client.patch(url, json={"body": "back"}, headers=alice.headers)
    ).status_code == 404
    history = (await client.get(f"/api/channels/{channel_id}/messages", headers=bob.headers)).json()
    assert history["messages"] == []


async def test_retry_after_delete_does_not_resurrect(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    alice = await sign_up("alice")
    channel_id = await _channel(client, alice)
    url = f"/api/channels/{channel_id}/messages"
    payload = {"body": "oops", "client_id": "k"}
    first = (await client.post(url, json=payload, headers=alice.headers)).json()
    await client.delete(f"/api/messages/{first['id']}", headers=alice.headers)
    retry = await client.post(url, json=payload, headers=alice.headers)
    assert retry.status_code == 200
    assert retry.json()["id"] == first["id"]
    assert (await client.get(url, headers=alice.headers)).json()["messages"] == []


async def test_message_validation_is_422(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    alice = await sign_up("alice")
    channel_id = await _channel(client, alice)
    url = f"/api/channels/{channel_id}/messages"
    bad_payloads: list[object] = [
        {"body": ""},
        {"body": " \n\t "},
        {"body": "x" * 4001},
        {"body": "nul\u0000byte"},
        {"body": 5},
        {"body": None},
        {"body": ["a"]},
        {"body": "ok", "client_id": ""},
        {"body": "ok", "client_id": "k" * 65},
        {"body": "ok", "client_id": "line\nbreak"},
        {"body": "ok", "client_id": 12},
        {},
        [],
        "text",
    ]
    for payload in bad_payloads:
        response = await client.post(url, json=payload, headers=alice.headers)
        assert response.status_code == 422, payload
    assert (
        await client.post(url, json={"body": "x" * 4000}, headers=alice.headers)
    ).status_code == 201
    multiline = await client.post(url, json={"body": "two\nlines\t"}, headers=alice.headers)
    assert multiline.json()["body"] == "two\nlines\t"
