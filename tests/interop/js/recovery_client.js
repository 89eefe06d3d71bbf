"use strict";
// One official socket.io-client (4.8) socket on "/" of SERVER_URL, for connection state
// recovery tests (tests/interop/test_recovery.py). Reconnection is driven by the test:
// the client's own reconnection is off, so the server can broadcast while it is away.
//
// env:  SERVER_URL   http://127.0.0.1:PORT (required)
//
// stdin commands (one JSON object per line):
//   {"cmd":"open","transports":[...],"auth":{...}}   a Manager and its socket (connects)
//   {"cmd":"emit","event","args":[...]}              socket.emit(event, ...args)
//   {"cmd":"close_engine"}                           socket.io.engine.close() (transport close)
//   {"cmd":"connect"}                                socket.connect() again (sends pid/offset)
//   {"cmd":"exit"}
//
// stdout events:
//   {"event":"connect","sid","recovered":bool}   {"event":"connect_error","message"}
//   {"event":"disconnect","reason"}         {"event":"recv","name","args"}
//   {"event":"done","cmd"} after each command

const { Manager } = require("socket.io-client");
const { emit, fail, commands, stopCommands, env } = require("./lib/io");

const url = env("SERVER_URL");
let socket = null;

function open(cmd) {
  const manager = new Manager(url, {
    transports: cmd.transports || ["websocket"],
    reconnection: false,
    timeout: 10000,
  });
  socket = manager.socket("/", cmd.auth ? { auth: cmd.auth } : {});
  socket.on("connect", () => emit({ event: "connect", sid: socket.id, recovered: socket.recovered === true }));
  socket.on("connect_error", (err) => emit({ event: "connect_error", message: err.message }));
  socket.on("disconnect", (reason) => emit({ event: "disconnect", reason }));
  socket.onAny((name, ...args) => emit({ event: "recv", name, args }));
  socket.connect();
}

const rl = commands(
  (cmd) => {
    switch (cmd.cmd) {
      case "open":
        open(cmd);
        break;
      case "emit":
        socket.emit(cmd.event, ...(cmd.args || []));
        break;
      case "close_engine":
        socket.io.engine.close();
        break;
      case "connect":
        socket.connect();
        break;
      case "exit":
        if (socket) socket.disconnect();
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
