"""Communities and channels over HTTP: create, list, join, leave, members, permissions."""

from __future__ import annotations

import httpx

from tests.community.helpers import Account, SignUp


async def _create(client: httpx.AsyncClient, owner: Account, name: str) -> dict[str, object]:
    response = await client.post(
        "/api/communities", json={"name": name, "description": "d"}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_create_lists_mine_with_general_channel(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    alice, bob = await sign_up("alice"), await sign_up("bob")
    community = await _create(client, alice, "Lounge")
    assert community["owner_id"] == alice.id
    mine = (await client.get("/api/communities", headers=alice.headers)).json()
    assert [c["id"] for c in mine] == [community["id"]]
    assert (await client.get("/api/communities", headers=bob.headers)).json() == []
    everything = (await client.get("/api/communities/all", headers=bob.headers)).json()
    assert [c["name"] for c in everything] == ["Lounge"]
    channels = (
        await client.get(f"/api/communities/{community['id']}/channels", headers=alice.headers)
    ).json()
    assert [(c["name"], c["joined"]) for c in channels] == [("general", True)]
    members = (
        await client.get(f"/api/communities/{community['id']}/members", headers=alice.headers)
    ).json()
    assert [(m["username"], m["role"]) for m in members] == [("alice", "owner")]


async def test_duplicate_community_name_is_409(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    alice, bob = await sign_up("alice"), await sign_up("bob")
    await _create(client, alice, "Lounge")
    response = await client.post("/api/communities", json={"name": " Lounge "}, headers=bob.headers)
    assert response.status_code == 409


async def test_join_leave_and_membership_rules(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    alice, bob = await sign_up("alice"), await sign_up("bob")
    cid = (await _create(client, alice, "Lounge"))["id"]
    base = f"/api/communities/{cid}"

    # Not a member yet: 403 on members and channels.
    assert (await client.get(f"{base}/members", headers=bob.headers)).status_code == 403
    assert (await client.get(f"{base}/channels", headers=bob.headers)).status_code == 403
    assert (await client.post(f"{base}/leave", headers=bob.headers)).status_code == 403

    joined = await client.post(f"{base}/join", headers=bob.headers)
    assert joined.status_code == 200
    assert joined.json()["role"] == "member"
    assert (await client.post(f"{base}/join", headers=bob.headers)).status_code == 409
    members = (await client.get(f"{base}/members", headers=bob.headers)).json()
    assert sorted(m["username"] for m in members) == ["alice", "bob"]
    mine = (await client.get("/api/communities", headers=bob.headers)).json()
    assert [c["id"] for c in mine] == [cid]

    # The owner cannot leave.
    response = await client.post(f"{base}/leave", headers=alice.headers)
    assert response.status_code == 409

    assert (await client.post(f"{base}/leave", headers=bob.headers)).status_code == 204
    assert (await client.get("/api/communities", headers=bob.headers)).json() == []
    assert (await client.get(f"{base}/members", headers=bob.headers)).status_code == 403


async def test_unknown_ids_are_404(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    alice = await sign_up("alice")
    for method, path in [
        ("GET", "/api/communities/999"),
        ("POST", "/api/communities/999/join"),
        ("POST", "/api/communities/999/leave"),
        ("GET", "/api/communities/999/members"),
        ("GET", "/api/communities/999/channels"),
        ("GET", "/api/channels/999"),
        ("POST", "/api/channels/999/join"),
        ("POST", "/api/channels/999/leave"),
        ("GET", "/api/channels/999/messages"),
        ("GET", "/api/messages/999"),
        ("DELETE", "/api/messages/999"),
    ]:
        response = await client.request(method, path, headers=alice.headers)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"] == "not_found"


async def test_owner_removes_a_member_others_cannot(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    alice, bob, carol = await sign_up("alice"), await sign_up("bob"), await sign_up("carol")
    cid = (await _create(client, alice, "Lounge"))["id"]
    base = f"/api/communities/{cid}"
    for account in (bob, carol):
        assert (await client.post(f"{base}/join", headers=account.headers)).status_code == 200

    response = await client.delete(f"{base}/members/{carol.id}", headers=bob.headers)
    assert response.status_code == 403
    response = await client.delete(f"{base}/members/{alice.id}", headers=alice.headers)
    assert response.status_code == 409
    response = await client.delete(f"{base}/members/{carol.id}", headers=alice.headers)
    assert response.status_code == 204
    response = await client.delete(f"{base}/members/{carol.id}", headers=alice.headers)
    assert response.status_code == 404
    # Removing oneself is leaving.
    response = await client.delete(f"{base}/members/{bob.id}", headers=bob.headers)
    assert response.status_code == 204
    members = (await client.get(f"{base}/members", headers=alice.headers)).json()
    assert [m["username"] for m in members] == ["alice"]


async def test_owner_updates_community(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    alice, bob = await sign_up("alice"), await sign_up("bob")
    cid = (await _create(client, alice, "Lounge"))["id"]
    await _create(client, bob, "Other")
    base = f"/api/communities/{cid}"
    await client.post(f"{base}/join", headers=bob.headers)
    assert (await client.patch(base, json={"name": "X"}, headers=bob.headers)).status_code == 403
    assert (
        await client.patch(base, json={"name": "Other"}, headers=alice.headers)
    ).status_code == 409
    response = await client.patch(
        base, json={"name": "Lounge 2", "description": "new"}, headers=alice.headers
    )
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["description"]) == ("Lounge 2", "new")
    assert (await client.get(base, headers=bob.headers)).json()["name"] == "Lounge 2"


async def test_members_pagination(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    owner = await sign_up("owner")
    cid = (await _create(client, owner, "Big"))["id"]
    for index in range(4):
        member = await sign_up(f"member{index}")
        await client.post(f"/api/communities/{cid}/join", headers=member.headers)
    seen: list[int] = []
    after: int | None = None
    for _ in range(10):
        params = {"limit": 2} if after is None else {"limit": 2, "after": after}
        page = (
            await client.get(
                f"/api/communities/{cid}/members", params=params, headers=owner.headers
            )
        ).json()
        if not page:
            break
        seen += [m["user_id"] for m in page]
        after = page[-1]["user_id"]
    assert len(seen) == 5
    assert seen == sorted(set(seen))


async def test_channels_create_join_leave(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    alice, bob, eve = await sign_up("alice"), await sign_up("bob"), await sign_up("eve")
    cid = (await _create(client, alice, "Lounge"))["id"]
    base = f"/api/communities/{cid}"

    created = await client.post(
        f"{base}/channels", json={"name": "Off Topic", "topic": "anything"}, headers=alice.headers
    )
    assert created.status_code == 201
    channel = created.json()
    assert (channel["name"], channel["topic"], channel["joined"]) == ("off-topic", "anything", True)
    duplicate = await client.post(
        f"{base}/channels", json={"name": "off-topic"}, headers=alice.headers
    )
    assert duplicate.status_code == 409

    # Outsiders can neither create, see nor join channels.
    outsider = await client.post(f"{base}/channels", json={"name": "x"}, headers=eve.headers)
    assert outsider.status_code == 403
    chan = f"/api/channels/{channel['id']}"
    assert (await client.get(chan, headers=eve.headers)).status_code == 403
    assert (await client.post(f"{chan}/join", headers=eve.headers)).status_code == 403

    await client.post(f"{base}/join", headers=bob.headers)
    listed = (await client.get(f"{base}/channels", headers=bob.headers)).json()
    assert [(c["name"], c["joined"]) for c in listed] == [("general", False), ("off-topic", False)]
    assert (await client.post(f"{chan}/leave", headers=bob.headers)).status_code == 403
    joined = await client.post(f"{chan}/join", headers=bob.headers)
    assert joined.status_code == 200
    assert joined.json()["joined"] is True
    assert (await client.post(f"{chan}/join", headers=bob.headers)).status_code == 409
    assert (await client.get(chan, headers=bob.headers)).json()["joined"] is True
    assert (await client.post(f"{chan}/leave", headers=bob.headers)).status_code == 204
    assert (await client.get(chan, headers=bob.headers)).json()["joined"] is False

    # Leaving the community drops its channel memberships.
    await client.post(f"{chan}/join", headers=bob.headers)
    await client.post(f"{base}/leave", headers=bob.headers)
    await client.post(f"{base}/join", headers=bob.headers)
    listed = (await client.get(f"{base}/channels", headers=bob.headers)).json()
    assert not any(c["joined"] for c in listed)


async def test_bad_channel_names_are_422(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    alice = await sign_up("alice")
    cid = (await _create(client, alice, "Lounge"))["id"]
    for name in ["", "   ", "bad/name", "x" * 65, "tab\tname!", 7]:
        response = await client.post(
            f"/api/communities/{cid}/channels", json={"name": name}, headers=alice.headers
        )
        assert response.status_code == 422, name
