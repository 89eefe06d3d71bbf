// Node socket.io 4.8 peer server for plexio's side-by-side benchmark.
// Same handlers as bench/servers/*.py: echo (acks its payload), join (joins a room, acks true),
// fanout (broadcasts "msg" to a room), on "/" and on the regex namespaces /socket/commu-\d+.
// Usage: node server.js --port PORT [--host 127.0.0.1] [--redis redis://HOST:PORT]
// With --redis, the server joins a cluster through @socket.io/redis-adapter 8 (createAdapter,
// node-redis 4 clients): broadcasts reach the clients of every server on that Redis.
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const host = arg("--host", "127.0.0.1");
const port = Number(arg("--port", "0"));

const httpServer = http.createServer();
// permessage-deflate is negotiated only when a client offers it (the deflate scenarios do),
// with Node's threshold of 1024 bytes; the other scenarios' clients do not offer it.
const io = new Server(httpServer, {
  cors: { origin: "*" },
  serveClient: false,
  perMessageDeflate: { threshold: 1024 },
});

function attach(socket) {
  socket.on("echo", (data, ack) => {
    if (typeof ack === "function") ack(data);
  });
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack(true);
  });
  socket.on("fanout", (room, payload) => {
    socket.nsp.to(room).emit("msg", payload);
  });
}

io.on("connection", attach);
io.of(/^\/socket\/commu-\d+$/).on("connection", attach);

async function start() {
  const redisUrl = arg("--redis", "");
  if (redisUrl) {
    const { createClient } = require("redis");
    const { createAdapter } = require("@socket.io/redis-adapter");
    const pub = createClient({ url: redisUrl });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub));
  }
  httpServer.listen(port, host, () => {
    process.stdout.write(`listening ${host}:${httpServer.address().port}\n`);
  });
}

start().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});

for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => process.exit(0));
}
