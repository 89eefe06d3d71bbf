"""The socket gateway: both topologies on one plexio server, driven by the services.

Clients send requests (``message:send``, ``channel:join`` ...) that call
:class:`community.services.Services`; everything the services commit, whether it came from
a socket or from REST, comes back as a :mod:`community.events` record, and :meth:`Gateway._on_event`
turns it into room changes and broadcasts. So a change reaches every live socket the same way
whatever caused it, and membership changes take effect on the rooms at once.

The gateway keeps no table of its own: rooms (see :mod:`community.gateway.rooms`) live in the
namespaces' adapters, presence is read back from them with ``fetch_sockets()``, and what a socket
is (user, community) travels in ``socket.data``. With a cluster adapter every process sees the
same rooms and sockets.

Several processes (``GatewayOptions.redis_url``: the Redis adapter joins them): service
events are published in the process that made the change, and its gateway broadcasts through
the namespaces' adapters, which reach every process. A process that has no client of a
community's namespace still reaches that community's sockets elsewhere: it makes the
namespace (the parent's child, with its middleware) and starts its adapter before using it,
so each process subscribes to the namespaces of the communities it touched. One limit
remains: a membership change made in another process in the instant a socket is connecting
here does not trigger the re-read of :meth:`Gateway._settle`, so that socket may keep a room
from its stale read until it reconnects.

Requests are acknowledged with ``{"ok": true, "data": ...}`` or
``{"ok": false, "error": {"code": ..., "message": ...}}``; the codes are those of
:mod:`community.errors` plus ``internal``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, Final

import plexio
from community.errors import AuthenticationFailed, CommunityError, Forbidden, InvalidInput
from community.events import (
    ChannelCreated,
    ChannelMemberJoined,
    ChannelMemberRemoved,
    CommunityCreated,
    CommunityEvent,
    CommunityUpdated,
    MemberJoined,
    MemberRemoved,
    MessageCreated,
    MessageDeleted,
    MessageEdited,
)
from community.gateway.options import GatewayOptions
from community.gateway.payloads import (
    ChannelRequest,
    MessageDelete,
    MessageEdit,
    MessageSend,
    PresenceGet,
    invalid_input,
)
from community.gateway.rooms import (
    SINGLE_NAMESPACE,
    channel_room,
    community_id_of,
    community_namespace,
    community_room,
    local_channel_room,
    member_room,
    user_room,
)
from community.message_log import Membership
from community.records import to_json
from community.services import Services
from plexio import ConnectRefusedError

__all__ = ["MAX_SYNC_ROUNDS", "Gateway", "failure", "success"]

logger = logging.getLogger(__name__)

MAX_SYNC_ROUNDS: Final = 5
"""How many times a connecting socket re-reads its memberships when they change meanwhile."""

_COMMUNITY_ROOM = re.compile(r"commu:(\d+)")

Request = Callable[[Any, Any], Awaitable[Any]]


def _declared(handler: Callable[[Any, Any], Any], payload: type) -> Callable[[Any, Any], Any]:
    """``handler(socket, payload)`` registered with its payload's declared type, which plexio
    validates the payload against before calling it."""

    def request(socket: Any, payload: Any) -> Any:
        return handler(socket, payload)

    request.__annotations__ = {"socket": Any, "payload": payload, "return": Any}
    return request


def success(data: Any = None) -> dict[str, Any]:
    """Return the acknowledgement of a request that succeeded."""
    return {"ok": True, "data": data}


def failure(code: str, message: str) -> dict[str, Any]:
    """Return the acknowledgement of a request that failed."""
    return {"ok": False, "error": {"code": code, "message": message}}


def _user_ids(sockets: Iterable[Any]) -> set[int]:
    found: set[int] = set()
    for socket in sockets:
        data = getattr(socket, "data", None)
        if isinstance(data, dict) and isinstance(data.get("user_id"), int):
            found.add(data["user_id"])
    return found


class Gateway:
    """Serves both socket topologies of the community app.

    * ``/socket/commu-{id}`` (a parent namespace matching
      :data:`~community.gateway.rooms.COMMUNITY_NAMESPACE` for existing communities): one
      namespace per community, a room per channel; CONNECT needs a valid token (else
      ``unauthorized``) and membership of the community (else ``forbidden``).
    * ``/socket``: one namespace for everything; rooms per community and per channel, and the
      community and channel travel in every event.

    Args:
        services: The service layer (its events drive the broadcasts).
        options: Socket.IO settings and limits.

    Attributes:
        services: The service layer.
        options: The settings in force.
        server: The plexio server; serve it with ``plexio.ASGIApp(gateway.server, ...)``.
        single: The ``/socket`` namespace.
        communities: The parent namespace of ``/socket/commu-{id}``.
    """

    def __init__(self, services: Services, options: GatewayOptions | None = None) -> None:
        self.services = services
        self.options = options if options is not None else GatewayOptions()
        opts = self.options
        adapter = None
        if opts.redis_url is not None:
            from plexio.server.adapters.redis import create_adapter

            adapter = create_adapter(opts.redis_url)
        #: Whether the namespaces span several processes (a cluster adapter).
        self.clustered = adapter is not None
        self.server = plexio.Server(
            path=opts.path,
            adapter=adapter,
            cors_allowed_origins=(
                list(opts.cors_allowed_origins) if opts.cors_allowed_origins else None
            ),
            connect_timeout=opts.connect_timeout,
            invalid_payload=invalid_input,
            cleanup_empty_child_namespaces=opts.drop_empty_community_namespaces,
            engine_options=plexio.EngineOptions(
                ping_interval=opts.ping_interval,
                ping_timeout=opts.ping_timeout,
                max_buffered_bytes=opts.max_buffered_bytes,
                limits=plexio.Limits(max_http_buffer_size=opts.max_payload_bytes),
            ),
        )
        self.single = self.server.of(SINGLE_NAMESPACE)
        self.communities = self.server.of(self._is_community_namespace)
        # Users with a socket being connected now -> [membership changes seen, sockets]: a
        # connecting socket that read its memberships while one of its user's changed reads
        # them again (see _settle). Only in-flight connections of this process are here.
        self._settling: dict[int, list[int]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._register()
        self._unsubscribe = services.events.subscribe(self._on_event)

    async def close(self) -> None:
        """Stop reacting to service events and wait for pending presence updates."""
        if self._closed:
            return
        self._closed = True
        self._unsubscribe()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def pending_tasks(self) -> int:
        """Background work (presence updates) started and not finished yet."""
        return len(self._tasks)

    # ------------------------------------------------------------------ wiring

    def _register(self) -> None:
        self.single.use(self._authenticate)
        self.single.use(self._settle_single)
        self.communities.use(self._authenticate)
        self.communities.use(self._settle_community)
        for nsp in (self.single, self.communities):
            nsp.on("connection", self._on_connection)
            nsp.on("disconnecting", self._on_disconnecting)
            # Each request with its payload type (community.gateway.payloads): plexio
            # validates it and answers invalid_input without calling the handler.
            nsp.on("message:send", _declared(self._request(self._message_send), MessageSend))
            nsp.on("message:edit", _declared(self._request(self._message_edit), MessageEdit))
            nsp.on("message:delete", _declared(self._request(self._message_delete), MessageDelete))
            nsp.on("channel:join", _declared(self._request(self._channel_join), ChannelRequest))
            nsp.on("channel:leave", _declared(self._request(self._channel_leave), ChannelRequest))
            nsp.on("presence:get", _declared(self._request(self._presence_get), PresenceGet))
            nsp.on("typing", _declared(self._typing, ChannelRequest))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        if self._closed:
            coro.close()
            return
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("gateway task failed", exc_info=task.exception())

    async def _community_nsp(self, community_id: int) -> plexio.Namespace | None:
        """The namespace of a community, to reach its sockets.

        Alone, only a child that exists: a community nobody has connected to here has no
        sockets to reach. In a cluster its sockets may be in other processes: the parent's
        child is made (with the parent's middleware) and its adapter started.
        """
        name = community_namespace(community_id)
        nsp = self.communities.children.get(name)
        if not self.clustered:
            return nsp
        if nsp is None:
            nsp = self.communities.of(name)
        await nsp.ready()
        await self.single.ready()  # this process may have no client of /socket either
        return nsp

    # ------------------------------------------------------------------ connecting

    async def _is_community_namespace(self, name: str, auth: dict[str, Any]) -> bool:
        """Whether ``name`` is ``/socket/commu-{id}`` of a community that exists.

        Checked before plexio creates the child namespace, so CONNECTs to made-up ids cannot
        pile up namespaces (there are as many as communities at most); their clients get
        CONNECT_ERROR "Invalid namespace". Membership is checked by the middleware.
        """
        community_id = community_id_of(name)
        if community_id is None:
            return False
        try:
            await self.services.communities.get(community_id)
        except CommunityError:
            return False
        return True

    async def _authenticate(self, socket: Any) -> None:
        auth = socket.handshake.auth
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            user = await self.services.accounts.authenticate(token)
        except AuthenticationFailed as exc:
            raise ConnectRefusedError(
                "unauthorized", {"code": exc.code, "detail": exc.message}
            ) from None
        except CommunityError as exc:
            raise ConnectRefusedError(
                "unauthorized", {"code": "unauthorized", "detail": exc.message}
            ) from None
        socket.data["user_id"] = user.id
        socket.data["username"] = user.username
        socket.data["display_name"] = user.display_name

    async def _settle(self, socket: Any, desired: Callable[[], Awaitable[set[str] | None]]) -> None:
        """Put a connecting socket in the rooms its memberships give it.

        The socket first joins its user room, so that membership events from then on reach
        it; the memberships are then read and the rooms joined. A membership event that
        arrived while they were read may have been missed, so they are read again until none
        arrives meanwhile (a bounded number of times).
        """
        uid: int = socket.data["user_id"]
        socket.join(user_room(uid))
        entry = self._settling.setdefault(uid, [0, 0])
        entry[1] += 1
        try:
            for _ in range(MAX_SYNC_ROUNDS):
                seen = entry[0]
                rooms = await desired()
                if rooms is None:
                    raise ConnectRefusedError(
                        "forbidden",
                        {"code": "forbidden", "detail": "not a member of this community"},
                    )
                current = set(socket.rooms) - {socket.id}
                for room in current - rooms:
                    socket.leave(room)
                socket.join(rooms - current)
                if seen == entry[0]:
                    return
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._settling[uid]
        raise ConnectRefusedError(
            "busy", {"code": "busy", "detail": "memberships keep changing; try again"}
        )

    def _membership_changed(self, user_id: int) -> None:
        entry = self._settling.get(user_id)
        if entry is not None:
            entry[0] += 1

    async def _settle_single(self, socket: Any) -> None:
        uid: int = socket.data["user_id"]
        socket.data["topology"] = "single"

        async def desired() -> set[str]:
            rooms = {user_room(uid)}
            for community in await self.services.communities.of_user(uid):
                rooms.add(community_room(community.id))
                rooms.add(member_room(community.id, uid))
            for channel in await self.services.channels.of_user(uid):
                rooms.add(channel_room(channel.community_id, channel.id))
            return rooms

        await self._settle(socket, desired)

    async def _settle_community(self, socket: Any) -> None:
        uid: int = socket.data["user_id"]
        cid = community_id_of(socket.nsp.name)
        socket.data["topology"] = "community"
        socket.data["community_id"] = cid

        async def desired() -> set[str] | None:
            if cid is None or not await self.services.members.is_member(uid, cid):
                return None
            rooms = {user_room(uid)}
            for channel in await self.services.channels.of_user(uid, cid):
                rooms.add(local_channel_room(channel.id))
            return rooms

        await self._settle(socket, desired)

    def _communities_of(self, socket: Any) -> list[int]:
        if socket.data.get("topology") == "community":
            cid = socket.data.get("community_id")
            return [cid] if isinstance(cid, int) else []
        found = []
        for room in socket.rooms:
            match = _COMMUNITY_ROOM.fullmatch(room)
            if match:
                found.append(int(match.group(1)))
        return sorted(found)

    async def _on_connection(self, socket: Any) -> None:
        uid: int = socket.data["user_id"]
        for cid in self._communities_of(socket):
            await self._broadcast_community(cid, "presence", _presence(cid, uid, online=True))
            online = await self._online_users(cid)
            if not socket.connected:
                return
            socket.emit("presence:state", {"community_id": cid, "online": sorted(online)})

    def _on_disconnecting(self, socket: Any, reason: str) -> None:
        # The socket's rooms are still there now and gone once the task runs.
        communities = self._communities_of(socket)
        if communities:
            self._spawn(self._announce_presence(communities, socket.data["user_id"]))

    # ------------------------------------------------------------------ presence

    async def _is_online(self, community_id: int, user_id: int) -> bool:
        if await self.single.in_(member_room(community_id, user_id)).fetch_sockets():
            return True
        nsp = await self._community_nsp(community_id)
        return nsp is not None and bool(await nsp.in_(user_room(user_id)).fetch_sockets())

    async def _online_users(self, community_id: int) -> set[int]:
        online = _user_ids(await self.single.in_(community_room(community_id)).fetch_sockets())
        nsp = await self._community_nsp(community_id)
        if nsp is not None:
            online |= _user_ids(await nsp.fetch_sockets())
        return online

    async def _announce_presence(self, communities: Iterable[int], user_id: int) -> None:
        for cid in communities:
            online = await self._is_online(cid, user_id)
            await self._broadcast_community(cid, "presence", _presence(cid, user_id, online=online))

    # ------------------------------------------------------------------ broadcasting

    async def _broadcast_community(self, community_id: int, event: str, data: Any) -> None:
        nsp = await self._community_nsp(community_id)
        self.single.to(community_room(community_id)).emit(event, data)
        if nsp is not None:
            nsp.emit(event, data)

    async def _broadcast_channel(
        self, community_id: int, channel_id: int, event: str, data: Any
    ) -> None:
        nsp = await self._community_nsp(community_id)
        self.single.to(channel_room(community_id, channel_id)).emit(event, data)
        if nsp is not None:
            nsp.to(local_channel_room(channel_id)).emit(event, data)

    async def _notify_user(self, community_id: int, user_id: int, event: str, data: Any) -> None:
        """Send an event to one user's sockets that see a community."""
        nsp = await self._community_nsp(community_id)
        self.single.to(member_room(community_id, user_id)).emit(event, data)
        if nsp is not None:
            nsp.to(user_room(user_id)).emit(event, data)

    async def _on_event(self, event: CommunityEvent) -> None:
        if self.clustered:
            await self.single.ready()  # a process no client joined yet still reaches the others
        match event:
            case MessageCreated(message=message):
                await self._broadcast_channel(
                    message.community_id, message.channel_id, "message:new", to_json(message)
                )
            case MessageEdited(message=message):
                await self._broadcast_channel(
                    message.community_id, message.channel_id, "message:edited", to_json(message)
                )
            case MessageDeleted():
                data = {
                    "id": event.message_id,
                    "channel_id": event.channel_id,
                    "community_id": event.community_id,
                }
                await self._broadcast_channel(
                    event.community_id, event.channel_id, "message:deleted", data
                )
            case CommunityUpdated(community=community):
                await self._broadcast_community(
                    community.id, "community:updated", to_json(community)
                )
            case CommunityCreated(community=community):
                cid, uid = community.id, community.owner_id
                self._membership_changed(uid)
                operator = self.single.in_(user_room(uid))
                operator.sockets_join([community_room(cid), member_room(cid, uid)])
                operator.emit("community:joined", to_json(community))
            case ChannelCreated(channel=channel):
                cid = channel.community_id
                if channel.created_by is not None:
                    self._membership_changed(channel.created_by)
                    await self._join_channel_rooms(cid, channel.id, channel.created_by)
                await self._broadcast_community(cid, "channel:created", to_json(channel))
            case ChannelMemberJoined(channel=channel, user_id=uid):
                self._membership_changed(uid)
                await self._join_channel_rooms(channel.community_id, channel.id, uid)
                await self._notify_user(
                    channel.community_id, uid, "channel:joined", to_json(channel)
                )
            case ChannelMemberRemoved(channel=channel, user_id=uid):
                self._membership_changed(uid)
                cid = channel.community_id
                nsp = await self._community_nsp(cid)
                self.single.in_(member_room(cid, uid)).sockets_leave(channel_room(cid, channel.id))
                if nsp is not None:
                    nsp.in_(user_room(uid)).sockets_leave(local_channel_room(channel.id))
                await self._notify_user(
                    cid,
                    uid,
                    "channel:left",
                    {"community_id": cid, "channel_id": channel.id, "reason": str(event.reason)},
                )
            case MemberJoined(member=member):
                cid, uid = member.community_id, member.user_id
                self._membership_changed(uid)
                operator = self.single.in_(user_room(uid))
                operator.sockets_join([community_room(cid), member_room(cid, uid)])
                community = await self.services.communities.get(cid)
                operator.emit("community:joined", to_json(community))
                await self._broadcast_community(cid, "member:joined", to_json(member))
                if await self._is_online(cid, uid):
                    await self._broadcast_community(
                        cid, "presence", _presence(cid, uid, online=True)
                    )
            case MemberRemoved():
                self._membership_changed(event.user_id)
                await self._remove_member(event)

    async def _join_channel_rooms(self, community_id: int, channel_id: int, user_id: int) -> None:
        nsp = await self._community_nsp(community_id)
        self.single.in_(member_room(community_id, user_id)).sockets_join(
            channel_room(community_id, channel_id)
        )
        if nsp is not None:
            nsp.in_(user_room(user_id)).sockets_join(local_channel_room(channel_id))

    async def _remove_member(self, event: MemberRemoved) -> None:
        cid, uid = event.community_id, event.user_id
        notice = {"community_id": cid, "reason": str(event.reason)}
        # Tell the user's sockets first, then take them out: the notice is queued before the
        # room changes and the DISCONNECT packets, so the client learns why.
        await self._notify_user(cid, uid, "community:left", notice)
        rooms = [community_room(cid), member_room(cid, uid)]
        rooms.extend(channel_room(cid, chid) for chid in event.channel_ids)
        self.single.in_(user_room(uid)).sockets_leave(rooms)
        nsp = await self._community_nsp(cid)
        if nsp is not None:
            nsp.in_(user_room(uid)).disconnect_sockets()
        await self._broadcast_community(
            cid, "member:left", {"community_id": cid, "user_id": uid, "reason": str(event.reason)}
        )
        if not await self._is_online(cid, uid):
            await self._broadcast_community(cid, "presence", _presence(cid, uid, online=False))

    # ------------------------------------------------------------------ requests

    def _request(self, handler: Request) -> Callable[[Any, Any], Awaitable[dict[str, Any]]]:
        async def run(socket: Any, payload: Any) -> dict[str, Any]:
            try:
                if not self._take_request(socket):
                    return failure("rate_limited", "too many requests; slow down")
                return success(await handler(socket, payload))
            except CommunityError as exc:
                return failure(exc.code, exc.message)
            except Exception:
                logger.exception("socket request failed")
                return failure("internal", "server error")

        return run

    def _take_request(self, socket: Any) -> bool:
        """Take one request from the socket's token bucket (kept in ``socket.data``)."""
        burst, rate = self.options.request_burst, self.options.request_rate
        now = time.monotonic()
        bucket = socket.data.get("request_bucket")
        tokens, last = (float(burst), now) if bucket is None else (bucket[0], bucket[1])
        tokens = min(float(burst), tokens + (now - last) * rate)
        allowed = tokens >= 1.0
        socket.data["request_bucket"] = [tokens - 1.0 if allowed else tokens, now]
        return allowed

    def _community_of(self, socket: Any, community_id: int | None) -> int:
        """The community a request is about.

        In a community's namespace it is the namespace's (a ``community_id`` in the payload
        must match it); in the one-namespace topology the payload must name it.
        """
        if socket.data.get("topology") == "community":
            cid: int = socket.data["community_id"]
            if community_id is not None and community_id != cid:
                raise InvalidInput("community_id does not match this namespace")
            return cid
        if community_id is None:
            raise InvalidInput(f"community_id is required on {SINGLE_NAMESPACE}")
        return community_id

    def _channel_target(
        self, socket: Any, payload: ChannelRequest | MessageSend
    ) -> tuple[int, int, str]:
        """The community, channel and room a channel-scoped request names."""
        chid = payload["channel_id"]
        cid = self._community_of(socket, payload.get("community_id"))
        if socket.data.get("topology") == "community":
            return cid, chid, local_channel_room(chid)
        return cid, chid, channel_room(cid, chid)

    def _require_room(self, socket: Any, room: str) -> None:
        if room not in socket.rooms:
            raise Forbidden("not a member of this channel")

    async def _message_send(self, socket: Any, payload: MessageSend) -> Any:
        cid, chid, room = self._channel_target(socket, payload)
        # The socket is in the channel's room exactly while its user is a member (membership
        # removals take it out at once), so the database need not be asked again.
        self._require_room(socket, room)
        posted = await self.services.messages.post(
            socket.data["user_id"],
            chid,
            payload["body"],
            payload.get("client_id"),
            membership=Membership(community_id=cid, username=socket.data["username"]),
        )
        data = to_json(posted.message)
        assert isinstance(data, dict)
        data["duplicate"] = not posted.created
        return data

    async def _message_edit(self, socket: Any, payload: MessageEdit) -> Any:
        user_id = socket.data["user_id"]
        message = await self.services.messages.edit(user_id, payload["message_id"], payload["body"])
        return to_json(message)

    async def _message_delete(self, socket: Any, payload: MessageDelete) -> Any:
        message = await self.services.messages.delete(socket.data["user_id"], payload["message_id"])
        return {
            "id": message.id,
            "channel_id": message.channel_id,
            "community_id": message.community_id,
        }

    async def _channel_join(self, socket: Any, payload: ChannelRequest) -> Any:
        cid, chid, _room = self._channel_target(socket, payload)
        channel = await self.services.channels.join(socket.data["user_id"], chid, community_id=cid)
        return to_json(channel)

    async def _channel_leave(self, socket: Any, payload: ChannelRequest) -> Any:
        cid, chid, _room = self._channel_target(socket, payload)
        user_id = socket.data["user_id"]
        channel = await self.services.channels.get(user_id, chid)
        if channel.community_id != cid:
            raise InvalidInput("the channel is not in this community")
        return to_json(await self.services.channels.leave(user_id, chid))

    async def _presence_get(self, socket: Any, payload: PresenceGet) -> Any:
        if socket.data.get("topology") == "community":
            cid: int = socket.data["community_id"]
        else:
            cid = self._community_of(socket, payload.get("community_id"))
            if community_room(cid) not in socket.rooms:
                raise Forbidden("not a member of this community")
        return {"community_id": cid, "online": sorted(await self._online_users(cid))}

    def _typing(self, socket: Any, payload: ChannelRequest) -> dict[str, Any]:
        try:
            cid, chid, room = self._channel_target(socket, payload)
            self._require_room(socket, room)
        except CommunityError as exc:
            return failure(exc.code, exc.message)
        now = time.monotonic()
        last = socket.data.get("typing_at")
        if isinstance(last, float) and now - last < self.options.typing_interval:
            return failure("rate_limited", "typing is sent too often")
        socket.data["typing_at"] = now
        data = {
            "community_id": cid,
            "channel_id": chid,
            "user_id": socket.data["user_id"],
            "username": socket.data["username"],
            "display_name": socket.data["display_name"],
        }
        # Volatile: a typing hint that cannot be delivered now is worthless later.
        socket.to(room).volatile.emit("typing", data)
        return success()


def _presence(community_id: int, user_id: int, *, online: bool) -> dict[str, Any]:
    return {
        "community_id": community_id,
        "user_id": user_id,
        "status": "online" if online else "offline",
    }
