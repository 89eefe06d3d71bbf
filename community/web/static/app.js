// plexio community: the page. Plain script, no build step; `io` comes from the official
// socket.io-client build served at /static/vendor/socket.io.min.js.
//
// Data that is not live (communities, channels, members, history) comes from the REST API;
// everything live comes over Socket.IO, with one of two topologies chosen by the user:
//   "community": one namespace per community, /socket/commu-{id} (channel rooms inside);
//   "single":    one namespace, /socket, with community_id and channel_id in every event.
"use strict";

(() => {
  const $ = (selector) => document.querySelector(selector);
  const TYPING_SEND_EVERY_MS = 2000;
  const TYPING_SHOW_MS = 3500;
  const HISTORY_PAGE = 50;

  const state = {
    token: sessionStorage.getItem("token"),
    user: JSON.parse(sessionStorage.getItem("user") || "null"),
    topology: localStorage.getItem("topology") === "single" ? "single" : "community",
    communities: new Map(), // id -> community
    channels: new Map(), // community id -> Map(channel id -> channel with .joined)
    members: new Map(), // community id -> Map(user id -> member)
    online: new Map(), // community id -> Set(user id)
    messages: new Map(), // channel id -> array of messages, oldest first
    unread: new Map(), // channel id -> count
    typing: new Map(), // channel id -> Map(user id -> {name, until})
    communityId: null,
    channelId: null,
    link: null,
    lastTypingSent: 0,
  };

  // ------------------------------------------------------------------ REST

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (state.token) headers.Authorization = `Bearer ${state.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(`/api${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const detail = data && typeof data.detail === "string" ? data.detail : response.statusText;
      if (response.status === 401 && path !== "/auth/login") logOut("session expired");
      throw new ApiError(response.status, data && data.code, detail);
    }
    return data;
  }

  // ------------------------------------------------------------------ sockets

  const SOCKET_OPTIONS = { retries: 3, ackTimeout: 10000 };

  // One object hides the two topologies from the rest of the page.
  class Link {
    constructor(topology, token, onEvent, onStatus) {
      this.topology = topology;
      this.token = token;
      this.onEvent = onEvent;
      this.onStatus = onStatus;
      this.sockets = new Map(); // key ("single" or community id) -> socket
      this.closed = false;
    }

    open(communityIds) {
      if (this.topology === "single") this._add("single", "/socket");
      else for (const id of communityIds) this.addCommunity(id);
      this._status();
    }

    addCommunity(id) {
      if (this.topology === "single" || this.sockets.has(id)) return;
      this._add(id, `/socket/commu-${id}`);
    }

    dropCommunity(id) {
      const socket = this.sockets.get(id);
      if (socket && this.topology === "community") {
        this.sockets.delete(id);
        socket.disconnect();
        this._status();
      }
    }

    _add(key, namespace) {
      const socket = io(namespace, { ...SOCKET_OPTIONS, auth: { token: this.token } });
      this.sockets.set(key, socket);
      socket.onAny((event, data) => {
        if (!this.closed) this.onEvent(event, data);
      });
      socket.on("connect", () => {
        this._status();
        this.onEvent("link:connect", { key });
      });
      socket.on("disconnect", (reason) => {
        this._status();
        if (reason === "io server disconnect" && key !== "single") {
          // The server took us out of this community (removed, or left elsewhere).
          this.sockets.delete(key);
          this.onEvent("link:kicked", { community_id: key });
        }
      });
      socket.on("connect_error", (err) => {
        this._status(err);
        if (err && (err.message === "unauthorized" || err.message === "forbidden")) {
          this.onEvent("link:refused", { key, message: err.message, data: err.data });
        }
      });
      socket.io.on("reconnect_attempt", () => this._status());
    }

    _socketFor(communityId) {
      return this.topology === "single" ? this.sockets.get("single") : this.sockets.get(communityId);
    }

    // Requests are acknowledged with {ok, data} or {ok: false, error: {code, message}}.
    async request(communityId, event, payload) {
      const socket = this._socketFor(communityId);
      if (!socket) throw new ApiError(0, "offline", "not connected to this community");
      const ack = await socket.emitWithAck(event, { community_id: communityId, ...payload });
      if (!ack || !ack.ok) {
        const error = (ack && ack.error) || { code: "error", message: "no answer" };
        throw new ApiError(0, error.code, error.message);
      }
      return ack.data;
    }

    typing(communityId, channelId) {
      const socket = this._socketFor(communityId);
      if (socket && socket.connected) {
        socket.volatile.emit("typing", { community_id: communityId, channel_id: channelId });
      }
    }

    close() {
      this.closed = true;
      for (const socket of this.sockets.values()) socket.disconnect();
      this.sockets.clear();
      this.onStatus("offline", "offline");
    }

    _status(error) {
      if (this.closed) return;
      const all = [...this.sockets.values()];
      const connected = all.filter((s) => s.connected);
      let transport = "";
      for (const s of connected) {
        const engine = s.io && s.io.engine;
        if (engine && engine.transport) transport = engine.transport.name;
      }
      if (all.length === 0) this.onStatus("connected", "connected (no community)");
      else if (connected.length === all.length) {
        const what = this.topology === "single" ? "/socket" : `${all.length} namespaces`;
        this.onStatus("connected", `connected · ${what} · ${transport}`);
      } else if (error) this.onStatus("error", `connection error: ${error.message}`);
      else this.onStatus("connecting", "connecting…");
    }
  }

  function setStatus(kind, text) {
    const status = $("#status");
    status.dataset.state = kind;
    status.textContent = text;
  }

  // ------------------------------------------------------------------ helpers

  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  }

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "dataset") Object.assign(node.dataset, value);
      else if (key === "className") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function notice(text) {
    $("#notice").textContent = text || "";
  }

  function shortTime(iso) {
    const date = new Date(iso);
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function channelMap(communityId) {
    if (!state.channels.has(communityId)) state.channels.set(communityId, new Map());
    return state.channels.get(communityId);
  }

  function onlineSet(communityId) {
    if (!state.online.has(communityId)) state.online.set(communityId, new Set());
    return state.online.get(communityId);
  }

  // ------------------------------------------------------------------ rendering

  function renderCommunities() {
    const list = $("#communities");
    list.replaceChildren();
    for (const community of state.communities.values()) {
      const unread = [...channelMap(community.id).keys()].reduce(
        (sum, id) => sum + (state.unread.get(id) || 0),
        0,
      );
      const initials = community.name
        .split(/\s+/)
        .map((word) => word[0] || "")
        .join("")
        .slice(0, 2)
        .toUpperCase();
      list.append(
        el(
          "li",
          {
            className: `community${community.id === state.communityId ? " active" : ""}`,
            dataset: { id: community.id, name: community.name },
          },
          el(
            "button",
            { type: "button", title: community.name, onclick: () => selectCommunity(community.id) },
            initials,
            unread && community.id !== state.communityId
              ? el("span", { className: "badge" }, String(unread))
              : null,
          ),
        ),
      );
    }
  }

  function renderChannels() {
    const community = state.communities.get(state.communityId);
    $("#community-name").textContent = community ? community.name : "—";
    $("#community-description").textContent = community ? community.description : "";
    $("#leave-community").hidden = !community || community.owner_id === state.user.id;
    const list = $("#channels");
    list.replaceChildren();
    if (!community) return;
    for (const channel of channelMap(community.id).values()) {
      const unread = state.unread.get(channel.id) || 0;
      list.append(
        el(
          "li",
          {
            className: [
              "channel",
              channel.joined ? "joined" : "",
              channel.id === state.channelId ? "active" : "",
            ].join(" "),
            dataset: { id: channel.id, name: channel.name },
            title: channel.topic || channel.name,
            onclick: () => channel.joined && selectChannel(channel.id),
          },
          el("span", { className: "name" }, channel.name),
          channel.joined
            ? unread && channel.id !== state.channelId
              ? el("span", { className: "unread" }, String(unread))
              : null
            : el(
                "button",
                {
                  type: "button",
                  className: "join-channel",
                  onclick: (event) => {
                    event.stopPropagation();
                    joinChannel(channel.id);
                  },
                },
                "join",
              ),
        ),
      );
    }
  }

  function renderMessages() {
    const list = $("#messages");
    const channel = state.channelId && channelMap(state.communityId).get(state.channelId);
    $("#channel-name").textContent = channel ? channel.name : "—";
    $("#leave-channel").hidden = !channel;
    $("#composer").hidden = !channel;
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.replaceChildren();
    for (const message of state.messages.get(state.channelId) || []) {
      const mine = message.author_id === state.user.id;
      list.append(
        el(
          "li",
          {
            className: `message${message.pending ? " pending" : ""}${message.failed ? " failed" : ""}`,
            dataset: { id: message.id || "", clientId: message.client_id || "" },
          },
          el("span", { className: "author" }, message.author_username),
          message.created_at
            ? el("time", { datetime: message.created_at }, shortTime(message.created_at))
            : el("time", {}, message.failed ? "not sent" : "sending…"),
          mine && message.id
            ? el(
                "span",
                { className: "tools" },
                el("button", { type: "button", onclick: () => editMessage(message) }, "edit"),
                el("button", { type: "button", onclick: () => deleteMessage(message) }, "delete"),
              )
            : el("span"),
          el(
            "div",
            { className: "body" },
            message.body,
            message.edited_at ? el("span", { className: "edited" }, "(edited)") : null,
          ),
        ),
      );
    }
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function renderMembers() {
    const list = $("#members");
    list.replaceChildren();
    const members = [...(state.members.get(state.communityId) || new Map()).values()];
    const online = onlineSet(state.communityId);
    members.sort(
      (a, b) =>
        Number(online.has(b.user_id)) - Number(online.has(a.user_id)) ||
        a.display_name.localeCompare(b.display_name),
    );
    for (const member of members) {
      list.append(
        el(
          "li",
          {
            className: "member",
            dataset: {
              userId: member.user_id,
              username: member.username,
              online: String(online.has(member.user_id)),
            },
          },
          el("span", {}, member.display_name),
          member.role === "owner" ? el("span", { className: "role" }, "owner") : null,
        ),
      );
    }
    const count = members.filter((m) => online.has(m.user_id)).length;
    $("#online-count").textContent = members.length ? `· ${count} online` : "";
  }

  function renderTyping() {
    const now = Date.now();
    const typers = state.typing.get(state.channelId) || new Map();
    const names = [];
    for (const [userId, entry] of typers) {
      if (entry.until < now) typers.delete(userId);
      else names.push(entry.name);
    }
    let text = "";
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length > 1) text = `${names.join(", ")} are typing…`;
    $("#typing").textContent = text;
  }

  function renderAll() {
    renderCommunities();
    renderChannels();
    renderMessages();
    renderMembers();
    renderTyping();
  }

  // ------------------------------------------------------------------ loading

  async function loadCommunity(communityId) {
    const [channels, members] = await Promise.all([
      api("GET", `/communities/${communityId}/channels`),
      api("GET", `/communities/${communityId}/members`),
    ]);
    const map = channelMap(communityId);
    map.clear();
    for (const channel of channels) map.set(channel.id, channel);
    state.members.set(communityId, new Map(members.map((m) => [m.user_id, m])));
  }

  async function loadHistory(channelId) {
    const page = await api("GET", `/channels/${channelId}/messages?limit=${HISTORY_PAGE}`);
    const pending = (state.messages.get(channelId) || []).filter((m) => !m.id);
    state.messages.set(channelId, [...page.messages.reverse(), ...pending]);
    state.unread.delete(channelId);
  }

  async function selectCommunity(communityId) {
    state.communityId = communityId;
    state.channelId = null;
    notice("");
    try {
      await loadCommunity(communityId);
    } catch (error) {
      notice(error.message);
    }
    if (state.communityId !== communityId) return;
    const joined = [...channelMap(communityId).values()].filter((c) => c.joined);
    const general = joined.find((c) => c.name === "general") || joined[0];
    if (general) await selectChannel(general.id);
    else renderAll();
    if (state.link && state.link.topology === "single") {
      state.link
        .request(communityId, "presence:get", {})
        .then((data) => {
          state.online.set(data.community_id, new Set(data.online));
          renderMembers();
        })
        .catch(() => {});
    }
  }

  async function selectChannel(channelId) {
    state.channelId = channelId;
    renderAll();
    try {
      await loadHistory(channelId);
    } catch (error) {
      notice(error.message);
    }
    if (state.channelId === channelId) renderAll();
    $("#message-input").focus();
  }

  // ------------------------------------------------------------------ live events

  function upsertMessage(message) {
    const list = state.messages.get(message.channel_id);
    if (!list) {
      // Not loaded: count it as unread (history brings it when the channel opens).
      if (message.author_id !== state.user.id) {
        state.unread.set(message.channel_id, (state.unread.get(message.channel_id) || 0) + 1);
      }
      return;
    }
    const index = list.findIndex(
      (m) =>
        (m.id && m.id === message.id) ||
        (!m.id && m.client_id && m.client_id === message.client_id && message.author_id === state.user.id),
    );
    if (index >= 0) list[index] = message;
    else {
      list.push(message);
      if (message.channel_id !== state.channelId && message.author_id !== state.user.id) {
        state.unread.set(message.channel_id, (state.unread.get(message.channel_id) || 0) + 1);
      }
    }
  }

  function removeCommunity(communityId, why) {
    const community = state.communities.get(communityId);
    state.communities.delete(communityId);
    for (const channelId of channelMap(communityId).keys()) state.messages.delete(channelId);
    state.channels.delete(communityId);
    state.members.delete(communityId);
    state.online.delete(communityId);
    if (state.link) state.link.dropCommunity(communityId);
    if (state.communityId === communityId) {
      state.communityId = null;
      state.channelId = null;
      const next = state.communities.keys().next();
      if (!next.done) selectCommunity(next.value);
    }
    renderAll();
    if (community && why) notice(`${why}: ${community.name}`);
  }

  const handlers = {
    "message:new": (m) => {
      upsertMessage(m);
      const typers = state.typing.get(m.channel_id);
      if (typers) typers.delete(m.author_id);
      renderAll();
    },
    "message:edited": (m) => {
      upsertMessage(m);
      renderMessages();
    },
    "message:deleted": (d) => {
      const list = state.messages.get(d.channel_id);
      if (list) state.messages.set(d.channel_id, list.filter((m) => m.id !== d.id));
      renderMessages();
    },
    typing: (t) => {
      if (t.user_id === state.user.id) return;
      if (!state.typing.has(t.channel_id)) state.typing.set(t.channel_id, new Map());
      state.typing.get(t.channel_id).set(t.user_id, {
        name: t.display_name,
        until: Date.now() + TYPING_SHOW_MS,
      });
      renderTyping();
    },
    presence: (p) => {
      const set = onlineSet(p.community_id);
      if (p.status === "online") set.add(p.user_id);
      else set.delete(p.user_id);
      if (p.community_id === state.communityId) renderMembers();
    },
    "presence:state": (p) => {
      state.online.set(p.community_id, new Set(p.online));
      if (p.community_id === state.communityId) renderMembers();
    },
    "channel:created": (channel) => {
      const map = channelMap(channel.community_id);
      const known = map.get(channel.id);
      map.set(channel.id, { ...channel, joined: known ? known.joined : channel.created_by === state.user.id });
      renderChannels();
    },
    "channel:joined": (channel) => {
      channelMap(channel.community_id).set(channel.id, { ...channel, joined: true });
      renderChannels();
    },
    "channel:left": (d) => {
      const channel = channelMap(d.community_id).get(d.channel_id);
      if (channel) channel.joined = false;
      state.messages.delete(d.channel_id);
      if (state.channelId === d.channel_id) {
        state.channelId = null;
        renderAll();
      } else renderChannels();
    },
    "community:joined": (community) => {
      if (!state.communities.has(community.id)) {
        state.communities.set(community.id, community);
        renderCommunities();
      }
    },
    "community:updated": (community) => {
      if (state.communities.has(community.id)) {
        state.communities.set(community.id, community);
        renderCommunities();
        renderChannels();
      }
    },
    "community:left": (d) => {
      removeCommunity(d.community_id, d.reason === "removed" ? "You were removed from" : "You left");
    },
    "member:joined": (member) => {
      const members = state.members.get(member.community_id);
      if (members) members.set(member.user_id, member);
      if (member.community_id === state.communityId) renderMembers();
    },
    "member:left": (d) => {
      if (d.user_id === state.user.id) return;
      const members = state.members.get(d.community_id);
      if (members) members.delete(d.user_id);
      onlineSet(d.community_id).delete(d.user_id);
      if (d.community_id === state.communityId) renderMembers();
    },
    "link:connect": () => {
      // Catch up on whatever was said while we were away.
      if (state.channelId) loadHistory(state.channelId).then(renderMessages).catch(() => {});
    },
    "link:kicked": (d) => removeCommunity(d.community_id, "Disconnected from"),
    "link:refused": (d) => {
      if (d.message === "unauthorized") logOut("Your session has ended; please log in again.");
      else if (d.message === "forbidden") removeCommunity(d.key, "No longer a member of");
    },
  };

  // The last live events, for debugging in the console (and for the end-to-end tests).
  const recentEvents = [];
  window.communityDebug = { events: recentEvents, state };

  function onEvent(event, data) {
    recentEvents.push({ event, data });
    if (recentEvents.length > 500) recentEvents.shift();
    const handler = handlers[event];
    if (handler) handler(data);
  }

  // ------------------------------------------------------------------ actions

  async function sendMessage(body) {
    const communityId = state.communityId;
    const channelId = state.channelId;
    const message = {
      id: null,
      client_id: newClientId(),
      channel_id: channelId,
      community_id: communityId,
      author_id: state.user.id,
      author_username: state.user.username,
      body,
      pending: true,
    };
    if (!state.messages.has(channelId)) state.messages.set(channelId, []);
    state.messages.get(channelId).push(message);
    renderMessages();
    try {
      // socket.io-client resends until acknowledged (retries); the client_id makes the
      // server store the message once.
      const stored = await state.link.request(communityId, "message:send", {
        channel_id: channelId,
        body,
        client_id: message.client_id,
      });
      upsertMessage(stored);
    } catch (error) {
      message.pending = false;
      message.failed = true;
      notice(`not sent: ${error.message}`);
    }
    renderMessages();
  }

  async function editMessage(message) {
    const body = prompt("Edit message", message.body);
    if (body === null || body === message.body) return;
    try {
      upsertMessage(
        await state.link.request(message.community_id, "message:edit", {
          message_id: message.id,
          body,
        }),
      );
      renderMessages();
    } catch (error) {
      notice(error.message);
    }
  }

  async function deleteMessage(message) {
    try {
      await state.link.request(message.community_id, "message:delete", { message_id: message.id });
    } catch (error) {
      notice(error.message);
    }
  }

  async function joinChannel(channelId) {
    try {
      const channel = await state.link.request(state.communityId, "channel:join", {
        channel_id: channelId,
      });
      channelMap(channel.community_id).set(channel.id, { ...channel, joined: true });
      await selectChannel(channel.id);
    } catch (error) {
      notice(error.message);
    }
  }

  async function leaveChannel() {
    try {
      await state.link.request(state.communityId, "channel:leave", { channel_id: state.channelId });
    } catch (error) {
      notice(error.message);
    }
  }

  async function createChannel(name) {
    try {
      const channel = await api("POST", `/communities/${state.communityId}/channels`, { name });
      channelMap(channel.community_id).set(channel.id, { ...channel, joined: true });
      await selectChannel(channel.id);
    } catch (error) {
      notice(error.message);
    }
  }

  async function addCommunity(community) {
    state.communities.set(community.id, community);
    if (state.link) state.link.addCommunity(community.id);
    await selectCommunity(community.id);
  }

  async function openDiscover() {
    const list = $("#joinable");
    list.replaceChildren();
    try {
      for (const community of await api("GET", "/communities/all")) {
        if (state.communities.has(community.id)) continue;
        list.append(
          el(
            "li",
            {},
            el("span", { title: community.description }, community.name),
            el(
              "button",
              {
                type: "button",
                onclick: async () => {
                  try {
                    await api("POST", `/communities/${community.id}/join`);
                    $("#discover").close();
                    await addCommunity(community);
                  } catch (error) {
                    notice(error.message);
                  }
                },
              },
              "join",
            ),
          ),
        );
      }
    } catch (error) {
      notice(error.message);
    }
    if (!list.children.length) list.append(el("li", {}, "You are in every community."));
    $("#discover").showModal();
  }

  // ------------------------------------------------------------------ session

  function connect() {
    if (state.link) state.link.close();
    state.link = new Link(state.topology, state.token, onEvent, setStatus);
    state.link.open([...state.communities.keys()]);
  }

  async function start() {
    $("#login").hidden = true;
    $("#app").hidden = false;
    $("#whoami").hidden = false;
    $("#me").textContent = state.user.display_name;
    setStatus("connecting", "loading…");
    try {
      const communities = await api("GET", "/communities");
      state.communities = new Map(communities.map((c) => [c.id, c]));
    } catch (error) {
      notice(error.message);
      return;
    }
    connect();
    const first = state.communities.keys().next();
    if (!first.done) await selectCommunity(first.value);
    else renderAll();
  }

  function logOut(why) {
    if (state.link) state.link.close();
    state.link = null;
    state.token = null;
    state.user = null;
    sessionStorage.removeItem("token");
    sessionStorage.removeItem("user");
    for (const key of ["communities", "channels", "members", "online", "messages", "unread", "typing"]) {
      state[key] = new Map();
    }
    state.communityId = null;
    state.channelId = null;
    $("#app").hidden = true;
    $("#whoami").hidden = true;
    $("#login").hidden = false;
    $("#login-error").textContent = why || "";
    setStatus("offline", "offline");
  }

  async function logIn(path) {
    const username = $("#username").value.trim();
    const password = $("#password").value;
    $("#login-error").textContent = "";
    try {
      const body = { username, password };
      const session = await api("POST", path, body);
      state.token = session.access_token;
      state.user = session.user;
      sessionStorage.setItem("token", state.token);
      sessionStorage.setItem("user", JSON.stringify(state.user));
      await start();
    } catch (error) {
      $("#login-error").textContent = error.message;
    }
  }

  // ------------------------------------------------------------------ wiring

  document.addEventListener("DOMContentLoaded", () => {
    for (const radio of document.querySelectorAll('input[name="topology"]')) {
      radio.checked = radio.value === state.topology;
      radio.addEventListener("change", () => {
        state.topology = radio.value;
        localStorage.setItem("topology", state.topology);
        if (state.token && state.user) {
          connect();
          if (state.channelId) loadHistory(state.channelId).then(renderMessages).catch(() => {});
        }
      });
    }
    $("#login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      logIn("/auth/login");
    });
    $("#signup-button").addEventListener("click", () => logIn("/auth/signup"));
    $("#logout").addEventListener("click", () => logOut(""));
    $("#composer").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = $("#message-input");
      const body = input.value;
      if (!body.trim() || !state.channelId) return;
      input.value = "";
      sendMessage(body);
    });
    $("#message-input").addEventListener("input", () => {
      const now = Date.now();
      if (state.link && state.channelId && now - state.lastTypingSent > TYPING_SEND_EVERY_MS) {
        state.lastTypingSent = now;
        state.link.typing(state.communityId, state.channelId);
      }
    });
    $("#new-channel-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const name = $("#new-channel-name").value.trim();
      if (name) {
        $("#new-channel-name").value = "";
        createChannel(name);
      }
    });
    $("#leave-channel").addEventListener("click", leaveChannel);
    $("#leave-community").addEventListener("click", async () => {
      try {
        await api("POST", `/communities/${state.communityId}/leave`);
        removeCommunity(state.communityId, "You left");
      } catch (error) {
        notice(error.message);
      }
    });
    $("#discover-button").addEventListener("click", openDiscover);
    $("#create-community-form").addEventListener("submit", async (event) => {
      if (event.submitter && event.submitter.value !== "create") return;
      event.preventDefault();
      const name = $("#new-community-name").value.trim();
      if (!name) return;
      try {
        const community = await api("POST", "/communities", { name });
        $("#new-community-name").value = "";
        $("#discover").close();
        await addCommunity(community);
      } catch (error) {
        notice(error.message);
      }
    });
    setInterval(renderTyping, 1000);
    if (state.token && state.user) start();
  });
})();
