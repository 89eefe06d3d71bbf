"use strict";
// Drives the official socket.io-client (4.8) against SERVER_URL: any number of managers
// (Engine.IO connections) and sockets (namespaces), each named by the test, every event
// reported as one JSON line, commands read from stdin. See
// tests/interop/test_socketio_client.py.
//
// Binary values cross the JSON-lines boundary as {"$b64": "<base64>"} at any depth.
//
// env:  SERVER_URL   http://127.0.0.1:PORT (required)
//
// stdin commands (one JSON object per line):
//   {"cmd":"manager","mid","transports":[...],"upgrade":bool,"parser":"json"|"msgpack",
//    "path":"/socket.io/","query":{...},"headers":{...}}
//       a new Manager (one Engine.IO connection); reconnection is off.
//   {"cmd":"socket","id","mid","nsp":"/","auth":{...}}   a socket on that manager (connects)
//   {"cmd":"connect","id"}                              socket.connect() again
//   {"cmd":"reply","id","event","mode":"echo"|"none"|"value","value":[...]}
//       how the socket answers server events that ask for an ack (default "echo").
//   {"cmd":"emit","id","event","args":[...],"ack":bool,"timeout":ms,"tag":"t"}
//   {"cmd":"volatile","id","event","args":[...]}
//   {"cmd":"disconnect","id"}                           socket.disconnect()
//   {"cmd":"close_engine","mid"}                        manager.engine.close() (transport close)
//   {"cmd":"freeze_engine","mid"}                       stop answering pings (ping timeout)
//   {"cmd":"exit"}
//
// stdout events:
//   {"event":"connect","id","sid","transport"}   {"event":"connect_error","id","message","data"}
//   {"event":"disconnect","id","reason"}         {"event":"recv","id","name","args","acked"}
//   {"event":"ack","id","tag","args"}            {"event":"ack_error","id","tag","message"}
//   {"event":"upgrade","mid","transport"}        {"event":"engine_open","mid","transport"}
//   {"event":"engine_close","mid","reason"}      {"event":"done","cmd"} after each command

const { Manager } = require("socket.io-client");
const { emit, fail, commands, stopCommands, env } = require("./lib/io");

const url = env("SERVER_URL");
const managers = new Map();
const sockets = new Map();
const replies = new Map(); // id -> Map(event -> {mode, value})

function isBinary(v) {
  return Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v);
}

function toJson(v) {
  if (isBinary(v)) {
    const buf = Buffer.isBuffer(v)
      ? v
      : v instanceof ArrayBuffer
        ? Buffer.from(v)
        : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    return { $b64: buf.toString("base64") };
  }
  if (Array.isArray(v)) return v.map(toJson);
  if (v && typeof v === "object") {
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = toJson(x);
    return out;
  }
  return v;
}

function fromJson(v) {
  if (Array.isArray(v)) return v.map(fromJson);
  if (v && typeof v === "object") {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === "$b64") return Buffer.from(v.$b64, "base64");
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = fromJson(x);
    return out;
  }
  return v;
}

function newManager(cmd) {
  const opts = {
    path: cmd.path || "/socket.io/",
    transports: cmd.transports || ["polling", "websocket"],
    upgrade: cmd.upgrade !== false,
    rememberUpgrade: false,
    reconnection: false,
    timeout: 10000,
  };
  if (cmd.query) opts.query = cmd.query;
  if (cmd.headers) opts.extraHeaders = cmd.headers;
  if (cmd.parser === "msgpack") opts.parser = require("socket.io-msgpack-parser");
  const manager = new Manager(url, opts);
  manager.on("open", () => {
    const engine = manager.engine;
    emit({ event: "engine_open", mid: cmd.mid, transport: engine.transport.name });
    engine.on("upgrade", (t) => emit({ event: "upgrade", mid: cmd.mid, transport: t.name }));
    engine.on("close", (reason) => emit({ event: "engine_close", mid: cmd.mid, reason }));
  });
  manager.on("error", (err) => emit({ event: "manager_error", mid: cmd.mid, message: String(err) }));
  managers.set(cmd.mid, manager);
  return manager;
}

function newSocket(cmd) {
  const manager = managers.get(cmd.mid);
  if (!manager) throw new Error(`no manager ${cmd.mid}`);
  const id = cmd.id;
  const socket = manager.socket(cmd.nsp || "/", cmd.auth ? { auth: cmd.auth } : {});
  replies.set(id, new Map());
  socket.on("connect", () => {
    emit({ event: "connect", id, sid: socket.id, transport: manager.engine.transport.name });
  });
  socket.on("connect_error", (err) => {
    emit({
      event: "connect_error",
      id,
      message: err.message,
      data: err.data === undefined ? null : toJson(err.data),
    });
  });
  socket.on("disconnect", (reason) => emit({ event: "disconnect", id, reason }));
  socket.onAny((name, ...args) => {
    let ack = null;
    if (args.length && typeof args[args.length - 1] === "function") ack = args.pop();
    emit({ event: "recv", id, name, args: toJson(args), acked: ack !== null });
    if (ack === null) return;
    const rule = replies.get(id).get(name) || { mode: "echo" };
    if (rule.mode === "echo") ack(...args);
    else if (rule.mode === "value") ack(...fromJson(rule.value || []));
    // "none": never answer
  });
  sockets.set(id, socket);
  if (!socket.connected && !socket.active) socket.connect();
  return socket;
}

function sock(id) {
  const socket = sockets.get(id);
  if (!socket) throw new Error(`no socket ${id}`);
  return socket;
}

const rl = commands(
  (cmd) => {
    switch (cmd.cmd) {
      case "manager":
        newManager(cmd);
        break;
      case "socket":
        newSocket(cmd);
        break;
      case "connect":
        sock(cmd.id).connect();
        break;
      case "reply":
        replies.get(cmd.id).set(cmd.event, { mode: cmd.mode, value: cmd.value });
        break;
      case "emit": {
        const socket = sock(cmd.id);
        const args = fromJson(cmd.args || []);
        if (cmd.ack) {
          const target = cmd.timeout ? socket.timeout(cmd.timeout) : socket;
          const done = (...res) => {
            if (cmd.timeout) {
              const err = res.shift();
              if (err) {
                emit({ event: "ack_error", id: cmd.id, tag: cmd.tag, message: String(err.message) });
                return;
              }
            }
            emit({ event: "ack", id: cmd.id, tag: cmd.tag, args: toJson(res) });
          };
          target.emit(cmd.event, ...args, done);
        } else {
          socket.emit(cmd.event, ...args);
        }
        break;
      }
      case "volatile":
        sock(cmd.id).volatile.emit(cmd.event, ...fromJson(cmd.args || []));
        break;
      case "disconnect":
        sock(cmd.id).disconnect();
        break;
      case "close_engine":
        managers.get(cmd.mid).engine.close();
        break;
      case "freeze_engine": {
        // Stop answering pings: the server must end the session with "ping timeout".
        const engine = managers.get(cmd.mid).engine;
        engine._sendPacket = () => {};
        engine._resetPingTimeout = () => {};
        clearTimeout(engine._pingTimeoutTimer);
        engine._pingTimeoutTime = Infinity;
        break;
      }
      case "exit":
        for (const m of managers.values()) if (m.engine) m.engine.close();
        stopCommands(rl);
        setTimeout(() => process.exit(0), 50);
        return;
      default:
        fail(new Error(`unknown command ${JSON.stringify(cmd)}`));
    }
    emit({ event: "done", cmd: cmd.cmd, id: cmd.id, mid: cmd.mid });
  },
  () => process.exit(0),
);
