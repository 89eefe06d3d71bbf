"""Socket flows of the gateway, in both topologies, with plexio's client against uvicorn."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from community.records import ChannelRecord, CommunityRecord

from plexio import ConnectRefusedError
from tests.community.gateway.helpers import (
    Clients,
    Live,
    Recorder,
    User,
    eventually,
    make_user,
)

TOPOLOGIES = ["community", "single"]


@dataclass(frozen=True)
class World:
    """alice owns Lounge (#general, #dev); bob is in both channels, carol only in #general;
    dave is in another community, Den."""

    alice: User
    bob: User
    carol: User
    dave: User
    lounge: CommunityRecord
    general: ChannelRecord
    dev: ChannelRecord
    den: CommunityRecord
    den_general: ChannelRecord


@pytest.fixture
async def world(live: Live) -> World:
    services = live.services
    alice, bob, carol, dave = [
        await make_user(services, n) for n in ("alice", "bob", "carol", "dave")
    ]
    lounge = await services.communities.create(alice.id, f"Lounge {alice.id}")
    channels = await services.channels.of_community(alice.id, lounge.id)
    general = channels[0]
    dev = await services.channels.create(alice.id, lounge.id, "dev")
    for user in (bob, carol):
        await services.members.join(user.id, lounge.id)
        await services.channels.join(user.id, general.id)
    await services.channels.join(bob.id, dev.id)
    den = await services.communities.create(dave.id, f"Den {dave.id}")
    den_general = (await services.channels.of_community(dave.id, den.id))[0]
    return World(alice, bob, carol, dave, lounge, general, dev, den, den_general)


async def connect(clients: Clients, topology: str, user: User, community_id: int) -> Recorder:
    """Connect a user in a topology (to the community's namespace, or to /socket)."""
    if topology == "single":
        return await clients.single(user)
    return await clients.community(user, community_id)


def target(topology: str, community_id: int, channel_id: int) -> dict[str, int]:
    """The channel fields of a request: the community is implied in its own namespace."""
    if topology == "single":
        return {"community_id": community_id, "channel_id": channel_id}
    return {"channel_id": channel_id}


# ---------------------------------------------------------------------- connecting


@pytest.mark.parametrize("namespace", ["/socket", "/socket/commu-1"])
@pytest.mark.parametrize("auth", [None, {}, {"token": "not-a-token"}, {"token": 42}])
async def test_connect_without_a_valid_token_is_unauthorized(
    live: Live, clients: Clients, world: World, namespace: str, auth: dict[str, object] | None
) -> None:
    with pytest.raises(ConnectRefusedError) as refused:
        await clients.connect(None, namespace, auth=auth)
    assert refused.value.message == "unauthorized"
    assert refused.value.data["code"] == "unauthorized"


async def test_token_of_a_deleted_user_or_other_key_is_unauthorized(
    live: Live, clients: Clients, world: World
) -> None:
    forged = world.alice.token[:-4] + ("AAAA" if not world.alice.token.endswith("AAAA") else "BBBB")
    for namespace in ("/socket", f"/socket/commu-{world.lounge.id}"):
        with pytest.raises(ConnectRefusedError) as refused:
            await clients.connect(None, namespace, auth={"token": forged})
        assert refused.value.message == "unauthorized"


async def test_community_namespace_needs_membership(
    live: Live, clients: Clients, world: World
) -> None:
    with pytest.raises(ConnectRefusedError) as refused:
        await clients.community(world.dave, world.lounge.id)
    assert refused.value.message == "forbidden"
    # No namespace is made for a community that does not exist.
    with pytest.raises(ConnectRefusedError) as refused:
        await clients.community(world.dave, 999_999)
    assert refused.value.message == "Invalid namespace"
    assert "/socket/commu-999999" not in live.gateway.server.namespaces
    # The token is checked on every namespace CONNECT, also on a connection that has joined
    # another namespace already.
    manager = clients.manager()
    await clients.community(world.dave, world.den.id, manager=manager)
    with pytest.raises(ConnectRefusedError) as refused:
        await clients.community(world.dave, world.lounge.id, manager=manager)
    assert refused.value.message == "forbidden"
    with pytest.raises(ConnectRefusedError) as refused:
        await clients.connect(None, "/socket", manager=manager, auth={})
    assert refused.value.message == "unauthorized"


@pytest.mark.parametrize("namespace", ["/socket/commu-01", "/socket/commu-x", "/socket/other"])
async def test_malformed_community_namespaces_do_not_exist(
    live: Live, clients: Clients, world: World, namespace: str
) -> None:
    with pytest.raises(ConnectRefusedError) as refused:
        await clients.connect(world.alice, namespace)
    assert refused.value.message == "Invalid namespace"


# ---------------------------------------------------------------------- messages


@pytest.mark.parametrize("topology", TOPOLOGIES)
async def test_message_reaches_only_its_channel(
    live: Live, clients: Clients, world: World, topology: str
) -> None:
    alice = await connect(clients, topology, world.alice, world.lounge.id)
    bob = await connect(clients, topology, world.bob, world.lounge.id)
    carol = await connect(clients, topology, world.carol, world.lounge.id)
    dave = await connect(clients, topology, world.dave, world.den.id)

    data = await alice.ok(
        "message:send",
        {**target(topology, world.lounge.id, world.dev.id), "body": "dev only", "client_id": "m1"},
    )
    assert isinstance(data["id"], int) and data["created_at"]
    assert data["body"] == "dev only" and data["duplicate"] is False
    assert data["community_id"] == world.lounge.id and data["channel_id"] == world.dev.id
    general = await bob.ok(
        "message:send", {**target(topology, world.lounge.id, world.general.id), "body": "all"}
    )
    for recorder in (alice, bob, carol, dave):
        await recorder.sync()
    assert [m["id"] for m in alice.of("message:new")] == [data["id"], general["id"]]
    assert [m["id"] for m in bob.of("message:new")] == [data["id"], general["id"]]
    assert [m["id"] for m in carol.of("message:new")] == [general["id"]]
    assert dave.of("message:new") == []
    stored = alice.of("message:new")[0]
    assert stored["author_id"] == world.alice.id
    assert stored["author_username"] == world.alice.username


@pytest.mark.parametrize("topology", TOPOLOGIES)
async def test_a_retry_with_the_same_client_id_is_stored_once(
    live: Live, clients: Clients, world: World, topology: str
) -> None:
    bob = await connect(clients, topology, world.bob, world.lounge.id)
    carol = await connect(clients, topology, world.carol, world.lounge.id)
    payload = {
        **target(topology, world.lounge.id, world.general.id),
        "body": "once",
        "client_id": "retry-me",
    }
    first = await bob.ok("message:send", payload)
    second = await bob.ok("message:send", payload)
    assert second["id"] == first["id"] and second["created_at"] == first["created_at"]
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    await carol.sync()
    assert [m["id"] for m in carol.of("message:new")] == [first["id"]]
    page = await live.services.messages.history(world.carol.id, world.general.id)
    assert [m.body for m in page.messages].count("once") == 1


@pytest.mark.parametrize("topology", TOPOLOGIES)
async def test_concurrent_duplicates_from_two_tabs_store_one_message(
    live: Live, clients: Clients, world: World, topology: str
) -> None:
    # Two sockets of bob send the same client_id at the same time, several times over: the
    # sends meet in one group commit, and exactly one of each pair is stored and broadcast.
    tabs = [await connect(clients, topology, world.bob, world.lounge.id) for _ in range(2)]
    carol = await connect(clients, topology, world.carol, world.lounge.id)
    channel = target(topology, world.lounge.id, world.general.id)
    before = live.services.writer.transactions
    acks = await asyncio.gather(
        *(
            tab.ok("message:send", {**channel, "body": f"twice {i}", "client_id": f"both-{i}"})
            for i in range(5)
            for tab in tabs
        )
    )
    assert live.services.writer.transactions - before < len(acks)
    for i in range(5):
        pair = acks[2 * i : 2 * i + 2]
        assert pair[0]["id"] == pair[1]["id"]
        assert sorted(a["duplicate"] for a in pair) == [False, True]
    await carol.sync()
    stored = sorted(a["id"] for a in acks[::2])
    assert sorted(m["id"] for m in carol.of("message:new")) == stored
    page = await live.services.messages.history(world.carol.id, world.general.id)
    assert sorted(m.id for m in page.messages) == stored


@pytest.mark.parametrize("topology", TOPOLOGIES)
async def test_leaving_a_channel_refuses_sends_to_it_at_once(
    live: Live, clients: Clients, world: World, topology: str
) -> None:
    bob = await connect(clients, topology, world.bob, world.lounge.id)
    channel = target(topology, world.lounge.id, world.dev.id)
    await bob.ok("message:send", {**channel, "body": "still in"})
    response = await live.http.post(
        f"/api/channels/{world.dev.id}/leave", headers=world.bob.headers
    )
    assert response.status_code == 204
    # No wait: the leave's event took the socket out of the room before the REST answer.
    refused = await bob.request("message:send", {**channel, "body": "gone"})
    assert refused["error"]["code"] == "forbidden"
    page = await live.services.messages.history(world.alice.id, world.dev.id)
    assert [m.body for m in page.messages] == ["still in"]


@pytest.mark.parametrize("topology", TOPOLOGIES)
async def test_rest_messages_are_broadcast_too(
    live: Live, clients: Clients, world: World, topology: str
) -> None:
    carol = await connect(clients, topology, world.carol, world.lounge.id)
    response = await live.http.post(
        f"/api/channels/{world.general.id}/messages",
        json={"body": "from REST"},
        headers=world.alice.headers,
    )
    assert response.status_code == 201
    await eventually(lambda: carol.of("message:new"))
    assert carol.of("message:new")[0]["body"] == "from REST"


@pytest.mark.parametrize("topology", TOPOLOGIES)
async def test_bad_requests_are_refused_with_a_code(
    live: Live, clients: Clients, world: World, topology: str
) -> None:
    carol = await connect(clients, topology, world.carol, world.lounge.id)
    chan = target(topology, world.lounge.id, world.general.id)
    cases: list[tuple[object, str]] = [
        ("not an object", "invalid_input"),
        (None, "invalid_input"),
        ({**chan, "body": ""}, "invalid_input"),
        ({**chan, "body": "x" * 4001}, "invalid_input"),
        ({**chan, "body": 7}, "invalid_input"),
        ({**chan, "body": "hi", "client_id": "a\nb"}, "invalid_input"),
        ({**chan, "channel_id": "1", "body": "hi"}, "invalid_input"),
        ({**chan, "channel_id": True, "body": "hi"}, "invalid_input"),
        ({**chan, "channel_id": 2**63, "body": "hi"}, "invalid_input"),
        ({**target(topology, world.lounge.id, world.dev.id), "body": "hi"}, "forbidden"),
        ({**target(topology, world.den.id, world.den_general.id), "body": "hi"}, "forbidden"),
    ]
    if topology == "single":
        cases.append(({"channel_id": world.general.id, "body": "hi"}, "invalid_input"))
    else:
        cases.append(({**chan, "community_id": world.den.id, "body": "hi"}, "invalid_input"))
    for payload, code in cases:
        ack = await carol.request("message:send", payload)
        assert ack["ok"] is False, payload
        assert ack["error"]["code"] == code, (payload, ack)
        assert isinstance(ack["error"]["message"], str)
    page = await live.services.messages.history(world.carol.id, world.general.id)
    assert page.messages == ()
    # Shapes are checked by plexio from the declared payload types, before the handler.
    ack = await carol.request("message:send", {**chan, "channel_id": "1", "body": "hi"})
    assert ack["error"]["message"].startswith("message:send: argument 0: channel_id: ")
    # The socket is still usable.
    await carol.ok("message:send", {**chan, "body": "still here"})


@pytest.mark.parametrize("topology", TOPOLOGIES)
async def test_edit_and_delete_reach_the_channel(
    live: Live, clients: Clients, world: World, topology: str
) -> None:
    bob = await connect(clients, topology, world.bob, world.lounge.id)
    carol = await connect(clients, topology, world.carol, world.lounge.id)
    chan = target(topology, world.lounge.id, world.general.id)
    sent = await bob.ok("message:send", {**chan, "body": "draft"})
    refused = await carol.request("message:edit", {"message_id": sent["id"], "body": "mine now"})
    assert refused["error"]["code"] == "forbidden"
    edited = await bob.ok("message:edit", {"message_id": sent["id"], "body": "final"})
    assert edited["body"] == "final" and edited["edited_at"]
    refused = await carol.request("message:delete", {"message_id": sent["id"]})
    assert refused["error"]["code"] == "forbidden"
    deleted = await bob.ok("message:delete", {"message_id": sent["id"]})
    assert deleted == {
        "id": sent["id"],
        "channel_id": world.general.id,
        "community_id": world.lounge.id,
    }
    gone = await bob.request("message:edit", {"message_id": sent["id"], "body": "again"})
    assert gone["error"]["code"] == "not_found"
    await carol.sync()
    assert [e["body"] for e in carol.of("message:edited")] == ["final"]
    assert carol.of("message:deleted") == [deleted]


# ---------------------------------------------------------------------- typing and presence


@pytest.mark.parametrize("topology", TOPOLOGIES)
async def test_typing_goes_to_the_other_channel_members(
    live: Live, clients: Clients, world: World, topology: str
) -> None:
    alice = await connect(clients, topology, world.alice, world.lounge.id)
    bob = await connect(clients, topology, world.bob, world.lounge.id)
    carol = await connect(clients, topology, world.carol, world.lounge.id)
    ack = await bob.request("typing", target(topology, world.lounge.id, world.dev.id))
    assert ack["ok"] is True
    refused = await carol.request("typing", target(topology, world.lounge.id, world.dev.id))
    assert refused["error"]["code"] == "forbidden"
    for recorder in (alice, bob, carol):
        await recorder.sync()
    assert alice.of("typing") == [
        {
            "community_id": world.lounge.id,
            "channel_id": world.dev.id,
            "user_id": world.bob.id,
            "username": world.bob.username,
            "display_name": world.bob.username,
        }
    ]
    assert bob.of("typing") == [] and carol.of("typing") == []


def statuses(recorder: Recorder, community_id: int, user_id: int) -> list[str]:
    return [
        p["status"]
        for p in recorder.of("presence")
        if p["community_id"] == community_id and p["user_id"] == user_id
    ]


@pytest.mark.parametrize("topology", TOPOLOGIES)
async def test_presence_counts_several_tabs_once(
    live: Live, clients: Clients, world: World, topology: str
) -> None:
    alice = await connect(clients, topology, world.alice, world.lounge.id)
    state = alice.of("presence:state")
    assert {"community_id": world.lounge.id, "online": [world.alice.id]} in state
    tab1 = await connect(clients, topology, world.bob, world.lounge.id)
    # A second tab, in the other topology: still one user.
    other = "single" if topology == "community" else "community"
    tab2 = await connect(clients, other, world.bob, world.lounge.id)
    assert {"community_id": world.lounge.id, "online": [world.alice.id, world.bob.id]} in (
        tab2.of("presence:state")
    )
    await eventually(lambda: statuses(alice, world.lounge.id, world.bob.id) == ["online"] * 2)
    presence = await alice.ok("presence:get", {"community_id": world.lounge.id})
    assert presence == {"community_id": world.lounge.id, "online": [world.alice.id, world.bob.id]}

    await tab1.socket.disconnect()
    await alice.sync()
    await eventually(lambda: live.gateway.pending_tasks == 0)
    await alice.sync()
    assert "offline" not in statuses(alice, world.lounge.id, world.bob.id)
    await tab2.socket.disconnect()
    await eventually(lambda: statuses(alice, world.lounge.id, world.bob.id)[-1:] == ["offline"])
    presence = await alice.ok("presence:get", {"community_id": world.lounge.id})
    assert presence["online"] == [world.alice.id]


async def test_presence_get_needs_membership(live: Live, clients: Clients, world: World) -> None:
    dave = await clients.single(world.dave)
    refused = await dave.request("presence:get", {"community_id": world.lounge.id})
    assert refused["error"]["code"] == "forbidden"


# ---------------------------------------------------------------------- channels


@pytest.mark.parametrize("topology", TOPOLOGIES)
async def test_channel_join_and_leave(
    live: Live, clients: Clients, world: World, topology: str
) -> None:
    alice = await connect(clients, topology, world.alice, world.lounge.id)
    carol = await connect(clients, topology, world.carol, world.lounge.id)
    dev = target(topology, world.lounge.id, world.dev.id)
    joined = await carol.ok("channel:join", dev)
    assert joined["id"] == world.dev.id
    again = await carol.request("channel:join", dev)
    assert again["error"]["code"] == "conflict"
    assert carol.of("channel:joined")[-1]["id"] == world.dev.id
    first = await alice.ok("message:send", {**dev, "body": "welcome carol"})
    await carol.sync()
    assert [m["id"] for m in carol.of("message:new")] == [first["id"]]

    await carol.ok("channel:leave", dev)
    assert carol.of("channel:left")[-1] == {
        "community_id": world.lounge.id,
        "channel_id": world.dev.id,
        "reason": "left",
    }
    await alice.ok("message:send", {**dev, "body": "bye carol"})
    await carol.sync()
    assert len(carol.of("message:new")) == 1
    refused = await carol.request("message:send", {**dev, "body": "let me in"})
    assert refused["error"]["code"] == "forbidden"


@pytest.mark.parametrize("topology", TOPOLOGIES)
async def test_channel_requests_check_the_community(
    live: Live, clients: Clients, world: World, topology: str
) -> None:
    carol = await connect(clients, topology, world.carol, world.lounge.id)
    # A channel of a community carol is not in.
    other = target(topology, world.den.id, world.den_general.id)
    refused = await carol.request("channel:join", other)
    assert refused["error"]["code"] == "forbidden"
    missing = await carol.request("channel:join", target(topology, world.lounge.id, 999_999))
    assert missing["error"]["code"] == "not_found"
    # The channel exists, but not in the community named.
    wrong = {"community_id": world.den.id, "channel_id": world.dev.id}
    refused = await carol.request("channel:join", wrong)
    assert refused["error"]["code"] == "invalid_input"
    assert not await live.services.channels.is_member(world.carol.id, world.dev.id)


@pytest.mark.parametrize("topology", TOPOLOGIES)
async def test_channel_created_and_community_updated_reach_the_whole_community(
    live: Live, clients: Clients, world: World, topology: str
) -> None:
    bob = await connect(clients, topology, world.bob, world.lounge.id)
    carol = await connect(clients, topology, world.carol, world.lounge.id)
    dave = await connect(clients, topology, world.dave, world.den.id)
    response = await live.http.post(
        f"/api/communities/{world.lounge.id}/channels",
        json={"name": "News"},
        headers=world.bob.headers,
    )
    assert response.status_code == 201
    channel = response.json()
    response = await live.http.patch(
        f"/api/communities/{world.lounge.id}",
        json={"description": "new look"},
        headers=world.alice.headers,
    )
    assert response.status_code == 200
    for recorder in (bob, carol, dave):
        await recorder.sync()
    for recorder in (bob, carol):
        assert [c["id"] for c in recorder.of("channel:created")] == [channel["id"]]
        assert recorder.of("community:updated")[0]["description"] == "new look"
    assert dave.of("channel:created") == [] and dave.of("community:updated") == []
    # The creator is in the new channel's room at once; the others are not.
    news = target(topology, world.lounge.id, channel["id"])
    await bob.ok("message:send", {**news, "body": "first"})
    await carol.sync()
    assert carol.of("message:new") == []
    assert bob.of("message:new")[0]["body"] == "first"


# ---------------------------------------------------------------------- memberships


async def test_removal_takes_effect_on_live_sockets_at_once(
    live: Live, clients: Clients, world: World
) -> None:
    alice = await clients.single(world.alice)
    bob_single = await clients.single(world.bob)
    bob_community = await clients.community(world.bob, world.lounge.id)
    response = await live.http.delete(
        f"/api/communities/{world.lounge.id}/members/{world.bob.id}", headers=world.alice.headers
    )
    assert response.status_code == 204
    # The namespace of the community is closed for bob, after telling him why.
    await eventually(lambda: bob_community.disconnects == ["io server disconnect"])
    notice = {"community_id": world.lounge.id, "reason": "removed"}
    assert bob_community.of("community:left") == [notice]
    assert bob_single.of("community:left") == [notice]
    # On /socket he left the community's rooms: nothing more reaches him.
    general = {"community_id": world.lounge.id, "channel_id": world.general.id}
    await alice.ok("message:send", {**general, "body": "after bob"})
    await alice.ok("typing", general)
    await bob_single.sync()
    assert bob_single.of("message:new") == [] and bob_single.of("typing") == []
    refused = await bob_single.request("message:send", {**general, "body": "still here?"})
    assert refused["error"]["code"] == "forbidden"
    await alice.sync()
    assert {"community_id": world.lounge.id, "user_id": world.bob.id, "reason": "removed"} in (
        alice.of("member:left")
    )
    await eventually(lambda: statuses(alice, world.lounge.id, world.bob.id)[-1:] == ["offline"])
    with pytest.raises(ConnectRefusedError) as refused_connect:
        await clients.community(world.bob, world.lounge.id)
    assert refused_connect.value.message == "forbidden"


async def test_leaving_a_channel_by_rest_takes_effect_on_live_sockets(
    live: Live, clients: Clients, world: World
) -> None:
    alice = await clients.community(world.alice, world.lounge.id)
    bob = await clients.community(world.bob, world.lounge.id)
    response = await live.http.post(
        f"/api/channels/{world.dev.id}/leave", headers=world.bob.headers
    )
    assert response.status_code == 204
    await alice.ok("message:send", {"channel_id": world.dev.id, "body": "gone?"})
    await bob.sync()
    assert bob.of("message:new") == []
    assert bob.of("channel:left")[0]["channel_id"] == world.dev.id


async def test_joining_a_community_reaches_live_sockets(
    live: Live, clients: Clients, world: World
) -> None:
    alice = await clients.single(world.alice)
    dave = await clients.single(world.dave)
    response = await live.http.post(
        f"/api/communities/{world.lounge.id}/join", headers=world.dave.headers
    )
    assert response.status_code == 200
    await dave.sync()
    assert [c["id"] for c in dave.of("community:joined")] == [world.lounge.id]
    await alice.sync()
    assert [m["user_id"] for m in alice.of("member:joined")] == [world.dave.id]
    assert statuses(alice, world.lounge.id, world.dave.id) == ["online"]
    # A member of the community, not yet of its channels.
    general = {"community_id": world.lounge.id, "channel_id": world.general.id}
    await alice.ok("message:send", {**general, "body": "before"})
    await dave.ok("channel:join", general)
    await alice.ok("message:send", {**general, "body": "after"})
    await dave.sync()
    assert [m["body"] for m in dave.of("message:new")] == ["after"]
    # The community namespace now lets dave in.
    await clients.community(world.dave, world.lounge.id)


async def test_creating_a_community_reaches_the_owners_live_sockets(
    live: Live, clients: Clients, world: World
) -> None:
    carol = await clients.single(world.carol)
    response = await live.http.post(
        "/api/communities", json={"name": "Carol's place"}, headers=world.carol.headers
    )
    assert response.status_code == 201
    community = response.json()
    await carol.sync()
    assert [c["id"] for c in carol.of("community:joined")] == [community["id"]]
    general = next(c for c in carol.of("channel:created") if c["community_id"] == community["id"])
    sent = await carol.ok(
        "message:send",
        {"community_id": community["id"], "channel_id": general["id"], "body": "mine"},
    )
    await carol.sync()
    assert sent["id"] in [m["id"] for m in carol.of("message:new")]


@pytest.mark.parametrize("topology", TOPOLOGIES)
async def test_a_membership_change_while_connecting_is_not_missed(
    live: Live, clients: Clients, world: World, topology: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = live.services
    original = services.channels.of_user
    reads = 0

    async def read_then_leave(*args: object) -> object:
        # The connecting socket reads bob's channels, then bob leaves #dev (committed and
        # announced) before the socket has joined the rooms it read: they are stale.
        nonlocal reads
        result = await original(*args)
        reads += 1
        if reads == 1:
            await services.channels.leave(world.bob.id, world.dev.id)
        return result

    monkeypatch.setattr(services.channels, "of_user", read_then_leave)
    bob = await connect(clients, topology, world.bob, world.lounge.id)
    monkeypatch.undo()
    assert reads >= 2  # read again after the change
    alice = await connect(clients, topology, world.alice, world.lounge.id)
    await alice.ok("message:send", {**target(topology, world.lounge.id, world.dev.id), "body": "x"})
    await bob.sync()
    assert bob.of("message:new") == []
    refused = await bob.request("typing", target(topology, world.lounge.id, world.dev.id))
    assert refused["error"]["code"] == "forbidden"


async def test_over_long_polling(live: Live, clients: Clients, world: World) -> None:
    polling = ("polling",)
    alice = await clients.single(world.alice, manager=clients.manager(transports=polling))
    bob = await clients.community(
        world.bob, world.lounge.id, manager=clients.manager(transports=polling)
    )
    sent = await alice.ok(
        "message:send",
        {"community_id": world.lounge.id, "channel_id": world.dev.id, "body": "polled"},
    )
    await bob.sync()
    assert [m["id"] for m in bob.of("message:new")] == [sent["id"]]
    await live.services.members.remove(world.lounge.id, world.bob.id, actor_id=world.alice.id)
    await eventually(lambda: bob.disconnects == ["io server disconnect"])
    assert bob.of("community:left") == [{"community_id": world.lounge.id, "reason": "removed"}]
