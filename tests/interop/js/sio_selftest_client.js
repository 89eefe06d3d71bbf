"use strict";
// Harness check for sio_server.js: the official socket.io-client exercises it once.
// env: SERVER_URL. Prints {"step": ..., ...} lines and exits 0.
const { io } = require("socket.io-client");
const { emit, env } = require("./lib/io");

async function main() {
  const url = env("SERVER_URL");
  const socket = io(url, { transports: ["websocket"], reconnection: false });
  await new Promise((resolve, reject) => {
    socket.on("connect", resolve);
    socket.on("connect_error", reject);
  });
  emit({ step: "connected", id: socket.id });
  // An ack carries every argument (emitWithAck would keep only the first).
  const echoed = await new Promise((resolve) =>
    socket.emit("echo", 1, "two", { three: [3] }, Buffer.from([4]), (...args) => resolve(args)),
  );
  emit({ step: "echo", args: echoed.map((v) => (Buffer.isBuffer(v) ? { binary: v.toString("base64") } : v)) });
  const refused = io(`${url}/auth`, { transports: ["websocket"], reconnection: false, auth: { token: "bad" } });
  const err = await new Promise((resolve) => refused.on("connect_error", resolve));
  emit({ step: "refused", message: err.message, data: err.data });
  refused.close();
  socket.close();
}

main().then(() => process.exit(0));
