"use strict";
// The official socket.io 4.8 server, for testing plexio's CLIENT against the reference.
// First stdout line: {"port": N, "pid": P}. Then one JSON line per server-side event.
//
// env:  PING_INTERVAL / PING_TIMEOUT  ms (default 300 / 200)
//       MAX_PAYLOAD                   maxHttpBufferSize (default 1e6)
//       TRANSPORTS                    comma list (default "polling,websocket")
//       PARSER                        "msgpack" for socket.io-msgpack-parser (default JSON)
//       CONNECT_TIMEOUT               ms a client may wait before CONNECT (default 45000)
//
// Namespaces: "/" and "/custom" echo; "/auth" accepts only auth {token: "good"} and
// refuses others with CONNECT_ERROR {message: "unauthorized", data: {reason: ...}}.
// Events handled in every namespace:
//   "echo"  (...args, ack?)     -> ack(...args) if an ack is requested, else emit "echo" back
//   "message" (...args)         -> emit "message-back" with the same args
//   "join" (room, ack)          -> socket.join(room); ack(true)
//   "to-room" (room, ...args)   -> io.of(nsp).to(room).emit("room-message", ...args)
//   "broadcast" (...args)       -> socket.broadcast.emit("broadcast", ...args)
//   "server-ack" (...args, ack) -> server asks the client: socket.timeout(2000).emit("ask", ...args)
//                                  and acks the client's answer back (or {error} on timeout)
//   "disconnect-me" (close?)    -> socket.disconnect(close === true)
// stdin: {"cmd":"emit","nsp":"/","event":"x","args":[...]} emits to every socket of nsp;
//        {"cmd":"close"} closes the server and exits.

const http = require("node:http");
const { Server } = require("socket.io");
const { emit, fail, commands, env } = require("./lib/io");

// Binary arguments cross into our JSON log as {"binary": "<base64>"}.
function describe(value) {
  if (Buffer.isBuffer(value)) return { binary: value.toString("base64") };
  if (value instanceof ArrayBuffer) return { binary: Buffer.from(value).toString("base64") };
  if (ArrayBuffer.isView(value)) return { binary: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") };
  if (Array.isArray(value)) return value.map(describe);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, describe(v)]));
  }
  return value;
}

// The reverse: {"binary": "..."} in a stdin command becomes a Buffer.
function revive(value) {
  if (Array.isArray(value)) return value.map(revive);
  if (value && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "binary") return Buffer.from(value.binary, "base64");
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revive(v)]));
  }
  return value;
}

const options = {
  pingInterval: Number(env("PING_INTERVAL", "300")),
  pingTimeout: Number(env("PING_TIMEOUT", "200")),
  maxHttpBufferSize: Number(env("MAX_PAYLOAD", "1000000")),
  transports: env("TRANSPORTS", "polling,websocket").split(","),
  connectTimeout: Number(env("CONNECT_TIMEOUT", "45000")),
  cors: { origin: "*" },
};
if (env("PARSER", "json") === "msgpack") options.parser = require("socket.io-msgpack-parser");

const httpServer = http.createServer();
const io = new Server(httpServer, options);

function wire(nsp) {
  nsp.on("connection", (socket) => {
    emit({ event: "connection", nsp: nsp.name, id: socket.id, auth: describe(socket.handshake.auth),
           transport: socket.conn.transport.name });
    socket.conn.on("upgrade", (t) => emit({ event: "upgrade", nsp: nsp.name, id: socket.id, transport: t.name }));
    socket.onAny((event, ...args) => {
      const hasAck = typeof args[args.length - 1] === "function";
      emit({ event: "received", nsp: nsp.name, id: socket.id, name: event,
             args: describe(hasAck ? args.slice(0, -1) : args), ack: hasAck });
    });
    socket.on("echo", (...args) => {
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
      if (ack) ack(...args);
      else socket.emit("echo", ...args);
    });
    socket.on("message", (...args) => socket.emit("message-back", ...args));
    socket.on("join", (room, ack) => { socket.join(room); if (ack) ack(true); });
    socket.on("to-room", (room, ...args) => nsp.to(room).emit("room-message", ...args));
    socket.on("broadcast", (...args) => socket.broadcast.emit("broadcast", ...args));
    socket.on("server-ack", async (...args) => {
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
      try {
        const answer = await socket.timeout(2000).emitWithAck("ask", ...args);
        if (ack) ack(answer);
      } catch (err) {
        if (ack) ack({ error: String(err.message || err) });
      }
    });
    socket.on("disconnect-me", (close) => socket.disconnect(close === true));
    socket.on("disconnect", (reason) => emit({ event: "disconnect", nsp: nsp.name, id: socket.id, reason }));
  });
}

wire(io.of("/"));
wire(io.of("/custom"));
const auth = io.of("/auth");
auth.use((socket, next) => {
  if (socket.handshake.auth && socket.handshake.auth.token === "good") return next();
  const err = new Error("unauthorized");
  err.data = { reason: "bad token" };
  return next(err);
});
wire(auth);

commands(
  (cmd) => {
    if (cmd.cmd === "emit") {
      io.of(cmd.nsp || "/").emit(cmd.event, ...revive(cmd.args || []));
      emit({ event: "emitted", nsp: cmd.nsp || "/", name: cmd.event });
    } else if (cmd.cmd === "close") {
      io.close(() => process.exit(0));
    } else {
      fail(new Error(`unknown command ${JSON.stringify(cmd)}`));
    }
  },
  () => io.close(() => process.exit(0)),
);

httpServer.listen(0, "127.0.0.1", () => {
  emit({ port: httpServer.address().port, pid: process.pid });
});
