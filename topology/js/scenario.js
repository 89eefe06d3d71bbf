// One gateway user connecting with the official socket.io-client, in a topology.
// A classic script shared by Node (client.js requires it) and Chromium (the measurement page
// loads it after socket.io.min.js). It defines globalThis.topologyConnect / topologyClose.
//
// Topologies: "A" opens one namespace /socket/commu-{id} per community and connects them all
// in one tick (socket.io-client pipelines the CONNECTs); "A-seq" awaits each namespace's
// "connect" before it opens the next; "B" connects /socket once (the server subscribes it);
// "B-sub" connects /socket, then asks with a "subscribe" event and waits for the ack.
"use strict";

(function (root) {
  function connected(socket) {
    return new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", (err) => reject(new Error(`${socket.nsp}: ${err.message}`)));
    });
  }

  async function topologyConnect(io, url, cfg) {
    const manager = new io.Manager(url, {
      transports: cfg.transports,
      reconnection: false,
      autoConnect: false,
      timeout: 20000,
    });
    const sockets = [];
    const open = (nsp, auth) => {
      const socket = manager.socket(nsp, { auth });
      sockets.push(socket);
      return socket;
    };
    root.__topologyUser = { manager, sockets };
    const start = performance.now();
    const token = cfg.token;
    if (cfg.topology === "A") {
      const all = cfg.communities.map((c) => open(`/socket/commu-${c}`, { token }));
      const waits = all.map(connected);
      all.forEach((s) => s.connect());
      await Promise.all(waits);
    } else if (cfg.topology === "A-seq") {
      for (const c of cfg.communities) {
        const socket = open(`/socket/commu-${c}`, { token });
        const wait = connected(socket);
        socket.connect();
        await wait;
      }
    } else if (cfg.topology === "B" || cfg.topology === "B-sub") {
      const auth = cfg.topology === "B" ? { token, subscribe: "server" } : { token };
      const socket = open("/socket", auth);
      const wait = connected(socket);
      socket.connect();
      await wait;
      if (cfg.topology === "B-sub") {
        const answer = await socket.timeout(20000).emitWithAck("subscribe", cfg.communities);
        if (!answer || !answer.ok || answer.joined.length !== cfg.communities.length) {
          throw new Error(`subscribe refused: ${JSON.stringify(answer)}`);
        }
      }
    } else {
      throw new Error(`unknown topology ${cfg.topology}`);
    }
    const readyMs = performance.now() - start;
    return {
      ready_ms: readyMs,
      transport: manager.engine && manager.engine.transport ? manager.engine.transport.name : "",
      sockets: Object.keys(manager.nsps).length,
    };
  }

  async function topologyClose() {
    const user = root.__topologyUser;
    root.__topologyUser = null;
    if (!user) return;
    const closed = new Promise((resolve) => {
      if (!user.manager.engine || user.manager._readyState === "closed") resolve();
      else user.manager.once("close", resolve);
      setTimeout(resolve, 2000);
    });
    user.sockets.forEach((s) => s.disconnect());
    await closed;
  }

  root.topologyConnect = topologyConnect;
  root.topologyClose = topologyClose;
})(globalThis);
