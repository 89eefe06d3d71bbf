"use strict";
// Drives the official engine.io-client (6.x) against SERVER_URL, reporting every
// event as a JSON line and taking commands on stdin.
//
// env:  SERVER_URL   http://127.0.0.1:PORT (required)
//       EIO_PATH     mount path, default /engine.io/
//       TRANSPORTS   comma list, default "polling,websocket"
//       UPGRADE      "0" disables upgrading, default "1"
//       REPORT_POLLS "1" reports {"event":"poll"} for each polling GET after the handshake
// stdin commands:  {"cmd":"send","text":"..."} | {"cmd":"send","binary":"<base64>"}
//                  {"cmd":"close"}  (client-side close; the script exits once idle)
// stdout events:   {"event":"open","sid","transport"} {"event":"upgrading","transport"}
//                  {"event":"upgrade","transport"} {"event":"message","text"|"binary"}
//                  {"event":"ping","transport"} {"event":"close","reason","description"}
//                  {"event":"error","message"}

const { Socket } = require("engine.io-client");
const { emit, fail, toWire, fromWire, commands, stopCommands, env } = require("./lib/io");

const url = env("SERVER_URL");
const socket = new Socket(url, {
  path: env("EIO_PATH", "/engine.io/"),
  transports: env("TRANSPORTS", "polling,websocket").split(","),
  upgrade: env("UPGRADE", "1") !== "0",
  // No reconnection logic lives in engine.io-client; keep the run deterministic.
  rememberUpgrade: false,
});

if (env("REPORT_POLLS", "0") === "1" && socket.transport && socket.transport.name === "polling") {
  // The handshake GET has already started: this counts the GETs after it.
  socket.transport.on("poll", () => emit({ event: "poll" }));
}

socket.on("open", () => {
  emit({ event: "open", sid: socket.id, transport: socket.transport.name });
});
socket.on("upgrading", (transport) => emit({ event: "upgrading", transport: transport.name }));
socket.on("upgrade", (transport) => emit({ event: "upgrade", transport: transport.name }));
socket.on("upgradeError", (err) => emit({ event: "upgradeError", message: String(err) }));
socket.on("message", (data) => emit({ event: "message", ...toWire(data) }));
socket.on("ping", () => emit({ event: "ping", transport: socket.transport.name }));
socket.on("error", (err) => emit({ event: "error", message: String(err) }));
socket.on("close", (reason, description) => {
  emit({ event: "close", reason, description: description ? String(description.message || description) : null });
  // No process.exit(): a polling client still has to POST its close packet; the
  // process ends by itself when nothing is left to do.
  stopCommands(rl);
});

const rl = commands(
  (cmd) => {
    switch (cmd.cmd) {
      case "send":
        socket.send(fromWire(cmd), () => emit({ event: "sent" }));
        break;
      case "close":
        socket.close();
        break;
      default:
        fail(new Error(`unknown command ${JSON.stringify(cmd)}`));
    }
  },
  () => socket.close(),
);
