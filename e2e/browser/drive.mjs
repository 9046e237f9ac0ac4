// drive.mjs drives Debian's Chromium through playwright-core for
// browser_test.go. It never downloads a browser and reaches nothing beyond
// loopback: every host name the pages use is mapped to 127.0.0.1.
//
//   node drive.mjs USER_DATA_DIR
//
// It launches the browser, prints {"ready":true}, then reads one JSON
// request a line from stdin, {"page": URL, "bridge": URL}: it loads the
// page, runs the page's runProbes(bridge) (bridge "" means the page's own
// origin) and prints one line,
// {"origin": ..., "probes": [...], "console": [...]}, or {"error": ...}.
// At the end of stdin it closes the browser and exits.
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const userDataDir = process.argv[2];
if (!userDataDir) {
  console.error("usage: node drive.mjs USER_DATA_DIR");
  process.exit(2);
}

const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
    // Non-loopback names for this machine, so that pages have
    // origins other than loopback while all traffic stays on it.
    "--host-resolver-rules=MAP evil.test 127.0.0.1, MAP app.test 127.0.0.1, MAP rebind.test 127.0.0.1, MAP proxy.test 127.0.0.1",
  ],
});

const print = (v) => process.stdout.write(JSON.stringify(v) + "\n");
print({ ready: true });

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  let page;
  const consoleLines = [];
  try {
    const { page: url, bridge } = JSON.parse(line);
    page = await context.newPage();
    page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e.message}`));
    // What reached the network, whether or not the page could read it.
    const network = [];
    page.on("response", (r) => network.push({ method: r.request().method(), url: r.url(), status: r.status() }));
    page.on("requestfailed", (r) => network.push({ method: r.method(), url: r.url(), failure: r.failure()?.errorText }));
    await page.goto(url);
    await page.waitForFunction(() => typeof window.runProbes === "function", null, { timeout: 10000 });
    const origin = await page.evaluate(() => location.origin);
    const probes = await page.evaluate((b) => window.runProbes(b || location.origin), bridge);
    print({ origin, probes, network, console: consoleLines });
  } catch (err) {
    print({ error: String(err), console: consoleLines });
  } finally {
    await page?.close().catch(() => {});
  }
}
await context.close();
