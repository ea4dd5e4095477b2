// A real browser (headless Chromium via playwright-core) loads the example page, which uses the esbuild
// bundle to connect to the real gateway; a notification published over the HTTP API must show up on the page.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize } from "node:path";
import { chromium } from "playwright-core";
import { Gateway, createKeys, freePort, packageRoot, resultsDir } from "../support/gateway.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".map": "application/json", ".css": "text/css" };

let gateway;
let server;
let browser;
let pagePort;

/** Serves examples/ and dist/ of the package (nothing else). */
function serveStatic() {
  return createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname)).replace(/^[/\\]+/, "");
    const file = join(packageRoot, path);
    if (!(path.startsWith("examples/") || path.startsWith("dist/")) || !existsSync(file)) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream", "cache-control": "no-store" });
    res.end(readFileSync(file));
  });
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM} (apt-get install -y chromium)`);
  assert.ok(existsSync(join(packageRoot, "dist/browser/gateway-client.js")), "run npm run build first");
  pagePort = await freePort();
  server = serveStatic();
  await new Promise((resolve) => server.listen(pagePort, "127.0.0.1", resolve));
  gateway = await Gateway.start({
    keys: createKeys(),
    name: "ts-browser",
    extraArgs: [`--Gateway:Auth:AllowedOrigins:0=http://127.0.0.1:${pagePort}`],
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  await gateway?.stop();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
});

test("browser page receives a notification published over the HTTP API", { timeout: 120_000 }, async () => {
  const page = await browser.newPage({ viewport: { width: 900, height: 600 } });
  const consoleLines = [];
  page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e.message}`));
  try {
    const token = gateway.token({ sub: "alice" });
    const url = `http://127.0.0.1:${pagePort}/examples/browser/index.html?endpoint=${encodeURIComponent(gateway.wsUrl)}&token=${encodeURIComponent(token)}`;
    await page.goto(url);
    await page.waitForSelector("#status[data-state=connected]", { timeout: 60_000 });
    assert.match(await page.textContent("#who"), /Signed in as alice \(node ts-browser\)/);

    const sent = await gateway.postOk("/api/v1/notify", { user: "alice", payload: { text: "Build #42 finished: all green" }, priority: "high" });
    await page.waitForSelector("#notifications li", { timeout: 30_000 });
    const item = await page.textContent("#notifications li .text");
    assert.equal(item, "Build #42 finished: all green");
    const meta = await page.textContent("#notifications li .meta");
    assert.match(meta, new RegExp(`user:alice · offset ${sent.offset} · high`));
    assert.equal(await page.textContent("#status"), "connected");

    mkdirSync(resultsDir, { recursive: true });
    const shot = join(resultsDir, "browser-notification.png");
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(readFileSync(shot).length > 1000, "screenshot written");
  } catch (error) {
    error.message += `\nbrowser console:\n${consoleLines.join("\n")}`;
    throw error;
  } finally {
    await page.close();
  }
});
