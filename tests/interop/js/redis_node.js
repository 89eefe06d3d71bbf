"use strict";
// A Node socket.io 4.8 server on @socket.io/redis-adapter (classic, or sharded with
// SHARDED=1), with socket.io-client clients of its own, driven by JSON commands on
// stdin (see tests/interop/test_redis_cluster.py). Also the @socket.io/redis-emitter.
//
// env: REDIS_URL (required), SHARDED ("1": createShardedAdapter on a Redis Cluster),
//      KEY (classic key / sharded channelPrefix, default socket.io), REQUESTS_TIMEOUT (ms).
// First line: {"port": N, "uid": <adapter uid of "/">}. Then events:
//   {"event": "client-connect", "id", "sid"}, {"event": "recv", "id", "name", "args"},
//   {"event": "client-disconnect", "id", "reason"}, {"event": "server-side", "name", "args"},
//   {"event": "reply", "ref", "result" | "error"} for each command carrying a "ref".
// Binary values cross the JSON boundary as {"$bin": "<base64>"} both ways.

const http = require("node:http");
const { Server } = require("socket.io");
const { io: connect } = require("socket.io-client");
const { createClient, createCluster } = require("redis");
const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");
const { Emitter } = require("@socket.io/redis-emitter");
const { emit, fail, commands, env } = require("./lib/io");

const REDIS_URL = env("REDIS_URL");
const SHARDED = env("SHARDED", "") === "1";
const KEY = env("KEY", "socket.io");
const REQUESTS_TIMEOUT = Number(env("REQUESTS_TIMEOUT", "3000"));

function plain(value) {
  if (Buffer.isBuffer(value) || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    return { $bin: Buffer.from(value.buffer ? value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength) : value).toString("base64") };
  }
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object" && !(value instanceof Date)) {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = plain(v);
    return out;
  }
  return value;
}

function revive(value) {
  if (Array.isArray(value)) return value.map(revive);
  if (value && typeof value === "object") {
    if (typeof value.$bin === "string") return Buffer.from(value.$bin, "base64");
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = revive(v);
    return out;
  }
  return value;
}

async function main() {
  let pub, sub, adapter;
  if (SHARDED) {
    pub = createCluster({ rootNodes: [{ url: REDIS_URL }] });
    sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    adapter = createShardedAdapter(pub, sub, { channelPrefix: KEY });
  } else {
    pub = createClient({ url: REDIS_URL });
    sub = pub.duplicate();
    pub.on("error", () => {});
    sub.on("error", () => {});
    await Promise.all([pub.connect(), sub.connect()]);
    adapter = createAdapter(pub, sub, { key: KEY, requestsTimeout: REQUESTS_TIMEOUT });
  }
  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter });
  const nsps = new Set(["/"]);

  function watch(nspName) {
    const nsp = io.of(nspName);
    nsp.on("connection", (socket) => {
      socket.data.name = socket.handshake.auth && socket.handshake.auth.name;
      socket.on("join", (room) => socket.join(room));
      socket.on("leave", (room) => socket.leave(room));
    });
    nsp.on("hello", (...args) => {
      const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
      emit({ event: "server-side", nsp: nspName, name: "hello", args: plain(args) });
      if (cb) cb("node-answer");
    });
  }
  watch("/");

  const clients = new Map();
  const fetched = new Map();

  await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  const port = httpServer.address().port;
  emit({ port, uid: io.of("/").adapter.uid });

  function operator(cmd) {
    const nsp = cmd.nsp || "/";
    if (!nsps.has(nsp)) {
      nsps.add(nsp);
      watch(nsp);
    }
    let op = io.of(nsp);
    if (cmd.rooms && cmd.rooms.length) op = op.to(cmd.rooms);
    if (cmd.except && cmd.except.length) op = op.except(cmd.except);
    if (cmd.volatile) op = op.volatile;
    if (cmd.local) op = op.local;
    if (cmd.compress === false) op = op.compress(false);
    if (cmd.ackTimeout) op = op.timeout(cmd.ackTimeout);
    return op;
  }

  const handlers = {
    client(cmd) {
      const socket = connect(`http://127.0.0.1:${port}${cmd.nsp || "/"}`, {
        transports: ["websocket"],
        forceNew: true,
        reconnection: false,
        auth: { name: cmd.id },
      });
      clients.set(cmd.id, socket);
      socket.on("connect", () => emit({ event: "client-connect", id: cmd.id, sid: socket.id }));
      socket.on("disconnect", (reason) => emit({ event: "client-disconnect", id: cmd.id, reason }));
      socket.onAny((name, ...args) => {
        const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
        emit({ event: "recv", id: cmd.id, name, args: plain(args) });
        if (cb) cb(`node:${cmd.id}`);
      });
    },
    clientEmit(cmd) {
      clients.get(cmd.id).emit(cmd.name, ...revive(cmd.args || []));
    },
    broadcast(cmd) {
      operator(cmd).emit(cmd.name, ...revive(cmd.args || []));
      return true;
    },
    async emitWithAck(cmd) {
      try {
        return { responses: plain(await operator(cmd).emitWithAck(cmd.name, ...revive(cmd.args || []))) };
      } catch (err) {
        return { error: String(err && err.message) };
      }
    },
    async fetchSockets(cmd) {
      const sockets = await operator(cmd).fetchSockets();
      for (const s of sockets) fetched.set(s.id, s);
      return sockets.map((s) => ({
        id: s.id,
        rooms: [...s.rooms].sort(),
        data: plain(s.data),
        auth: s.handshake.auth,
        handshakeKeys: Object.keys(s.handshake).sort(),
        local: !!s.server,
      }));
    },
    remote(cmd) {
      const s = fetched.get(cmd.sid);
      if (cmd.op === "emit") s.emit(cmd.name, ...revive(cmd.args || []));
      else if (cmd.op === "join") s.join(cmd.room);
      else if (cmd.op === "leave") s.leave(cmd.room);
      else if (cmd.op === "disconnect") s.disconnect(!!cmd.close);
      return true;
    },
    socketsJoin(cmd) {
      operator(cmd).socketsJoin(cmd.target);
      return true;
    },
    socketsLeave(cmd) {
      operator(cmd).socketsLeave(cmd.target);
      return true;
    },
    disconnectSockets(cmd) {
      operator(cmd).disconnectSockets(!!cmd.close);
      return true;
    },
    async serverSideEmit(cmd) {
      const nsp = io.of(cmd.nsp || "/");
      if (!cmd.ack) {
        nsp.serverSideEmit(cmd.name, ...revive(cmd.args || []));
        return true;
      }
      try {
        return { responses: plain(await nsp.serverSideEmitWithAck(cmd.name, ...revive(cmd.args || []))) };
      } catch (err) {
        return { error: String(err && err.message) };
      }
    },
    async allRooms(cmd) {
      return [...(await io.of(cmd.nsp || "/").adapter.allRooms())].sort();
    },
    async serverCount(cmd) {
      return await io.of(cmd.nsp || "/").adapter.serverCount();
    },
    localRooms(cmd) {
      return [...io.of(cmd.nsp || "/").adapter.rooms.keys()].sort();
    },
    async emitter(cmd) {
      // @socket.io/redis-emitter on its own Redis connection (classic only)
      const client = createClient({ url: REDIS_URL });
      await client.connect();
      let e = new Emitter(client, { key: KEY });
      if (cmd.nsp) e = e.of(cmd.nsp);
      let op = e;
      if (cmd.rooms && cmd.rooms.length) op = op.to(cmd.rooms);
      if (cmd.except && cmd.except.length) op = op.except(cmd.except);
      if (cmd.op === "emit") op.emit(cmd.name, ...revive(cmd.args || []));
      else if (cmd.op === "socketsJoin") op.socketsJoin(cmd.target);
      else if (cmd.op === "socketsLeave") op.socketsLeave(cmd.target);
      else if (cmd.op === "disconnectSockets") op.disconnectSockets(!!cmd.close);
      else if (cmd.op === "serverSideEmit") e.serverSideEmit(cmd.name, ...revive(cmd.args || []));
      await client.quit();
      return true;
    },
  };

  commands(
    async (cmd) => {
      const handler = handlers[cmd.cmd];
      if (!handler) throw new Error(`unknown command ${cmd.cmd}`);
      const result = await handler(cmd);
      if (cmd.ref !== undefined) emit({ event: "reply", ref: cmd.ref, result: result === undefined ? null : result });
    },
    () => {
      for (const socket of clients.values()) socket.close();
      io.close();
      Promise.allSettled([pub.quit(), sub.quit()]).then(() => process.exit(0));
    },
  );
}

main().catch(fail);
