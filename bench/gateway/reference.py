"""The reference: the gateway's socket requests with nothing between plexio and the driver.

The same plexio server, namespace (``/socket``), rooms and acknowledgement shapes as the
community gateway, on the same database and schema, but each request is the few statements it
needs, written for the driver (asyncpg, or the standard library's ``sqlite3`` called from the
event loop), with one transaction per request:

* ``message:send``: idempotency lookup by ``(author_id, client_id)``, membership check, insert
  returning id (the time is set by the server), commit, broadcast ``message:new`` to the
  channel's room, ack;
* ``message:edit``: load the message with its channel's community, membership check, update,
  commit, broadcast ``message:edited``, ack;
* ``channel:join``: load the channel, community membership check, insert the channel
  membership, commit, join the room, tell the user, ack;
* ``presence:get``: the user ids of the sockets in the community's room.

It is the floor under the gateway for the same work, not a product: it skips the input rules
the service applies beyond the types, and knows the schema by heart.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

import asyncpg
from community.gateway.rooms import SINGLE_NAMESPACE, channel_room, community_room, user_room
from community.security import decode_token
from community.settings import normalize_database_url, sqlite_path

import plexio

__all__ = ["create_reference_app"]

Ack = dict[str, Any]


def _ok(data: Any) -> Ack:
    return {"ok": True, "data": data}


def _error(code: str, message: str) -> Ack:
    return {"ok": False, "error": {"code": code, "message": message}}


def _int(payload: Any, name: str) -> int | None:
    value = payload.get(name) if isinstance(payload, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**63:
        return None
    return value


class _Store:
    """The statements of the reference, for one driver."""

    async def start(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def memberships(self, uid: int) -> tuple[list[int], list[tuple[int, int]]]:
        """(community ids, (community id, channel id) pairs) of a user."""
        raise NotImplementedError

    async def send(self, uid: int, cid: int, chid: int, body: str, key: str | None) -> Ack:
        raise NotImplementedError

    async def edit(self, uid: int, mid: int, body: str) -> Ack:
        raise NotImplementedError

    async def join(self, uid: int, chid: int) -> Ack:
        raise NotImplementedError


def _message(
    mid: int,
    chid: int,
    cid: int,
    uid: int,
    username: str,
    body: str,
    key: str | None,
    created_at: datetime,
    edited_at: datetime | None,
) -> dict[str, Any]:
    return {
        "id": mid,
        "channel_id": chid,
        "community_id": cid,
        "author_id": uid,
        "author_username": username,
        "body": body,
        "client_id": key,
        "created_at": created_at.isoformat(),
        "edited_at": None if edited_at is None else edited_at.isoformat(),
        "deleted": False,
    }


class _PostgresStore(_Store):
    def __init__(self, url: str) -> None:
        self._dsn = url.replace("postgresql+asyncpg://", "postgresql://")
        self._pool: asyncpg.Pool | None = None

    async def start(self) -> None:
        self._pool = await asyncpg.create_pool(self._dsn, min_size=2, max_size=10)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None
        return self._pool

    async def memberships(self, uid: int) -> tuple[list[int], list[tuple[int, int]]]:
        async with self.pool.acquire() as con:
            communities = await con.fetch(
                "SELECT community_id FROM community_members WHERE user_id = $1", uid
            )
            channels = await con.fetch(
                "SELECT c.community_id, c.id FROM channel_members m "
                "JOIN channels c ON c.id = m.channel_id WHERE m.user_id = $1",
                uid,
            )
        return [r[0] for r in communities], [(r[0], r[1]) for r in channels]

    async def send(self, uid: int, cid: int, chid: int, body: str, key: str | None) -> Ack:
        async with self.pool.acquire() as con, con.transaction():
            if key is not None:
                row = await con.fetchrow(
                    "SELECT m.id, m.channel_id, m.body, m.created_at, m.edited_at, u.username "
                    "FROM messages m JOIN users u ON u.id = m.author_id "
                    "WHERE m.author_id = $1 AND m.client_id = $2",
                    uid,
                    key,
                )
                if row is not None:
                    data = _message(row[0], row[1], cid, uid, row[5], row[2], key, row[3], row[4])
                    data["duplicate"] = True
                    return _ok(data)
            member = await con.fetchrow(
                "SELECT u.username FROM channel_members m JOIN users u ON u.id = m.user_id "
                "WHERE m.channel_id = $1 AND m.user_id = $2",
                chid,
                uid,
            )
            if member is None:
                return _error("forbidden", "not a member of this channel")
            now = datetime.now(UTC)
            row = await con.fetchrow(
                "INSERT INTO messages (channel_id, author_id, body, client_id, created_at) "
                "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (author_id, client_id) DO NOTHING "
                "RETURNING id",
                chid,
                uid,
                body,
                key,
                now,
            )
            if row is None:  # a concurrent duplicate committed first
                existing = await con.fetchrow(
                    "SELECT id, body, created_at FROM messages "
                    "WHERE author_id = $1 AND client_id = $2",
                    uid,
                    key,
                )
                assert existing is not None
                data = _message(
                    existing[0], chid, cid, uid, member[0], existing[1], key, existing[2], None
                )
                data["duplicate"] = True
                return _ok(data)
        data = _message(row[0], chid, cid, uid, member[0], body, key, now, None)
        data["duplicate"] = False
        return _ok(data)

    async def edit(self, uid: int, mid: int, body: str) -> Ack:
        async with self.pool.acquire() as con, con.transaction():
            row = await con.fetchrow(
                "SELECT m.author_id, m.channel_id, c.community_id, m.client_id, m.created_at, "
                "m.deleted_at, u.username FROM messages m "
                "JOIN channels c ON c.id = m.channel_id JOIN users u ON u.id = m.author_id "
                "WHERE m.id = $1",
                mid,
            )
            if row is None or row[5] is not None:
                return _error("not_found", "unknown message")
            if row[0] != uid:
                return _error("forbidden", "only the author can edit a message")
            member = await con.fetchval(
                "SELECT 1 FROM channel_members WHERE channel_id = $1 AND user_id = $2",
                row[1],
                uid,
            )
            if member is None:
                return _error("forbidden", "not a member of this channel")
            now = datetime.now(UTC)
            await con.execute(
                "UPDATE messages SET body = $1, edited_at = $2 WHERE id = $3", body, now, mid
            )
        return _ok(_message(mid, row[1], row[2], uid, row[6], body, row[3], row[4], now))

    async def join(self, uid: int, chid: int) -> Ack:
        async with self.pool.acquire() as con, con.transaction():
            channel = await con.fetchrow(
                "SELECT community_id, name, topic, created_by, created_at FROM channels "
                "WHERE id = $1",
                chid,
            )
            if channel is None:
                return _error("not_found", "unknown channel")
            member = await con.fetchval(
                "SELECT 1 FROM community_members WHERE community_id = $1 AND user_id = $2 "
                "FOR SHARE",
                channel[0],
                uid,
            )
            if member is None:
                return _error("forbidden", "not a member of this community")
            inserted = await con.fetchval(
                "INSERT INTO channel_members (channel_id, user_id, joined_at) "
                "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1",
                chid,
                uid,
                datetime.now(UTC),
            )
            if inserted is None:
                return _error("conflict", "already a member of this channel")
        return _ok(_channel(chid, channel[0], channel[1], channel[2], channel[3], channel[4]))


def _channel(
    chid: int, cid: int, name: str, topic: str, created_by: int | None, created_at: datetime
) -> dict[str, Any]:
    return {
        "id": chid,
        "community_id": cid,
        "name": name,
        "topic": topic,
        "created_by": created_by,
        "created_at": created_at.isoformat(),
    }


def _sqlite_time(value: datetime) -> str:
    # The text SQLAlchemy's DateTime stores on SQLite (naive UTC).
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _parse_sqlite_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


class _SqliteStore(_Store):
    """One connection, called from the event loop (WAL, ``synchronous=NORMAL``)."""

    def __init__(self, url: str) -> None:
        path = sqlite_path(url)
        if path is None:
            raise ValueError("the reference needs a SQLite file database")
        self._path = path
        self._db: sqlite3.Connection | None = None

    async def start(self) -> None:
        db = sqlite3.connect(self._path, isolation_level=None, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            self._db.close()

    @property
    def db(self) -> sqlite3.Connection:
        assert self._db is not None
        return self._db

    async def memberships(self, uid: int) -> tuple[list[int], list[tuple[int, int]]]:
        db = self.db
        communities = db.execute(
            "SELECT community_id FROM community_members WHERE user_id = ?", (uid,)
        ).fetchall()
        channels = db.execute(
            "SELECT c.community_id, c.id FROM channel_members m "
            "JOIN channels c ON c.id = m.channel_id WHERE m.user_id = ?",
            (uid,),
        ).fetchall()
        return [r[0] for r in communities], [(r[0], r[1]) for r in channels]

    async def send(self, uid: int, cid: int, chid: int, body: str, key: str | None) -> Ack:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            if key is not None:
                row = db.execute(
                    "SELECT m.id, m.channel_id, m.body, m.created_at, m.edited_at, u.username "
                    "FROM messages m JOIN users u ON u.id = m.author_id "
                    "WHERE m.author_id = ? AND m.client_id = ?",
                    (uid, key),
                ).fetchone()
                if row is not None:
                    db.execute("COMMIT")
                    created = _parse_sqlite_time(row[3])
                    assert created is not None
                    data = _message(
                        row[0],
                        row[1],
                        cid,
                        uid,
                        row[5],
                        row[2],
                        key,
                        created,
                        _parse_sqlite_time(row[4]),
                    )
                    data["duplicate"] = True
                    return _ok(data)
            member = db.execute(
                "SELECT u.username FROM channel_members m JOIN users u ON u.id = m.user_id "
                "WHERE m.channel_id = ? AND m.user_id = ?",
                (chid, uid),
            ).fetchone()
            if member is None:
                db.execute("COMMIT")
                return _error("forbidden", "not a member of this channel")
            now = datetime.now(UTC)
            row = db.execute(
                "INSERT INTO messages (channel_id, author_id, body, client_id, created_at) "
                "VALUES (?, ?, ?, ?, ?) RETURNING id",
                (chid, uid, body, key, _sqlite_time(now)),
            ).fetchone()
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        data = _message(row[0], chid, cid, uid, member[0], body, key, now, None)
        data["duplicate"] = False
        return _ok(data)

    async def edit(self, uid: int, mid: int, body: str) -> Ack:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute(
                "SELECT m.author_id, m.channel_id, c.community_id, m.client_id, m.created_at, "
                "m.deleted_at, u.username FROM messages m "
                "JOIN channels c ON c.id = m.channel_id JOIN users u ON u.id = m.author_id "
                "WHERE m.id = ?",
                (mid,),
            ).fetchone()
            if row is None or row[5] is not None:
                db.execute("COMMIT")
                return _error("not_found", "unknown message")
            if row[0] != uid:
                db.execute("COMMIT")
                return _error("forbidden", "only the author can edit a message")
            member = db.execute(
                "SELECT 1 FROM channel_members WHERE channel_id = ? AND user_id = ?",
                (row[1], uid),
            ).fetchone()
            if member is None:
                db.execute("COMMIT")
                return _error("forbidden", "not a member of this channel")
            now = datetime.now(UTC)
            db.execute(
                "UPDATE messages SET body = ?, edited_at = ? WHERE id = ?",
                (body, _sqlite_time(now), mid),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        created = _parse_sqlite_time(row[4])
        assert created is not None
        return _ok(_message(mid, row[1], row[2], uid, row[6], body, row[3], created, now))

    async def join(self, uid: int, chid: int) -> Ack:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            channel = db.execute(
                "SELECT community_id, name, topic, created_by, created_at FROM channels "
                "WHERE id = ?",
                (chid,),
            ).fetchone()
            if channel is None:
                db.execute("COMMIT")
                return _error("not_found", "unknown channel")
            member = db.execute(
                "SELECT 1 FROM community_members WHERE community_id = ? AND user_id = ?",
                (channel[0], uid),
            ).fetchone()
            if member is None:
                db.execute("COMMIT")
                return _error("forbidden", "not a member of this community")
            inserted = db.execute(
                "INSERT INTO channel_members (channel_id, user_id, joined_at) "
                "VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING 1",
                (chid, uid, _sqlite_time(datetime.now(UTC))),
            ).fetchone()
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if inserted is None:
            return _error("conflict", "already a member of this channel")
        created = _parse_sqlite_time(channel[4])
        assert created is not None
        return _ok(_channel(chid, channel[0], channel[1], channel[2], channel[3], created))


class _Lifespan:
    """ASGI app answering lifespan events (start and close the store) and 404 otherwise."""

    def __init__(self, store: _Store) -> None:
        self._store = store

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await self._store.start()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self._store.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def create_reference_app(database_url: str, secret: str) -> plexio.ASGIApp:
    """The reference server as an ASGI app (Socket.IO at ``/socket.io/``).

    Args:
        database_url: The database the gateway uses (``sqlite:///...`` or ``postgresql://...``).
        secret: The gateway's token key (the reference accepts the gateway's tokens).

    Returns:
        The app.
    """
    url = normalize_database_url(database_url)
    store: _Store = _SqliteStore(url) if url.startswith("sqlite") else _PostgresStore(url)
    server = plexio.Server()
    nsp = server.of(SINGLE_NAMESPACE)

    async def authenticate(socket: Any) -> None:
        auth = socket.handshake.auth
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            uid = decode_token(secret, token, now=datetime.now(UTC)).user_id
        except Exception:
            raise plexio.ConnectRefusedError("unauthorized") from None
        socket.data["user_id"] = uid
        communities, channels = await store.memberships(uid)
        rooms = [user_room(uid)]
        rooms.extend(community_room(cid) for cid in communities)
        rooms.extend(channel_room(cid, chid) for cid, chid in channels)
        socket.join(rooms)

    async def message_send(socket: Any, payload: Any = None) -> Ack:
        cid, chid = _int(payload, "community_id"), _int(payload, "channel_id")
        body, key = payload.get("body"), payload.get("client_id")
        if cid is None or chid is None or not isinstance(body, str) or not body.strip():
            return _error("invalid_input", "bad message")
        if key is not None and not isinstance(key, str):
            return _error("invalid_input", "bad client_id")
        ack = await store.send(socket.data["user_id"], cid, chid, body, key)
        if ack["ok"] and not ack["data"]["duplicate"]:
            message = {k: v for k, v in ack["data"].items() if k != "duplicate"}
            nsp.to(channel_room(cid, chid)).emit("message:new", message)
        return ack

    async def message_edit(socket: Any, payload: Any = None) -> Ack:
        mid, body = _int(payload, "message_id"), payload.get("body")
        if mid is None or not isinstance(body, str) or not body.strip():
            return _error("invalid_input", "bad edit")
        ack = await store.edit(socket.data["user_id"], mid, body)
        if ack["ok"]:
            data = ack["data"]
            room = channel_room(data["community_id"], data["channel_id"])
            nsp.to(room).emit("message:edited", data)
        return ack

    async def channel_join(socket: Any, payload: Any = None) -> Ack:
        cid, chid = _int(payload, "community_id"), _int(payload, "channel_id")
        if cid is None or chid is None:
            return _error("invalid_input", "bad channel")
        uid = socket.data["user_id"]
        ack = await store.join(uid, chid)
        if ack["ok"]:
            nsp.in_(user_room(uid)).sockets_join(channel_room(cid, chid))
            nsp.to(user_room(uid)).emit("channel:joined", ack["data"])
        return ack

    async def presence_get(socket: Any, payload: Any = None) -> Ack:
        cid = _int(payload, "community_id")
        if cid is None or community_room(cid) not in socket.rooms:
            return _error("forbidden", "not a member of this community")
        online = {s.data.get("user_id") for s in await nsp.in_(community_room(cid)).fetch_sockets()}
        return _ok({"community_id": cid, "online": sorted(u for u in online if u is not None)})

    nsp.use(authenticate)
    nsp.on("message:send", message_send)
    nsp.on("message:edit", message_edit)
    nsp.on("channel:join", channel_join)
    nsp.on("presence:get", presence_get)
    return plexio.ASGIApp(server, other_app=_Lifespan(store))
