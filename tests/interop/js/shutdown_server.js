"use strict";
// The official socket.io 4.8 server, to compare its shutdown (io.close()) with plexio's.
// First stdout line: {"port": N}. Then one JSON line per server-side event.
//
// env:  PORT    the port to listen on (127.0.0.1)
//       NAME    prefix of the acks (default "node")
//
// Events: "work" (n, ack) -> ack(`${NAME}:${n}`).
// stdout: {"event":"disconnect","reason"} per socket; {"event":"closed"} once io.close() is done.
// stdin:  {"cmd":"close"} -> io.close(), then exit.

const http = require("node:http");
const { Server } = require("socket.io");
const { emit, commands, env } = require("./lib/io");

const name = env("NAME", "node");
const httpServer = http.createServer();
const io = new Server(httpServer);

io.on("connection", (socket) => {
  socket.on("work", (n, ack) => ack(`${name}:${n}`));
  socket.on("disconnect", (reason) => emit({ event: "disconnect", reason }));
});

commands(
  (cmd) => {
    if (cmd.cmd === "close") {
      io.close(() => {
        emit({ event: "closed" });
        process.exit(0);
      });
    } else {
      throw new Error(`unknown command ${JSON.stringify(cmd)}`);
    }
  },
  () => io.close(() => process.exit(0)),
);

httpServer.listen(Number(env("PORT")), "127.0.0.1", () => {
  emit({ port: httpServer.address().port });
});
