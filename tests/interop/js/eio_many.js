"use strict";
// Many engine.io-client sockets at once against SERVER_URL, each checking that its own
// echoes come back complete, in order and with their type (text/binary).
// env: SERVER_URL, CLIENTS (default 20), MESSAGES per client (default 40).
// Transports rotate: polling only, websocket only, polling then upgrade.
// stdout: one {"client": i, "sid", "transport", "ok": bool, "error"?} per client,
//         then {"done": true, "ok": <all ok>}.
const { Socket } = require("engine.io-client");
const { emit, env } = require("./lib/io");

const url = env("SERVER_URL");
const clients = Number(env("CLIENTS", "20"));
const messages = Number(env("MESSAGES", "40"));
const modes = [
  { transports: ["polling"], upgrade: false },
  { transports: ["websocket"], upgrade: true },
  { transports: ["polling", "websocket"], upgrade: true },
];

function payload(client, n) {
  // Every third message is binary; the bytes encode (client, n) so mixups show.
  if (n % 3 === 2) return Buffer.from([client & 0xff, n & 0xff, 0x00, 0xff, (client * 7 + n) & 0xff]);
  return `c${client}-m${n}-é✓-` + "x".repeat((client * 13 + n * 7) % 200);
}

function same(a, b) {
  if (typeof a === "string" || typeof b === "string") return a === b;
  return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b);
}

function run(i) {
  return new Promise((resolve) => {
    const mode = modes[i % modes.length];
    const socket = new Socket(url, { path: "/engine.io/", ...mode, rememberUpgrade: false });
    const expected = [];
    let received = 0;
    let finished = false;
    const finish = (ok, error) => {
      if (finished) return;
      finished = true;
      emit({ client: i, sid: socket.id, transport: socket.transport && socket.transport.name, ok, error });
      socket.close();
      resolve(ok);
    };
    socket.on("open", () => {
      for (let n = 0; n < messages; n++) {
        const data = payload(i, n);
        expected.push(data);
        socket.send(data);
      }
    });
    socket.on("message", (data) => {
      const want = expected[received];
      if (!same(data, want)) {
        finish(false, `message ${received}: got ${JSON.stringify(String(data)).slice(0, 80)}`);
        return;
      }
      received += 1;
      if (received === messages) finish(true);
    });
    socket.on("close", (reason) => finish(false, `closed early: ${reason}`));
    socket.on("error", (err) => finish(false, `error: ${err}`));
  });
}

Promise.all(Array.from({ length: clients }, (_, i) => run(i))).then((results) => {
  emit({ done: true, ok: results.every(Boolean) });
  setTimeout(() => process.exit(0), 200); // let the close packets leave
});
