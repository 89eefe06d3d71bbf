"use strict";
// The official socket.io-client against a compressing server: asks for large events and
// reports what arrived and how many bytes the TCP socket read for it.
//
// env:  SERVER_URL      http://127.0.0.1:PORT (required)
//       TRANSPORT       "websocket" (the ws package, offering permessage-deflate as the
//                       client does by default) or "fetch" (long-polling over Node's fetch,
//                       which sends Accept-Encoding and decodes gzip/deflate)
// stdout: {"event":"connect","extensions"} then, for each of "data" and "plain" (5000
//         characters each): {"event":"got","name","length","bytes_read"}; then {"event":"done"}.

const { io } = require("socket.io-client");
const { Fetch } = require("engine.io-client");
const { emit, fail, env } = require("./lib/io");

const transport = env("TRANSPORT");
const socket = io(env("SERVER_URL"), {
  transports: transport === "fetch" ? [Fetch] : ["websocket"], // "websocket": the ws package
  reconnection: false,
});

function tcpBytesRead() {
  const t = socket.io.engine.transport;
  return t.ws && t.ws._socket ? t.ws._socket.bytesRead : null;
}

async function ask(name) {
  const before = tcpBytesRead();
  const text = await new Promise((resolve) => {
    socket.once("data", resolve);
    socket.emit(name, 5000);
  });
  const after = tcpBytesRead();
  emit({
    event: "got",
    name,
    length: text.length,
    intact: text === "x".repeat(5000),
    bytes_read: before === null ? null : after - before,
  });
}

socket.on("connect_error", (err) => fail(err));
socket.on("connect", async () => {
  const t = socket.io.engine.transport;
  emit({ event: "connect", extensions: t.ws ? t.ws.extensions : null });
  try {
    await ask("data");
    await ask("plain");
    emit({ event: "done" });
    socket.close();
  } catch (err) {
    fail(err);
  }
});
