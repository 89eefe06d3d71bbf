"use strict";
// The official engine.io 6.x server as an echo server: the reference that plexio's
// HTTP-level expectations are checked against (tests/interop/test_engineio_reference.py).
// First stdout line: {"port": N, "pid": P}; then one JSON line per server-side event:
// {"event":"connection","sid"} {"event":"message","sid","text"|"binary"}
// {"event":"close","sid","reason"}.
//
// env:  PING_INTERVAL / PING_TIMEOUT  ms (default 300 / 200)
//       MAX_PAYLOAD                   maxHttpBufferSize (default 1e6)
//       ALLOW_UPGRADES                "0" to disable upgrades (default "1")
//       CORS_ORIGIN                   "*" (default) or a comma list of origins
//       CORS_CREDENTIALS              "1" to allow credentials
//       ALLOW_HEADER                  if set, handshakes must carry header x-allow: yes
const http = require("node:http");
const { Server } = require("engine.io");
const { emit, toWire, env } = require("./lib/io");

const origin = env("CORS_ORIGIN", "*");
const options = {
  pingInterval: Number(env("PING_INTERVAL", "300")),
  pingTimeout: Number(env("PING_TIMEOUT", "200")),
  maxHttpBufferSize: Number(env("MAX_PAYLOAD", "1000000")),
  allowUpgrades: env("ALLOW_UPGRADES", "1") !== "0",
  cors: {
    origin: origin === "*" ? "*" : origin.split(","),
    credentials: env("CORS_CREDENTIALS", "0") === "1",
  },
};
if (env("ALLOW_HEADER", "") !== "") {
  options.allowRequest = (req, callback) => callback(null, req.headers["x-allow"] === "yes");
}

const engine = new Server(options);
const httpServer = http.createServer();
engine.attach(httpServer, { path: "/engine.io/" });

engine.on("connection", (socket) => {
  emit({ event: "connection", sid: socket.id });
  socket.on("message", (data) => {
    emit({ event: "message", sid: socket.id, ...toWire(data) });
    socket.send(data);
  });
  socket.on("close", (reason) => emit({ event: "close", sid: socket.id, reason }));
});

httpServer.listen(0, "127.0.0.1", () => {
  emit({ port: httpServer.address().port, pid: process.pid });
});
