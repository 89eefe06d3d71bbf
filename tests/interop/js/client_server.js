"use strict";
// The official socket.io 4.8 server that plexio's Python client is tested against
// (tests/interop/test_client_vs_node.py). Same behaviour as tests/client/apps.py.
//
// env: PORT (default 0: any free port), PARSER ("json" | "msgpack"),
//      PING_INTERVAL / PING_TIMEOUT (ms), MAX_PAYLOAD (bytes),
//      RECOVERY ("1": connectionStateRecovery on).
// stdout: first line {"port": N}; then {"event": "connection", nsp, engine, auth} per
//         namespace join, {"event": "disconnect", nsp, reason} per leave and
//         {"event": "post", bytes} per polling POST body received.
//
// Events handled in every namespace ("/", "/a", "/b", "/auth"):
//   echo(...args)        -> ack(...args)
//   whoami()             -> ack({nsp, engine, sid, auth})
//   ask(event, ...args)  -> emits event(...args) to the client with an ack, then
//                           emits "answer"(ackArgs) (or "answer"({error}) on timeout)
//   record(x)            -> remembers x;  records() -> ack(list)
//   noack(...)           -> never acknowledges
//   count(key)           -> acknowledges only from the second call with that key: ack(n)
//   kick()               -> server-side disconnect of this socket
//   binary()             -> ack(Buffer [1,2,3], {nested: Buffer [4,5]})
//   close_transport()    -> socket.conn.close() (a clean close of the Engine.IO connection)
//   garbage()            -> socket.conn.send("9garbage") (a Socket.IO packet that does not decode)
//   join(room)           -> socket.join(room), then ack()
//   broadcast_to(room, ...args) -> nsp.to(room).emit("news", ...args)
//   sockets()            -> ack(ids of the namespace's sockets, sorted)
// "/auth" refuses a CONNECT unless auth.token is "good" or starts with "tok-".
// On connection every socket receives welcome({nsp}).

const http = require("node:http");
const { Server } = require("socket.io");
const { emit, env } = require("./lib/io");

const port = Number(env("PORT", "0"));
const options = {
  pingInterval: Number(env("PING_INTERVAL", "25000")),
  pingTimeout: Number(env("PING_TIMEOUT", "20000")),
  maxHttpBufferSize: Number(env("MAX_PAYLOAD", "1000000")),
  cors: { origin: "*" },
};
if (env("RECOVERY", "") === "1") {
  options.connectionStateRecovery = {};
}
if (env("PARSER", "json") === "msgpack") {
  options.parser = require("socket.io-msgpack-parser");
}

const httpServer = http.createServer();
const io = new Server(httpServer, options);
// After the Server: engine.io re-dispatches only non-engine.io requests to earlier listeners.
// Reads only the header: consuming the body here would steal it from engine.io.
httpServer.on("request", (req) => {
  if (req.method === "POST") emit({ event: "post", bytes: Number(req.headers["content-length"]) });
});
const records = [];
const counts = new Map();

function setup(nsp) {
  nsp.on("connection", (socket) => {
    emit({ event: "connection", nsp: nsp.name, engine: socket.conn.id, auth: socket.handshake.auth });
    socket.emit("welcome", { nsp: nsp.name });
    socket.on("disconnect", (reason) => emit({ event: "disconnect", nsp: nsp.name, reason }));
    socket.on("echo", (...args) => {
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
      if (ack) ack(...args);
    });
    socket.on("whoami", (ack) =>
      ack({ nsp: nsp.name, engine: socket.conn.id, sid: socket.id, auth: socket.handshake.auth }),
    );
    socket.on("ask", (event, ...args) => {
      if (typeof args[args.length - 1] === "function") args.pop();
      socket.timeout(5000).emit(event, ...args, (err, ...answer) => {
        socket.emit("answer", err ? { error: String(err.message) } : answer);
      });
    });
    socket.on("record", (x) => records.push(x));
    socket.on("records", (ack) => ack(records));
    socket.on("noack", () => {});
    socket.on("count", (key, ack) => {
      const n = (counts.get(key) || 0) + 1;
      counts.set(key, n);
      if (n >= 2 && typeof ack === "function") ack(n);
    });
    socket.on("kick", () => socket.disconnect());
    socket.on("binary", (ack) => ack(Buffer.from([1, 2, 3]), { nested: Buffer.from([4, 5]) }));
    socket.on("close_transport", () => socket.conn.close());
    socket.on("garbage", () => socket.conn.send("9garbage"));
    socket.on("join", (room, ack) => {
      socket.join(room);
      if (typeof ack === "function") ack();
    });
    socket.on("broadcast_to", (room, ...args) => {
      if (typeof args[args.length - 1] === "function") args.pop();
      nsp.to(room).emit("news", ...args);
    });
    socket.on("sockets", (ack) => ack([...nsp.sockets.keys()].sort()));
  });
}

setup(io.of("/"));
setup(io.of("/a"));
setup(io.of("/b"));
const auth = io.of("/auth");
auth.use((socket, next) => {
  const token = socket.handshake.auth && socket.handshake.auth.token;
  if (token === "good" || (typeof token === "string" && token.startsWith("tok-"))) return next();
  const err = new Error("unauthorized");
  err.data = { why: "bad token" };
  next(err);
});
setup(auth);

httpServer.listen(port, "127.0.0.1", () => emit({ port: httpServer.address().port }));
