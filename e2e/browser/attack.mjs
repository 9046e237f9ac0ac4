// attack.mjs is the page's script: everything a web page can try against a
// bridge on this machine. The test's driver loads it from an attacker's
// origin, where nothing may get through, and from an allowed origin, where
// the JSON calls must work. Each probe reports what the page could see:
//
//   outcome "rejected": fetch threw (CORS refused it, or the network failed)
//   outcome "opaque":   a no-cors answer, which a page cannot read
//   outcome "read":     the page read status and body
//
// and, for the WebSocket, whether it opened and every message it received.

const TOOL = "everything__get-env";

async function probe(name, url, init) {
  try {
    const resp = await fetch(url, init);
    if (resp.type === "opaque") {
      return { name, outcome: "opaque", status: resp.status };
    }
    return { name, outcome: "read", status: resp.status, body: await resp.text() };
  } catch (err) {
    return { name, outcome: "rejected", error: String(err) };
  }
}

function chatBody() {
  return JSON.stringify({ model: "test-model", messages: [{ role: "user", content: "Show me the environment." }] });
}

// webSocket opens /ws with subprotocol "mcp", initializes and calls the
// tool, and resolves when the socket closes or after timeoutMs.
function webSocket(bridge, timeoutMs) {
  return new Promise((resolve) => {
    const res = { name: "ws /ws", outcome: "failed", opened: false, messages: [] };
    let ws;
    try {
      ws = new WebSocket(bridge.replace(/^http/, "ws") + "/ws", "mcp");
    } catch (err) {
      resolve({ ...res, error: String(err) });
      return;
    }
    const done = () => {
      clearTimeout(timer);
      resolve(res);
    };
    const timer = setTimeout(() => {
      res.timedOut = true;
      ws.close();
      done();
    }, timeoutMs);
    ws.onopen = () => {
      res.opened = true;
      ws.send(JSON.stringify({
        jsonrpc: "2.0", id: 1, method: "initialize",
        params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "page", version: "1" } },
      }));
    };
    ws.onmessage = (ev) => {
      res.messages.push(String(ev.data));
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg.id === 1) {
        ws.send(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }));
        ws.send(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: TOOL, arguments: {} } }));
      } else if (msg.id === 2) {
        res.outcome = msg.result ? "result" : "error";
        ws.close();
        done();
      }
    };
    ws.onerror = () => {
      res.error = "error event";
    };
    ws.onclose = (ev) => {
      res.closeCode = ev.code;
      done();
    };
  });
}

// eventSource opens an EventSource on url and resolves when it opens (if
// event is ""), with the first event named event, when it fails, or after
// timeoutMs.
function eventSource(name, url, event, timeoutMs) {
  return new Promise((resolve) => {
    const res = { name, outcome: "failed", opened: false, messages: [] };
    const es = new EventSource(url);
    const done = () => {
      clearTimeout(timer);
      es.close();
      resolve(res);
    };
    const timer = setTimeout(() => {
      res.timedOut = true;
      done();
    }, timeoutMs);
    es.onopen = () => {
      res.opened = true;
      if (!event) {
        res.outcome = "open";
        done();
      }
    };
    if (event) {
      es.addEventListener(event, (ev) => {
        res.outcome = "event";
        res.messages.push(String(ev.data));
        done();
      });
    }
    es.onerror = () => {
      res.error = "error event";
      done();
    };
  });
}

// runProbes tries every route of the bridge at the base URL bridge (no
// trailing slash) and returns one report per attempt.
export async function runProbes(bridge) {
  const json = { "Content-Type": "application/json" };
  const text = { "Content-Type": "text/plain" };
  const tool = `${bridge}/tools/${TOOL}`;
  const chat = `${bridge}/v1/chat/completions`;
  const mcp = `${bridge}/mcp`;
  const rpc = (id, method, params) => JSON.stringify({ jsonrpc: "2.0", id, method, params });
  const initialize = rpc(1, "initialize", {
    protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "page", version: "1" },
  });
  const call = rpc(2, "tools/call", { name: TOOL, arguments: {} });
  const mcpAccept = { Accept: "application/json, text/event-stream" };
  const out = [];
  out.push(await probe("POST /tools json", tool, { method: "POST", headers: json, body: "{}" }));
  out.push(await probe("POST /tools text/plain", tool, { method: "POST", headers: text, body: "{}" }));
  // A no-cors request is sent without a preflight and its answer is
  // opaque: the classic cross-site request forgery, blind but effective
  // if the bridge runs it. Content-Type JSON is dropped in this mode.
  out.push(await probe("POST /tools no-cors text/plain", tool, { method: "POST", mode: "no-cors", headers: text, body: "{}" }));
  out.push(await probe("POST /tools no-cors json", tool, { method: "POST", mode: "no-cors", headers: json, body: "{}" }));
  out.push(await probe("POST /v1/chat/completions json", chat, { method: "POST", headers: json, body: chatBody() }));
  out.push(await probe("POST /v1/chat/completions text/plain", chat, { method: "POST", headers: text, body: chatBody() }));
  out.push(await probe("POST /v1/chat/completions no-cors text/plain", chat, { method: "POST", mode: "no-cors", headers: text, body: chatBody() }));
  out.push(await probe("GET /openapi.json", `${bridge}/openapi.json`, {}));
  out.push(await probe("GET /v1/models", `${bridge}/v1/models`, {}));
  // No Origin header at all: only Sec-Fetch-Site tells where it came from.
  out.push(await probe("GET /v1/models no-cors", `${bridge}/v1/models`, { mode: "no-cors" }));
  out.push(await probe("POST /mcp json", mcp, { method: "POST", headers: { ...json, ...mcpAccept }, body: initialize }));
  out.push(await probe("POST /mcp no-cors text/plain", mcp, { method: "POST", mode: "no-cors", headers: { ...text, ...mcpAccept }, body: call }));
  // The activity feed, which tells of every tool call.
  out.push(await eventSource("EventSource /v1/events", `${bridge}/v1/events`, "", 10000));
  // The legacy SSE transport's first event is the endpoint to post to.
  out.push(await eventSource("EventSource /sse", `${bridge}/sse`, "endpoint", 10000));
  out.push(await webSocket(bridge, 10000));
  return out;
}
