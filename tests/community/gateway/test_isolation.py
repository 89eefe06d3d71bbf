"""Isolation property: every message reaches exactly the connected members of its channel.

Hypothesis draws communities, channels, memberships, which users are connected and how (the
one-namespace topology, the namespace-per-community topology, both, or not at all), and a
sequence of messages sent over sockets or through the service. Then every connected socket must
have received exactly the messages of the channels its user is a member of, within what it
sees: all of the user's communities on ``/socket``, its own community in
``/socket/commu-{id}``.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.community.gateway.helpers import Clients, Live, Recorder, User, eventually, make_user

_run = itertools.count(1)


@dataclass(frozen=True)
class Scenario:
    """What Hypothesis drew (indices into the users, communities and channels below)."""

    users: int
    # community -> channel count (channel 0 is "general")
    channels: tuple[int, ...]
    # (user, community) memberships besides the owners (user c % users owns community c)
    members: frozenset[tuple[int, int]]
    # (user, community, channel) memberships to add for community members
    channel_members: frozenset[tuple[int, int, int]]
    # user -> "none" | "single" | "community" | "both"
    topologies: tuple[str, ...]
    # (author, community, channel, over a socket)
    messages: tuple[tuple[int, int, int, bool], ...]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    users = draw(st.integers(2, 5))
    channels = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)))
    members = frozenset(
        draw(
            st.sets(
                st.tuples(st.integers(0, users - 1), st.integers(0, len(channels) - 1)),
                max_size=users * len(channels),
            )
        )
    )
    channel_members = frozenset(
        draw(
            st.sets(
                st.tuples(
                    st.integers(0, users - 1),
                    st.integers(0, len(channels) - 1),
                    st.integers(0, 2),
                ),
                max_size=12,
            )
        )
    )
    topologies = tuple(
        draw(
            st.lists(
                st.sampled_from(["none", "single", "community", "both"]),
                min_size=users,
                max_size=users,
            )
        )
    )
    messages = tuple(
        draw(
            st.lists(
                st.tuples(
                    st.integers(0, users - 1),
                    st.integers(0, len(channels) - 1),
                    st.integers(0, 2),
                    st.booleans(),
                ),
                min_size=1,
                max_size=15,
            )
        )
    )
    return Scenario(users, channels, members, channel_members, topologies, messages)


@dataclass
class Endpoint:
    """One connected socket and what it can see."""

    user: int
    community: int | None  # None: /socket (every community of the user)
    recorder: Recorder


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
async def test_every_message_reaches_exactly_the_connected_members_of_its_channel(
    live: Live, scenario: Scenario
) -> None:
    await check_isolation(live, scenario)


async def _arrived(recorder: Recorder, count: int) -> None:
    await eventually(lambda: len(recorder.of("message:new")) >= count, timeout=15)


async def check_isolation(live: Live, scenario: Scenario, *, cluster: bool = False) -> None:
    """Runs one scenario and checks what every socket received.

    Args:
        live: the app (one process, or a cluster whose ``service`` is one more member).
        scenario: what Hypothesis drew.
        cluster: the sockets are spread over several processes: odd users connect over
            long-polling only, even ones over WebSocket; messages from different
            processes may arrive in any order, so each socket's messages are compared as
            a multiset once they all arrived (and again a moment later: nothing more).
    """
    services = live.services
    run = next(_run)
    users: list[User] = [await make_user(services, f"iso{run}u") for _ in range(scenario.users)]

    # Communities, channels and memberships.
    community_ids: list[int] = []
    channel_ids: list[list[int]] = []
    for index, count in enumerate(scenario.channels):
        owner = users[index % len(users)]
        community = await services.communities.create(owner.id, f"iso {run} {index}")
        community_ids.append(community.id)
        ids = [(await services.channels.of_community(owner.id, community.id))[0].id]
        for number in range(1, count):
            ids.append((await services.channels.create(owner.id, community.id, f"c{number}")).id)
        channel_ids.append(ids)
    for user_index, community_index in sorted(scenario.members):
        cid = community_ids[community_index]
        if not await services.members.is_member(users[user_index].id, cid):
            await services.members.join(users[user_index].id, cid)
    for user_index, community_index, channel_index in sorted(scenario.channel_members):
        ids = channel_ids[community_index]
        uid, chid = users[user_index].id, ids[channel_index % len(ids)]
        cid = community_ids[community_index]
        if await services.members.is_member(uid, cid) and not await services.channels.is_member(
            uid, chid
        ):
            await services.channels.join(uid, chid)

    # Connections.
    clients = Clients(live)
    try:
        endpoints: list[Endpoint] = []
        for user_index, topology in enumerate(scenario.topologies):
            user = users[user_index]
            transports = ("polling",) if cluster and user_index % 2 else ("websocket",)
            if topology in ("single", "both"):
                recorder = await clients.single(
                    user, manager=clients.manager(transports=transports)
                )
                endpoints.append(Endpoint(user_index, None, recorder))
            if topology in ("community", "both"):
                manager = clients.manager(transports=transports)
                for community_index, cid in enumerate(community_ids):
                    if await services.members.is_member(user.id, cid):
                        recorder = await clients.community(user, cid, manager=manager)
                        endpoints.append(Endpoint(user_index, community_index, recorder))

        # Messages: over one of the author's sockets when there is one that sees the
        # channel, else through the service (as REST would).
        sent: list[tuple[int, int]] = []  # (message id, channel id)
        for number, (author, community_index, channel_index, by_socket) in enumerate(
            scenario.messages
        ):
            ids = channel_ids[community_index]
            cid, chid = community_ids[community_index], ids[channel_index % len(ids)]
            uid = users[author].id
            if not await services.channels.is_member(uid, chid):
                continue
            body = f"m{number}"
            socket = next(
                (
                    e
                    for e in endpoints
                    if e.user == author and e.community in (None, community_index)
                ),
                None,
            )
            if by_socket and socket is not None:
                payload = {"channel_id": chid, "body": body, "client_id": f"k{number}"}
                if socket.community is None:
                    payload["community_id"] = cid
                data = await socket.recorder.ok("message:send", payload)
                message_id = data["id"]
            else:
                message_id = (await services.messages.post(uid, chid, body)).message.id
            sent.append((message_id, chid))

        if not cluster:
            for endpoint in endpoints:
                await endpoint.recorder.sync()

        expectations = []
        for endpoint in endpoints:
            uid = users[endpoint.user].id
            visible = (
                community_ids if endpoint.community is None else [community_ids[endpoint.community]]
            )
            member_channels = {
                chid
                for cid in visible
                for chid in channel_ids[community_ids.index(cid)]
                if await services.channels.is_member(uid, chid)
            }
            expected = [mid for mid, chid in sent if chid in member_channels]
            expectations.append((endpoint, expected))
        if cluster:
            for endpoint, expected in expectations:
                await _arrived(endpoint.recorder, len(expected))
            await asyncio.sleep(0.3)  # anything extra still on its way arrives meanwhile
        for endpoint, expected in expectations:
            received = [m["id"] for m in endpoint.recorder.of("message:new")]
            if cluster:
                received, expected = sorted(received), sorted(expected)
            assert received == expected, (endpoint.user, endpoint.community)
    finally:
        await clients.close()
