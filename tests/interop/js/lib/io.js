"use strict";
// JSON-lines plumbing shared by the interop scripts (see tests/helpers/node.py).
// stdout: one JSON value per line. stdin: one JSON command per line.

const readline = require("node:readline");

function emit(value) {
  process.stdout.write(JSON.stringify(value) + "\n");
}

function fail(err) {
  process.stderr.write(`${err && err.stack ? err.stack : String(err)}\n`);
  process.exit(1);
}

// Binary values cross the JSON boundary as {"binary": "<base64>"}.
function toWire(data) {
  if (typeof data === "string") return { text: data };
  if (Buffer.isBuffer(data)) return { binary: data.toString("base64") };
  if (data instanceof ArrayBuffer) return { binary: Buffer.from(data).toString("base64") };
  if (ArrayBuffer.isView(data)) {
    return { binary: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64") };
  }
  return { other: String(data), type: typeof data };
}

function fromWire(value) {
  if (typeof value.text === "string") return value.text;
  if (typeof value.binary === "string") return Buffer.from(value.binary, "base64");
  throw new Error(`cannot decode wire value ${JSON.stringify(value)}`);
}

// Calls handler(command) for each JSON line on stdin; onEnd() when stdin closes.
function commands(handler, onEnd) {
  const rl = readline.createInterface({ input: process.stdin });
  rl.on("line", (line) => {
    if (!line.trim()) return;
    let cmd;
    try {
      cmd = JSON.parse(line);
    } catch (err) {
      fail(new Error(`bad command line ${JSON.stringify(line)}: ${err}`));
      return;
    }
    Promise.resolve()
      .then(() => handler(cmd))
      .catch(fail);
  });
  rl.on("close", () => {
    if (onEnd) onEnd();
  });
  return rl;
}

// Stop reading stdin so the process exits by itself once its sockets are done
// (e.g. after engine.io-client's last POST carrying the close packet).
function stopCommands(rl) {
  rl.removeAllListeners("close");
  rl.close();
  process.stdin.destroy();
}

function env(name, fallback) {
  const value = process.env[name];
  if (value === undefined || value === "") {
    if (fallback === undefined) fail(new Error(`environment variable ${name} is required`));
    return fallback;
  }
  return value;
}

// Hard deadline so a script can never hang a test run (the Python side kills too).
function installDeadline() {
  const ms = Number(process.env.PLEXIO_SCRIPT_TIMEOUT_MS || 60000);
  const timer = setTimeout(() => fail(new Error(`script deadline of ${ms} ms reached`)), ms);
  timer.unref();
}

process.on("unhandledRejection", fail);
process.on("uncaughtException", fail);
installDeadline();

module.exports = { emit, fail, toWire, fromWire, commands, stopCommands, env };
