"use strict";
// One official socket.io-client (4.8) socket WITH reconnection, to watch a server shut
// down gracefully: acks of events in flight arrive, the disconnect reason is reported,
// and the socket reconnects (to whatever listens on the same URL by then).
//
// env:  SERVER_URL   http://127.0.0.1:PORT (required)
//       TRANSPORTS   comma-separated, e.g. "websocket" or "polling"
//
// stdin commands (one JSON object per line):
//   {"cmd":"emit","event","arg"}   socket.emit(event, arg, ack) -> {"event":"ack","arg","reply"}
//   {"cmd":"exit"}
//
// stdout events:
//   {"event":"connect","sid"}  {"event":"disconnect","reason","description","code"}
//   {"event":"ack","arg","reply"}
//   {"event":"packet","type","data"}  every Engine.IO packet received but ping
//                                    (data: the text, or null for binary)
// ("code" is the WebSocket close code the server sent, when a WebSocket closed.)

const { Manager } = require("socket.io-client");
const { emit, commands, env } = require("./lib/io");

const manager = new Manager(env("SERVER_URL"), {
  transports: env("TRANSPORTS", "websocket").split(","),
  reconnection: true,
  reconnectionDelay: 100,
  reconnectionDelayMax: 200,
  randomizationFactor: 0,
  timeout: 5000,
});
const socket = manager.socket("/");
socket.on("connect", () => emit({ event: "connect", sid: socket.id }));
socket.on("disconnect", (reason, details) =>
  emit({
    event: "disconnect",
    reason,
    description: details && String(details.description || ""),
    code: details && details.context && typeof details.context.code === "number" ? details.context.code : null,
  }),
);
manager.on("open", () => {
  manager.engine.on("packet", (packet) => {
    if (packet.type === "ping") return;
    emit({ event: "packet", type: packet.type, data: typeof packet.data === "string" ? packet.data : null });
  });
});
socket.connect();

commands((cmd) => {
  switch (cmd.cmd) {
    case "emit":
      socket.emit(cmd.event, cmd.arg, (reply) => emit({ event: "ack", arg: cmd.arg, reply }));
      break;
    case "exit":
      process.exit(0);
      break;
    default:
      throw new Error(`unknown command ${cmd.cmd}`);
  }
});
