// console.mjs uses the bridge's web console in Debian's Chromium, through
// playwright-core, for console_test.go: as a person would, with the
// keyboard and the mouse, and records what the page showed and every
// request the browser made.
//
//   BRIDGE=http://127.0.0.1:PORT KEY=... OUT=DIR CHROMIUM=/usr/bin/chromium \
//     node console.mjs USER_DATA_DIR
//
// With OPEN=1 instead of KEY, the bridge has no keys: it checks that the
// console opens on the servers page without asking for one, then chats
// once.
//
// It prints one JSON line per step, {"step": NAME, ...what it saw}, and
// screenshots to OUT. At the steps "kill" and "revoke" it waits for a
// line on stdin (the test has killed a server, revoked the key) before it
// goes on. The last line is
// {"step": "done", "requests": [...], "console": [...]}. A failure prints
// {"step": ..., "error": ...} and exits 1.
import { createInterface } from "node:readline";
import { join } from "node:path";
import { chromium } from "playwright-core";

const userDataDir = process.argv[2];
const { BRIDGE: bridge, KEY: key, OUT: out, OPEN: open } = process.env;
if (!userDataDir || !bridge || !(key || open) || !out) {
  console.error("usage: BRIDGE=URL KEY=KEY OUT=DIR node console.mjs USER_DATA_DIR");
  process.exit(2);
}

const print = (v) => process.stdout.write(JSON.stringify(v) + "\n");
const stdin = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1280, height: 800 },
  colorScheme: "light",
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-proxy-server",
  ],
});

// Every request of every page, whatever it was for.
const requests = [];
context.on("request", (r) => requests.push({ method: r.method(), url: r.url(), authorization: !!r.headers()["authorization"] }));
const consoleLines = [];
const page = context.pages()[0] || (await context.newPage());
page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e.message}`));
page.setDefaultTimeout(20000);

let step = "start";
const shot = (name) => page.screenshot({ path: join(out, name + ".png"), fullPage: true });
const text = (sel) => page.locator(sel).innerText();
const serverRows = () => page.$$eval("#servers tbody tr", (rows) => rows.map((r) => ({
  name: r.dataset.server, state: r.dataset.state, tools: Number(r.querySelector(".tools-count").textContent),
  red: !!r.querySelector(".state.bad"), green: !!r.querySelector(".state.ok"),
})));
const pwned = () => page.evaluate(() => window.__pwned ?? null);

try {
  if (open) {
    step = "open";
    await page.goto(bridge + "/ui/");
    await page.locator("#page-servers").waitFor({ state: "visible" });
    await page.locator("#servers tbody tr").first().waitFor();
    print({ step, servers: await serverRows(), login_visible: await page.locator("#login").isVisible(),
      stored: await page.evaluate(() => sessionStorage.length) });
    step = "chat";
    await page.locator("[data-nav=chat]").click();
    await page.locator("#model option").first().waitFor({ state: "attached" });
    await page.locator("#model").selectOption("test-model");
    await page.locator("#prompt").fill("What is 2 + 3? Use the tool.");
    await page.locator("#send").click();
    await page.locator("#transcript li.assistant").waitFor();
    await page.locator("#send:not([disabled])").waitFor();
    const transcript = await page.$$eval("#transcript li", (lis) => lis.map((li) => ({ role: li.className, text: li.textContent })));
    print({ step, transcript });
    print({ step: "done", requests, console: consoleLines });
    await context.close();
    process.exit(0);
  }

  // A wrong key: a clear message, and the key form again.
  step = "wrong key";
  await page.goto(bridge + "/ui/");
  await page.locator("#login").waitFor({ state: "visible" });
  await page.locator("#key").fill("not-the-key-0123456789");
  await page.keyboard.press("Enter");
  await page.locator("#login-error").filter({ hasText: "Wrong key" }).waitFor();
  const loginError = await text("#login-error");
  const stored = await page.evaluate(() => sessionStorage.length);
  await shot("login-wrong-key");
  print({ step, message: loginError, login_visible: await page.locator("#login").isVisible(), stored });

  // The right key: the servers page, each server up with its tools.
  step = "servers";
  await page.locator("#key").fill(key);
  await page.locator("#login-form button[type=submit]").click();
  await page.locator("#page-servers").waitFor({ state: "visible" });
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll("#servers tbody tr")];
    return rows.length >= 2 && rows.every((r) => r.dataset.state === "ready");
  });
  const storage = await page.evaluate(() => ({ session: Object.keys(sessionStorage), local: localStorage.length }));
  print({ step, servers: await serverRows(), storage, url: page.url() });

  // Keyboard: the nav links are reached with Tab and followed with Enter.
  step = "keyboard";
  await page.locator("[data-nav=servers]").focus();
  await page.keyboard.press("Tab");
  const focused = await page.evaluate(() => document.activeElement?.dataset?.nav ?? "");
  await page.keyboard.press("Enter");
  await page.locator("#page-tools").waitFor({ state: "visible" });
  print({ step, focused, hash: new URL(page.url()).hash });

  // Tools: search, pick get-sum, fill the generated form, call it.
  step = "tools";
  await page.locator("[data-tool]").first().waitFor();
  const total = await page.locator("[data-tool]").count();
  await page.locator("#tool-search").fill("get-sum");
  const filtered = await page.locator("[data-tool]").count();
  await page.locator('[data-tool="everything__get-sum"]').click();
  await page.locator("#tool-detail h2", { hasText: "everything__get-sum" }).waitFor();
  const inputs = await page.$$eval("#tool-detail form input", (els) => els.map((e) => `${e.name}:${e.type}`));
  await page.locator("#f-everything__get-sum-a").fill("2");
  await page.locator("#f-everything__get-sum-b").fill("3");
  await page.locator("#tool-detail form button[type=submit]").click();
  await page.locator("#tool-detail .result pre").first().waitFor();
  const sum = await text("#tool-detail .result");
  await shot("tools");
  print({ step, total, filtered, inputs, result: sum });

  // An image and structured content, shown as such.
  step = "content types";
  await page.locator("#tool-search").fill("everything__get-");
  await page.locator('[data-tool="everything__get-tiny-image"]').click();
  await page.locator("#tool-detail form button[type=submit]").click();
  await page.locator("#tool-detail .result img").waitFor();
  const image = await page.$eval("#tool-detail .result img", (img) => ({ src: img.src.slice(0, 22), loaded: img.complete && img.naturalWidth > 0 }));
  await page.locator('[data-tool="everything__get-structured-content"]').click();
  const location = await page.locator("#tool-detail form select, #tool-detail form input").first();
  if ((await location.evaluate((e) => e.tagName)) === "SELECT") await location.selectOption({ index: 1 });
  else await location.fill("New York");
  await page.locator("#tool-detail form button[type=submit]").click();
  await page.locator("#tool-detail .result pre.structured").waitFor();
  const structured = await text("#tool-detail .result pre.structured");
  print({ step, image, structured });

  // A hostile server's tool: its markup shows as text and runs nothing.
  step = "hostile";
  await page.locator("#tool-search").fill("trap");
  await page.locator('[data-tool="hostile__trap"]').click();
  await page.locator("#tool-detail h2", { hasText: "hostile__trap" }).waitFor();
  const description = await text("#tool-detail .desc");
  await page.locator("#tool-detail form input[type=text]").fill("<b id=injected>bold</b>");
  await page.locator("#tool-detail form button[type=submit]").click();
  await page.locator("#tool-detail .result pre.structured").waitFor();
  const hostileResult = await text("#tool-detail .result");
  await page.locator("#tool-detail form input[type=checkbox]").check();
  await page.locator("#tool-detail form button[type=submit]").click();
  await page.locator("#tool-detail .result.is-error").waitFor();
  const hostileError = await text("#tool-detail .result");
  await page.waitForTimeout(300); // an onerror would have fired by now
  const elements = await page.evaluate(() => ({
    scripts: document.querySelectorAll("body script").length,
    images: [...document.querySelectorAll("#tool-detail img")].map((i) => i.getAttribute("src")?.slice(0, 20)),
    injected: !!document.getElementById("injected"),
  }));
  await shot("tools-hostile");
  // Its other tool's schema refers to itself: the page must stay alive.
  await page.locator("#tool-search").fill("fanout");
  await page.locator('[data-tool="hostile__fanout"]').click();
  await page.locator("#tool-detail h2", { hasText: "hostile__fanout" }).waitFor({ timeout: 10000 });
  const fanout = await page.$$eval("#tool-detail form [name]", (els) => els.map((e) => e.name));
  print({ step, description, result: hostileResult, error_text: hostileError, elements, pwned: await pwned(), fanout });

  // Chat: pick the model, ask; the tool activity shows, then the answer.
  step = "chat";
  await page.locator("[data-nav=chat]").click();
  await page.locator("#model option").first().waitFor({ state: "attached" });
  const models = await page.$$eval("#model option", (os) => os.map((o) => o.value));
  await page.locator("#model").selectOption("test-model");
  await page.locator("#prompt").fill("What is 2 + 3? Use the tool.");
  await page.keyboard.press("Control+Enter");
  await page.locator("#transcript li.tool.done").waitFor();
  await page.locator("#send:not([disabled])").waitFor();
  const transcript = await page.$$eval("#transcript li", (lis) => lis.map((li) => ({ role: li.className, text: li.textContent })));
  await shot("chat");
  print({ step, models, transcript });

  // Activity: the calls and the chat, filtered by tool and by identity.
  step = "activity";
  await page.locator("[data-nav=activity]").click();
  // The chat's end is reported once its answer is out: wait for it.
  await page.locator('#timeline li[data-type="chat_finished"]').waitFor();
  const all = await page.locator("#timeline li").count();
  const types = await page.$$eval("#timeline li", (lis) => [...new Set(lis.map((li) => li.dataset.type))].sort());
  await shot("activity");
  await page.locator("#activity-filters input[name=tool]").fill("get-sum");
  const byTool = await page.$$eval("#timeline li", (lis) => lis.map((li) => li.textContent));
  await shot("activity-filtered");
  await page.locator("#activity-filters input[name=tool]").fill("");
  await page.locator("#activity-filters input[name=identity]").fill("nobody-of-that-name");
  const byUnknown = await page.locator("#timeline li").count();
  await page.locator("#activity-filters input[name=identity]").fill("console-user");
  const byIdentity = await page.locator("#timeline li").count();
  await page.locator("#activity-clear").click();
  print({ step, all, types, by_tool: byTool, by_unknown_identity: byUnknown, by_identity: byIdentity });

  // Dark mode and a phone's width.
  step = "looks";
  await page.locator("[data-nav=servers]").click();
  await page.locator("#servers tbody tr").first().waitFor();
  await shot("servers");
  await page.emulateMedia({ colorScheme: "dark" });
  const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await page.locator("[data-nav=chat]").click();
  await shot("chat-dark");
  await page.emulateMedia({ colorScheme: "light" });
  const light = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = {};
  for (const p of ["servers", "tools", "activity", "chat"]) {
    await page.locator(`[data-nav=${p}]`).click();
    await page.locator(`#page-${p}`).waitFor({ state: "visible" });
    overflow[p] = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  }
  await page.locator("[data-nav=servers]").click();
  await shot("servers-phone");
  await page.setViewportSize({ width: 1280, height: 800 });
  print({ step, dark, light, overflow });

  // A server killed: red, then back.
  step = "kill";
  await page.locator("[data-nav=servers]").click();
  print({ step });
  await stdin.next();
  await page.locator('#servers tr[data-server="everything"] .state.bad').waitFor({ timeout: 30000 });
  const down = await serverRows();
  await shot("servers-down");
  await page.locator('#servers tr[data-server="everything"] .state.ok').waitFor({ timeout: 60000 });
  print({ step: "killed", down, up: await serverRows() });

  // The key revoked by a reload: the next request asks for a key again.
  step = "revoke";
  print({ step });
  await stdin.next();
  await page.locator("[data-nav=tools]").click();
  await page.locator("#login").waitFor({ state: "visible" });
  print({ step: "revoked", message: await text("#login-error"), login_visible: await page.locator("#login").isVisible(),
    stored: await page.evaluate(() => sessionStorage.length) });

  print({ step: "done", requests, console: consoleLines });
} catch (err) {
  await shot("failure-" + step.replace(/\W+/g, "-")).catch(() => {});
  print({ step, error: String(err), requests, console: consoleLines });
  await context.close();
  process.exit(1);
}
await context.close();
