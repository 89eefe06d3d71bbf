"use strict";
// Cross-checks plexio's Socket.IO codecs against the official npm parsers.
// argv[2]: a file of JSON lines {parser, packet, wire}; for each line this prints
// {decoded | error, wire}: how socket.io-parser / socket.io-msgpack-parser decode
// plexio's wire form, and how they encode the same packet. Binary values travel
// as {"\u0000bin": "<base64>"} inside packets, as {binary} / {text} in wire lists.

const fs = require("node:fs");
const path = require("node:path");

const modules = path.join(__dirname, "..", "..", "interop", "js", "node_modules");
const json = require(path.join(modules, "socket.io-parser"));
const msgpack = require(path.join(modules, "socket.io-msgpack-parser"));

const TAG = "\u0000bin";

function revive(value) {
  if (Array.isArray(value)) return value.map(revive);
  if (value !== null && typeof value === "object") {
    if (typeof value[TAG] === "string") return Buffer.from(value[TAG], "base64");
    const out = {};
    for (const key of Object.keys(value)) out[key] = revive(value[key]);
    return out;
  }
  return value;
}

function describe(value) {
  if (Buffer.isBuffer(value)) return { [TAG]: value.toString("base64") };
  if (value instanceof ArrayBuffer) return { [TAG]: Buffer.from(value).toString("base64") };
  if (Array.isArray(value)) return value.map(describe);
  if (value !== null && typeof value === "object") {
    const out = {};
    for (const key of Object.keys(value)) out[key] = describe(value[key]);
    return out;
  }
  return value;
}

function toWire(message) {
  return typeof message === "string"
    ? { text: message }
    : { binary: Buffer.from(message).toString("base64") };
}

function fromWire(item) {
  return typeof item.text === "string" ? item.text : Buffer.from(item.binary, "base64");
}

function check(input) {
  const lib = input.parser === "msgpack" ? msgpack : json;
  const result = {};
  const decoder = new lib.Decoder();
  let decoded = null;
  decoder.on("decoded", (packet) => {
    decoded = packet;
  });
  try {
    for (const item of input.wire) decoder.add(fromWire(item));
    result.decoded = decoded && {
      type: decoded.type,
      nsp: decoded.nsp,
      data: decoded.data === undefined ? null : describe(decoded.data),
      id: decoded.id === undefined ? null : decoded.id,
    };
  } catch (err) {
    result.error = String(err);
  }
  const p = input.packet;
  const packet = { type: p.type };
  if (p.data !== null) packet.data = revive(p.data);
  packet.nsp = p.nsp;
  if (p.id !== null) packet.id = p.id;
  result.wire = new lib.Encoder().encode(packet).map(toWire);
  return result;
}

const lines = fs.readFileSync(process.argv[2], "utf8").split("\n").filter(Boolean);
for (const line of lines) process.stdout.write(JSON.stringify(check(JSON.parse(line))) + "\n");
