// mcp-bridge console. Plain JavaScript, no build, nothing loaded from
// elsewhere. Everything it shows comes from the bridge's own routes, asked
// with the key typed by the person (kept in sessionStorage, sent in the
// Authorization header, never in a URL).
//
// Every string that comes from the bridge or from an MCP server (names,
// descriptions, errors, results, answers) is put in the page as text
// (textContent, attribute values), never as HTML.
"use strict";

(() => {
  const KEY = "mcp-bridge-console-key";
  const $ = (sel) => document.querySelector(sel);

  // el builds an element; children that are strings become text nodes.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) {
      if (c === undefined || c === null || c === false) continue;
      e.append(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return e;
  }
  const svgEl = (tag, attrs) => {
    const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    return e;
  };
  const show = (node, on) => { node.hidden = !on; };
  const setError = (node, msg) => { node.textContent = msg || ""; show(node, !!msg); };

  // ---- the key and the bridge's routes ----

  let key = sessionStorage.getItem(KEY) || "";

  // base is the bridge's root as the browser sees it: "" normally, a path
  // when a proxy serves the bridge under one (/bridge/ui/ -> /bridge).
  const base = location.pathname.replace(/\/ui(\/.*)?$/, "");

  class BridgeError extends Error {
    constructor(status, message, code) { super(message); this.status = status; this.code = code; }
  }

  function headers(extra) {
    const h = new Headers(extra || {});
    if (key) h.set("Authorization", "Bearer " + key);
    return h;
  }

  // errorOf reads the bridge's {"error":{...}} answer of a failed request.
  async function errorOf(resp) {
    let msg = resp.status + " " + resp.statusText, code = "";
    try {
      const body = await resp.json();
      if (body && body.error) {
        msg = String(body.error.message || msg);
        code = String(body.error.code || body.error.type || "");
      }
    } catch { /* not JSON */ }
    return new BridgeError(resp.status, msg, code);
  }

  async function api(path, opts) {
    opts = opts || {};
    const resp = await fetch(path, {
      method: opts.method || "GET", headers: headers(opts.headers), body: opts.body,
      signal: opts.signal, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer",
    });
    if (resp.status === 401) {
      // The key was revoked (a reload) or has expired: ask again.
      const err = await errorOf(resp);
      sessionStorage.removeItem(KEY);
      started = false;
      needKey("The bridge no longer accepts the key (" + (err.code || "401") + ": " + err.message + "). Enter a key.");
      throw new BridgeError(401, "unauthorized");
    }
    if (!resp.ok) throw await errorOf(resp);
    return resp;
  }
  const getJSON = async (path) => (await api(path)).json();

  // sse reads a text/event-stream body, calling onEvent({event, data})
  // per event, until it ends or signal aborts.
  async function sse(resp, onEvent) {
    const reader = resp.body.getReader();
    const dec = new TextDecoder();
    let buf = "", event = "", data = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        let line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.endsWith("\r")) line = line.slice(0, -1);
        if (line === "") {
          if (data.length) onEvent({ event, data: data.join("\n") });
          event = ""; data = [];
        } else if (line.startsWith(":")) {
          // comment (keepalive)
        } else if (line.startsWith("data:")) {
          data.push(line.slice(5).replace(/^ /, ""));
        } else if (line.startsWith("event:")) {
          event = line.slice(6).trim();
        }
      }
    }
    if (data.length) onEvent({ event, data: data.join("\n") });
  }

  // ---- sign in ----

  let started = false;

  function needKey(message) {
    stopFeed();
    show($(".top nav"), false);
    show($("#feed-state"), false);
    for (const p of document.querySelectorAll(".page")) show(p, false);
    show($("#login"), true);
    setError($("#login-error"), message || "");
    $("#key").focus();
  }

  $("#login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const typed = $("#key").value.trim();
    if (!typed) return;
    key = typed;
    setError($("#login-error"), "");
    await start();
  });

  $("#forget").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    key = "";
    started = false;
    $("#key").value = "";
    show($("#forget"), false);
    needKey("");
  });

  // start checks the key with the servers route, then opens the page.
  async function start() {
    let data;
    try {
      const resp = await fetch("api/servers", { headers: headers(), cache: "no-store", credentials: "omit" });
      if (resp.status === 401 || resp.status === 403) {
        const err = await errorOf(resp);
        sessionStorage.removeItem(KEY);
        const typed = key !== "";
        key = "";
        needKey(typed
          ? "Wrong key: the bridge refused it (" + resp.status + " " + (err.code || "unauthorized") + ": " + err.message +
            "). Check the key and try again."
          : "This bridge needs an API key.");
        return;
      }
      if (!resp.ok) throw await errorOf(resp);
      data = await resp.json();
    } catch (err) {
      needKey("The bridge could not be reached: " + err.message);
      return;
    }
    if (key) sessionStorage.setItem(KEY, key);
    show($("#forget"), !!key);
    show($("#login"), false);
    show($(".top nav"), true);
    show($("#feed-state"), true);
    started = true;
    renderServers(data.servers || []);
    startFeed();
    route();
  }

  // ---- pages ----

  const pages = ["servers", "tools", "activity", "chat"];
  const onShow = { servers: () => refreshServers(), tools: () => loadTools(), activity: () => {}, chat: () => loadModels() };

  function route() {
    if (!started) return;
    let name = location.hash.replace(/^#/, "");
    if (!pages.includes(name)) name = "servers";
    for (const p of pages) show($("#page-" + p), p === name);
    for (const a of document.querySelectorAll("[data-nav]")) {
      if (a.dataset.nav === name) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    document.title = name[0].toUpperCase() + name.slice(1) + " · mcp-bridge console";
    onShow[name]();
  }
  window.addEventListener("hashchange", () => { route(); $("#main").focus({ preventScroll: true }); });

  // ---- servers ----

  const stateClass = (s) => (s === "ready" ? "ok" : s === "disabled" ? "off" : "bad");

  function sparkline(samples) {
    const w = 120, h = 28, pad = 3;
    const svg = svgEl("svg", { class: "spark", viewBox: `0 0 ${w} ${h}`, role: "img" });
    if (!samples.length) {
      svg.setAttribute("aria-label", "no calls yet");
      return svg;
    }
    const max = Math.max(1, ...samples.map((s) => s.ms));
    const step = samples.length > 1 ? (w - 2 * pad) / (samples.length - 1) : 0;
    const pts = samples.map((s, i) => [pad + i * step, h - pad - (s.ms / max) * (h - 2 * pad)]);
    svg.append(svgEl("polyline", { points: pts.map((p) => p.map((n) => n.toFixed(1)).join(",")).join(" ") }));
    samples.forEach((s, i) => { if (s.error) svg.append(svgEl("circle", { cx: pts[i][0], cy: pts[i][1], r: 2 })); });
    const last = samples[samples.length - 1].ms;
    const avg = Math.round(samples.reduce((a, s) => a + s.ms, 0) / samples.length);
    svg.setAttribute("aria-label", `last ${last} ms, average ${avg} ms over ${samples.length} calls`);
    const title = svgEl("title", {});
    title.textContent = `last ${last} ms · avg ${avg} ms · max ${max} ms`;
    svg.append(title);
    return svg;
  }

  function renderServers(servers) {
    const body = $("#servers tbody");
    // data-label names each cell where a phone's width shows rows as cards.
    body.replaceChildren(...servers.map((s) => el("tr", { "data-server": s.name, "data-state": s.state },
      el("td", { "data-label": "State" }, el("span", { class: "state " + stateClass(s.state), text: s.state })),
      el("th", { scope: "row", text: s.name }),
      el("td", { "data-label": "Transport", text: s.transport || "" }),
      el("td", { "data-label": "Tools", class: "tools-count", text: String(s.tools) }),
      el("td", { "data-label": "Restarts", text: String(s.restarts) }),
      el("td", { "data-label": "Calls", text: s.errors ? `${s.calls} (${s.errors} failed)` : String(s.calls) }),
      el("td", { "data-label": "Latency" }, sparkline(s.latency || [])),
      el("td", { "data-label": "Last error", class: "err", text: s.error || "" }),
    )));
    show($("#servers-empty"), servers.length === 0);
  }

  // markDown shows a server down as soon as the feed says so, before the
  // next refresh.
  function markDown(name, error) {
    for (const row of document.querySelectorAll("#servers tbody tr")) {
      if (row.dataset.server !== name) continue;
      row.dataset.state = "down";
      const st = row.querySelector(".state");
      st.className = "state bad";
      st.textContent = "down";
      if (error) row.querySelector(".err").textContent = String(error);
    }
  }

  let serversBusy = false;
  async function refreshServers() {
    if (!started || serversBusy) return;
    serversBusy = true;
    try {
      renderServers((await getJSON("api/servers")).servers || []);
      setError($("#servers-error"), "");
    } catch (err) {
      if (err.status !== 401) setError($("#servers-error"), "Could not load the servers: " + err.message);
    } finally {
      serversBusy = false;
    }
  }
  setInterval(() => { if (started && !$("#page-servers").hidden && !document.hidden) refreshServers(); }, 2000);

  // ---- tools ----

  let tools = [], toolsDoc = null, current = null;

  async function loadTools() {
    try {
      toolsDoc = await getJSON(base + "/openapi.json");
    } catch (err) {
      if (err.status !== 401) $("#tool-detail").replaceChildren(el("p", { class: "error", text: "Could not load the tools: " + err.message }));
      return;
    }
    tools = [];
    for (const [path, item] of Object.entries(toolsDoc.paths || {})) {
      const op = item && item.post;
      if (!op || !path.startsWith("/tools/")) continue;
      const content = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
      tools.push({
        name: String(op.operationId || path.slice(7)),
        server: String((op.tags && op.tags[0]) || ""),
        summary: String(op.summary || ""),
        description: String(op.description || ""),
        schema: content ? (budget = resolveBudget, resolve(content.schema, 0)) : { type: "object", properties: {} },
      });
    }
    tools.sort((a, b) => a.name.localeCompare(b.name));
    renderToolList();
  }

  // resolve inlines the document's local $refs, to a bounded depth.
  // A tool's schema is resolved within a budget of nodes, so that
  // references that fan out (a hostile server's) cannot freeze the page.
  let budget = 0;
  const resolveBudget = 5000;
  function resolve(schema, depth, siblings) {
    if (!schema || typeof schema !== "object" || depth > 12 || --budget < 0) return schema;
    if (Array.isArray(schema)) return schema.map((s) => resolve(s, depth + 1));
    if (!siblings && typeof schema.$ref === "string" && schema.$ref.startsWith("#/")) {
      let target = toolsDoc;
      for (const part of schema.$ref.slice(2).split("/")) {
        target = target && Object.prototype.hasOwnProperty.call(target, part.replace(/~1/g, "/").replace(/~0/g, "~"))
          ? target[part.replace(/~1/g, "/").replace(/~0/g, "~")] : undefined;
      }
      const rest = resolve(schema, depth + 1, true);
      return Object.assign({}, resolve(target, depth + 1), rest);
    }
    const out = {};
    for (const [k, v] of Object.entries(schema)) {
      if (k !== "__proto__" && !(siblings && k === "$ref")) out[k] = resolve(v, depth + 1);
    }
    return out;
  }

  function renderToolList() {
    const q = $("#tool-search").value.trim().toLowerCase();
    const shown = tools.filter((t) => !q || (t.name + "\n" + t.server + "\n" + t.description).toLowerCase().includes(q));
    $("#tool-count").textContent = `${shown.length} of ${tools.length} tools`;
    $("#tool-list").replaceChildren(...shown.map((t) => el("li", {},
      el("button", {
        type: "button", "data-tool": t.name, "aria-current": current === t.name ? "true" : false,
        onclick: () => selectTool(t.name),
      }, el("div", { class: "name", text: t.name }), el("div", { class: "server", text: t.server })))));
  }
  $("#tool-search").addEventListener("input", renderToolList);

  function selectTool(name) {
    const t = tools.find((x) => x.name === name);
    if (!t) return;
    current = name;
    renderToolList();
    const form = el("form", { class: "tool-form", "data-form": t.name, autocomplete: "off" });
    const props = (t.schema && t.schema.properties) || {};
    const required = new Set((t.schema && t.schema.required) || []);
    const fields = [];
    for (const [pname, ps] of Object.entries(props)) {
      const f = field(t.name, pname, ps || {}, required.has(pname));
      fields.push(f);
      form.append(f.node);
    }
    if (!fields.length) form.append(el("p", { class: "muted", text: "This tool takes no arguments." }));
    const result = el("div", { class: "result", "aria-live": "polite" });
    const callBtn = el("button", { type: "submit", text: "Call " + t.name });
    form.append(el("div", { class: "row" }, callBtn));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const args = {};
      try {
        for (const f of fields) {
          const v = f.value();
          if (v !== undefined) args[f.name] = v;
        }
      } catch (err) {
        result.replaceChildren(el("p", { class: "error", text: err.message }));
        return;
      }
      callBtn.disabled = true;
      result.replaceChildren(el("p", { class: "muted", text: "Calling…" }));
      try {
        renderResult(result, await callTool(t.name, args));
      } catch (err) {
        result.classList.add("is-error");
        result.replaceChildren(el("p", { class: "error", text: "The call failed: " + err.message }));
      } finally {
        callBtn.disabled = false;
      }
    });
    $("#tool-detail").replaceChildren(
      el("h2", { text: t.name }),
      el("p", { class: "muted" }, "server ", el("code", { text: t.server })),
      el("p", { class: "desc", text: t.description || t.summary }),
      el("details", {}, el("summary", { text: "Input schema" }), el("pre", { text: JSON.stringify(t.schema, null, 2) })),
      form, result,
    );
    const first = form.querySelector("input, select, textarea, button");
    if (first) first.focus();
  }

  // field returns the form control of one property and how to read it.
  function field(tool, name, ps, required) {
    const id = "f-" + tool + "-" + name;
    const type = Array.isArray(ps.type) ? ps.type.find((x) => x !== "null") : ps.type;
    const hint = [type || "any", required ? "required" : "optional"].join(", ");
    const label = el("label", { for: id }, name + (required ? " *" : ""));
    const desc = ps.description ? el("span", { class: "hint", text: String(ps.description) }) : null;
    let input, read;
    if (Array.isArray(ps.enum)) {
      input = el("select", { id, name, required }, ...(required ? [] : [el("option", { value: "", text: "" })]),
        ...ps.enum.map((v, i) => el("option", { value: String(i), text: JSON.stringify(v) })));
      read = () => (input.value === "" ? undefined : ps.enum[Number(input.value)]);
    } else if (type === "boolean") {
      input = el("input", { id, name, type: "checkbox" });
      if (ps.default === true) input.checked = true;
      read = () => input.checked;
      return { name, node: el("div", { class: "field check" }, input, label, desc), value: read };
    } else if (type === "number" || type === "integer") {
      input = el("input", { id, name, type: "number", step: type === "integer" ? "1" : "any", required, inputmode: "decimal" });
      if (typeof ps.default === "number") input.value = String(ps.default);
      read = () => {
        if (input.value === "") return undefined;
        const n = Number(input.value);
        if (!Number.isFinite(n)) throw new Error(name + ": not a number");
        return n;
      };
    } else if (type === "string" || type === undefined && !ps.properties && !ps.items) {
      const long = ps.format === "textarea" || (ps.maxLength || 0) > 200;
      input = long ? el("textarea", { id, name, rows: 3, required }) : el("input", { id, name, type: "text", required });
      if (typeof ps.default === "string") input.value = ps.default;
      read = () => (input.value === "" && !required ? undefined : input.value);
    } else {
      input = el("textarea", { id, name, rows: 3, required, placeholder: "JSON", spellcheck: "false" });
      if (ps.default !== undefined) input.value = JSON.stringify(ps.default);
      read = () => {
        if (input.value.trim() === "") return undefined;
        try { return JSON.parse(input.value); } catch { throw new Error(name + ": not valid JSON"); }
      };
    }
    return { name, node: el("div", { class: "field" }, label, input, el("span", { class: "hint", text: hint }), desc), value: read };
  }

  // callTool calls a tool through the MCP face (stateless revision), which
  // gives the whole result: every content part and structured content.
  let rpcID = 0;
  async function callTool(name, args) {
    const id = ++rpcID;
    const body = JSON.stringify({
      jsonrpc: "2.0", id, method: "tools/call",
      params: {
        name, arguments: args,
        _meta: {
          "io.modelcontextprotocol/protocolVersion": "2026-07-28",
          "io.modelcontextprotocol/clientInfo": { name: "mcp-bridge-console", version: "1" },
          "io.modelcontextprotocol/clientCapabilities": {},
        },
      },
    });
    const resp = await api(base + "/mcp", {
      method: "POST", body,
      headers: {
        "Content-Type": "application/json", Accept: "application/json, text/event-stream",
        "Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": name,
      },
    });
    let msg = null;
    if ((resp.headers.get("Content-Type") || "").startsWith("text/event-stream")) {
      await sse(resp, (e) => {
        try {
          const m = JSON.parse(e.data);
          if (m && m.id === id) msg = m;
        } catch { /* not ours */ }
      });
    } else {
      msg = await resp.json();
    }
    if (!msg) throw new Error("no answer");
    if (msg.error) throw new Error(String(msg.error.message || "error " + msg.error.code));
    return msg.result || {};
  }

  const imageTypes = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

  function renderResult(node, res) {
    node.classList.toggle("is-error", !!res.isError);
    const parts = [el("h3", { text: res.isError ? "The tool reported an error" : "Result" })];
    for (const c of res.content || []) {
      if (c.type === "text") {
        parts.push(el("pre", { class: "text", text: String(c.text) }));
      } else if (c.type === "image" && imageTypes.has(c.mimeType) && typeof c.data === "string" && /^[A-Za-z0-9+/=\s]*$/.test(c.data)) {
        parts.push(el("img", { src: "data:" + c.mimeType + ";base64," + c.data.replace(/\s/g, ""), alt: "image returned by the tool (" + c.mimeType + ")" }));
      } else if (c.type === "resource_link") {
        parts.push(el("p", {}, "resource link: ", el("code", { text: String(c.uri || "") }), " ", String(c.name || "")));
      } else if (c.type === "resource" && c.resource) {
        parts.push(el("p", {}, "resource: ", el("code", { text: String(c.resource.uri || "") })));
        if (typeof c.resource.text === "string") parts.push(el("pre", { text: c.resource.text }));
      } else {
        parts.push(el("p", { class: "muted", text: `[${String(c.type)}${c.mimeType ? ", " + String(c.mimeType) : ""}]` }));
      }
    }
    if (res.structuredContent !== undefined) {
      parts.push(el("h3", { text: "Structured content" }), el("pre", { class: "structured", text: JSON.stringify(res.structuredContent, null, 2) }));
    }
    if (parts.length === 1) parts.push(el("p", { class: "muted", text: "(no output)" }));
    node.replaceChildren(...parts);
  }

  // ---- activity ----

  const maxEvents = 500;
  const events = [];
  const seen = { server: new Set(), tool: new Set(), identity: new Set() };
  let feedAbort = null, feedRetry = 0;

  function setFeedState(text, live) {
    const n = $("#feed-state");
    n.textContent = text;
    n.className = "feed " + (live ? "live" : "off");
  }

  function stopFeed() {
    if (feedAbort) feedAbort.abort();
    feedAbort = null;
    setFeedState("offline", false);
  }

  async function startFeed() {
    stopFeed();
    const ctl = new AbortController();
    feedAbort = ctl;
    try {
      const resp = await api(base + "/v1/events", { signal: ctl.signal, headers: { Accept: "text/event-stream" } });
      setFeedState("live", true);
      feedRetry = 0;
      await sse(resp, (e) => { try { onActivity(JSON.parse(e.data)); } catch { /* skip */ } });
    } catch (err) {
      if (ctl.signal.aborted || err.status === 401) return;
    }
    if (feedAbort !== ctl) return;
    setFeedState("reconnecting…", false);
    feedRetry = Math.min(feedRetry + 1, 5);
    setTimeout(() => { if (feedAbort === ctl) startFeed(); }, 1000 * feedRetry);
  }

  function onActivity(a) {
    if (!a || typeof a.type !== "string") return;
    events.push(a);
    if (events.length > maxEvents) events.shift();
    for (const k of ["server", "tool", "identity"]) {
      if (a[k] && !seen[k].has(a[k]) && seen[k].size < 500) {
        seen[k].add(a[k]);
        $("#dl-" + (k === "identity" ? "identities" : k + "s")).append(el("option", { value: a[k] }));
      }
    }
    if (matches(a)) {
      const tl = $("#timeline");
      tl.prepend(entry(a));
      while (tl.childElementCount > maxEvents) tl.lastElementChild.remove();
      show($("#timeline-empty"), false);
    }
    if (a.type === "server_down" && a.server) markDown(a.server, a.error);
    if (a.type.startsWith("server_") || a.type === "tools_changed" || a.type === "tool_call_finished") {
      if (!$("#page-servers").hidden) refreshServers();
      if (a.type === "tools_changed" && !$("#page-tools").hidden) loadTools();
    }
  }

  function filters() {
    const f = new FormData($("#activity-filters"));
    return { server: String(f.get("server") || "").trim(), tool: String(f.get("tool") || "").trim(), identity: String(f.get("identity") || "").trim() };
  }

  function matches(a) {
    const f = filters();
    return (!f.server || (a.server || "").includes(f.server)) &&
      (!f.tool || (a.tool || "").includes(f.tool)) &&
      (!f.identity || (a.identity || "").includes(f.identity));
  }

  function entry(a) {
    const t = new Date(a.time);
    const when = isNaN(t) ? "" : t.toLocaleTimeString();
    let what = a.type.replace(/_/g, " "), detail = [], cls = "info";
    switch (a.type) {
      case "tool_call_started":
        what = "call " + (a.tool || "");
        detail.push("started");
        break;
      case "tool_call_finished":
        what = "call " + (a.tool || "");
        cls = a.is_error ? "bad" : "ok";
        detail.push((a.is_error ? "failed" : "ok") + (a.duration_ms !== undefined ? ` in ${a.duration_ms} ms` : ""));
        break;
      case "chat_started":
        what = "chat " + (a.model || "");
        detail.push("started");
        break;
      case "chat_finished":
        what = "chat " + (a.model || "");
        cls = a.outcome === "ok" ? "ok" : "bad";
        detail.push(`${a.outcome || ""}: ${a.rounds || 0} rounds, ${a.tool_calls || 0} tool calls` +
          (a.duration_ms !== undefined ? `, ${a.duration_ms} ms` : ""));
        break;
      case "server_up":
        cls = "ok";
        detail.push(`${a.tools || 0} tools`);
        break;
      case "server_down":
        cls = "bad";
        break;
    }
    if (a.error) detail.push(String(a.error));
    const who = [a.server && "server " + a.server, a.identity && "by " + a.identity].filter(Boolean).join(" · ");
    return el("li", { class: cls, "data-type": a.type },
      el("span", { class: "when", text: when }),
      el("span", { class: "what", text: what }),
      el("span", { class: "detail", text: [who, ...detail].filter(Boolean).join(" · ") }));
  }

  function refilter() {
    const shown = events.filter(matches).reverse().map(entry);
    $("#timeline").replaceChildren(...shown);
    show($("#timeline-empty"), shown.length === 0);
  }
  $("#activity-filters").addEventListener("input", refilter);
  $("#activity-filters").addEventListener("submit", (ev) => ev.preventDefault());
  $("#activity-clear").addEventListener("click", () => { $("#activity-filters").reset(); refilter(); });

  // ---- chat ----

  let history = [], chatAbort = null, modelsLoaded = false;

  async function loadModels() {
    if (modelsLoaded) return;
    try {
      const list = await getJSON(base + "/v1/models");
      const sel = $("#model");
      sel.replaceChildren(...(list.data || []).map((m) => el("option", { value: String(m.id), text: String(m.id) })));
      modelsLoaded = true;
      setError($("#chat-error"), "");
    } catch (err) {
      if (err.status !== 401) setError($("#chat-error"), "Could not list the models: " + err.message);
    }
  }

  function say(role, text) {
    const li = el("li", { class: role, text });
    $("#transcript").append(li);
    li.scrollIntoView({ block: "nearest" });
    return li;
  }

  // segments splits an answer's content into its text and the tool-call
  // blocks the bridge writes with tools.display "details"
  // (<details type="tool_calls" name="..." ...>), read as text, never
  // parsed as HTML. An unfinished block at the end is left out until it
  // is whole.
  const detailsOpen = '<details type="tool_calls"';
  function segments(s) {
    const out = [], re = /<details type="tool_calls"([^>]*)>[\s\S]*?<\/details>\n?/g;
    let last = 0, m;
    const text = (t) => { if (t.trim()) out.push({ text: t.trim() }); };
    while ((m = re.exec(s))) {
      text(s.slice(last, m.index));
      const name = /\bname="([^"]*)"/.exec(m[1]);
      out.push({ tool: name ? unescapeAttr(name[1]) : "a tool" });
      last = re.lastIndex;
    }
    let rest = s.slice(last);
    const open = rest.indexOf("<details");
    if (open >= 0) rest = rest.slice(0, open);
    text(rest);
    return out;
  }
  const entities = { quot: '"', "#34": '"', "#39": "'", apos: "'", amp: "&", lt: "<", gt: ">" };
  const unescapeAttr = (v) => v.replace(/&(quot|#34|#39|apos|amp|lt|gt);/g, (_, e) => entities[e]);

  $("#prompt").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); $("#chat-form").requestSubmit(); }
  });
  $("#chat-reset").addEventListener("click", () => { history = []; $("#transcript").replaceChildren(); $("#prompt").focus(); });
  $("#stop").addEventListener("click", () => { if (chatAbort) chatAbort.abort(); });

  $("#chat-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = $("#prompt").value.trim();
    const model = $("#model").value;
    if (!text || chatAbort) return;
    if (!model) { setError($("#chat-error"), "Choose a model first."); return; }
    setError($("#chat-error"), "");
    $("#prompt").value = "";
    history.push({ role: "user", content: text });
    say("user", text);
    const ctl = new AbortController();
    chatAbort = ctl;
    $("#send").disabled = true;
    $("#stop").disabled = false;
    let answer = null, content = "", status = null, blocks = null;
    try {
      const resp = await api(base + "/v1/chat/completions", {
        method: "POST", signal: ctl.signal, headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({ model, messages: history, stream: true }),
      });
      await sse(resp, (e) => {
        if (e.data === "[DONE]") return;
        let chunk;
        try { chunk = JSON.parse(e.data); } catch { return; }
        if (chunk.error) {
          say("error", "Error: " + String(chunk.error.message || "the answer failed"));
          return;
        }
        if (chunk.event && chunk.event.type === "status" && chunk.event.data) {
          // Tool activity, as the bridge reports it while tools run.
          const d = chunk.event.data;
          if (!status || status.classList.contains("done")) {
            status = say("tool", "");
            answer = null; // text after tools goes in a new bubble
          }
          status.textContent = String(d.description || "");
          status.classList.toggle("done", !!d.done);
          return;
        }
        for (const c of chunk.choices || []) {
          const piece = c.delta && typeof c.delta.content === "string" ? c.delta.content : "";
          if (!piece) continue;
          content += piece;
          if (blocks || content.includes(detailsOpen)) {
            // tools.display "details": the tool calls come as blocks in
            // the content; the turn is laid out again from all of it.
            if (!blocks) blocks = answer ? [answer] : [];
            answer = null;
            for (const n of blocks) n.remove();
            blocks = segments(content).map((seg) => (seg.text !== undefined ? say("assistant", seg.text) : say("tool done", "Used " + seg.tool)));
            continue;
          }
          if (!answer) answer = say("assistant", "");
          answer.textContent += piece;
        }
      });
      if (content) history.push({ role: "assistant", content });
    } catch (err) {
      if (ctl.signal.aborted) say("error", "Stopped.");
      else if (err.status !== 401) say("error", "Error: " + err.message);
    } finally {
      chatAbort = null;
      $("#send").disabled = false;
      $("#stop").disabled = true;
      $("#prompt").focus();
    }
  });

  // ---- go ----

  start();
})();
