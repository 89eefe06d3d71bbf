// Node side of the topology measurement: `node --expose-gc client.js '<json>'`.
// Config: {ports: [...], topology, communities, token, transports, measure}. For each port
// (one fresh delay proxy per sample) one user connects, is measured and leaves. Prints one
// JSON object: {samples: [{ready_ms, transport, sockets, heap_bytes, cpu_us}]}.
"use strict";

const { io, Manager } = require("socket.io-client");
require("./scenario.js");

const cfg = JSON.parse(process.argv[2]);
const lib = { Manager, io };

function heapAfterGc() {
  if (global.gc) {
    global.gc();
    global.gc();
  }
  return process.memoryUsage().heapUsed;
}

async function main() {
  const samples = [];
  for (const port of cfg.ports) {
    const heap0 = heapAfterGc();
    const cpu0 = process.cpuUsage();
    const result = await globalThis.topologyConnect(lib, `http://127.0.0.1:${port}`, cfg);
    const cpu = process.cpuUsage(cpu0);
    result.cpu_us = cpu.user + cpu.system;
    result.heap_bytes = heapAfterGc() - heap0;
    samples.push(result);
    if (cfg.hold_ms) await new Promise((r) => setTimeout(r, cfg.hold_ms));
    await globalThis.topologyClose();
  }
  process.stdout.write(JSON.stringify({ samples }) + "\n");
}

const guard = setTimeout(() => {
  process.stderr.write("topology client: timed out\n");
  process.exit(2);
}, cfg.timeout_ms || 120000);

main().then(
  () => {
    clearTimeout(guard);
    process.exit(0);
  },
  (err) => {
    process.stderr.write(`topology client: ${err.stack || err}\n`);
    process.exit(1);
  },
);
