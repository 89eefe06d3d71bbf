// Official socket.io-client 4.8 against a plexio server: echo, binary, a big message,
// and a broadcast in a dynamic namespace. Prints one JSON line with what it saw.
const { io } = require("socket.io-client");
const url = process.env.SERVER_URL;
const transports = (process.env.TRANSPORTS || "polling,websocket").split(",");
const opts = { transports, forceNew: true, reconnection: false };
const timer = setTimeout(() => { console.error("timeout"); process.exit(2); }, 15000);
const main = io(url, opts);
main.on("connect_error", (e) => { console.error("connect_error", e.message); process.exit(3); });
main.on("connect", async () => {
  const out = {};
  out.echo = await main.emitWithAck("echo", { x: [1, 2] });
  out.binary = [...(await main.emitWithAck("echo", Buffer.from([5, 6])))];
  out.big = (await main.emitWithAck("echo", "x".repeat(70000))).length;
  const a = io(url + "/socket/commu-7", opts);
  const b = io(url + "/socket/commu-7", opts);
  b.on("heard", (text) => {
    out.heard = text;
    if (out.ack) finish();
  });
  let ready = 0;
  const go = async () => {
    if (++ready < 2) return;
    out.ack = await a.emitWithAck("shout", "hi");
    if (out.heard) finish();
  };
  a.on("connect", go);
  b.on("connect", go);
  function finish() {
    clearTimeout(timer);
    console.log(JSON.stringify(out));
    process.exit(0);
  }
});
