"use strict";
// Exercises tests/helpers/node.py itself. MODE selects the behaviour:
//   echo   - answers each stdin command with {"echo": command}; exits 0 at end of stdin
//   server - HTTP server on 127.0.0.1:0 answering "hello"; first line {"port": N}
//   hang   - prints {"ready": true} and never exits on its own
//   fail   - writes a message to stderr and exits with status 3
//   spawn  - starts a child "hang" process, prints {"child": pid}, then hangs
const http = require("node:http");
const { spawn } = require("node:child_process");
const { emit, commands, env } = require("./lib/io");

const mode = env("MODE");
const keepAlive = () => setInterval(() => {}, 1 << 30);

if (mode === "echo") {
  commands((cmd) => emit({ echo: cmd }), () => process.exit(0));
} else if (mode === "server") {
  const server = http.createServer((req, res) => res.end("hello"));
  server.listen(0, "127.0.0.1", () => emit({ port: server.address().port, pid: process.pid }));
} else if (mode === "hang") {
  emit({ ready: true });
  keepAlive();
} else if (mode === "fail") {
  process.stderr.write("deliberate failure\n");
  process.exit(3);
} else if (mode === "spawn") {
  const child = spawn(process.execPath, [__filename], {
    env: { ...process.env, MODE: "hang" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  emit({ child: child.pid });
  keepAlive();
} else {
  throw new Error(`unknown MODE ${mode}`);
}
