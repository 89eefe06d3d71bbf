"use strict";
// One official socket.io-client (4.8) socket, to learn what it reports in a situation the
// test creates (tests/client/scenarios.py, disconnect reasons). Its reconnection is off.
//
// env:  SERVER_URL   http://127.0.0.1:PORT (required)
//       TRANSPORTS   comma-separated, e.g. "websocket" or "polling"
//       NAMESPACE    default "/"
//
// stdin commands (one JSON object per line):
//   {"cmd":"emit","event"}     socket.emit(event)
//   {"cmd":"disconnect"}       socket.disconnect()
//   {"cmd":"exit"}
//
// stdout events:
//   {"event":"connect","sid"}   {"event":"connect_error","message"}
//   {"event":"disconnect","reason"}
//   {"event":"done","cmd"} after each command

const { Manager } = require("socket.io-client");
const { emit, fail, commands, stopCommands, env } = require("./lib/io");

const manager = new Manager(env("SERVER_URL"), {
  transports: env("TRANSPORTS", "websocket").split(","),
  reconnection: false,
  timeout: 10000,
});
const socket = manager.socket(env("NAMESPACE", "/"));
socket.on("connect", () => emit({ event: "connect", sid: socket.id }));
socket.on("connect_error", (err) => emit({ event: "connect_error", message: err.message }));
socket.on("disconnect", (reason) => emit({ event: "disconnect", reason }));
socket.connect();

const rl = commands(
  (cmd) => {
    switch (cmd.cmd) {
      case "emit":
        socket.emit(cmd.event);
        break;
      case "disconnect":
        socket.disconnect();
        break;
      case "exit":
        socket.disconnect();
        stopCommands(rl);
        setTimeout(() => process.exit(0), 50);
        return;
      default:
        fail(new Error(`unknown command ${JSON.stringify(cmd)}`));
    }
    emit({ event: "done", cmd: cmd.cmd });
  },
  () => process.exit(0),
);
