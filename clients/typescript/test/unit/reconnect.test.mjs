// Reconnect jitter (issue 12): the first reconnect after a drop is spread over a window, a GoAway waits the
// gateway's hint, a flapping node is backed off from. Checked with seeded / fixed random sources, no clocks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { GatewayClient, firstReconnectDelay, goAwayDelay, protocol, resolveReconnect } from "../../dist/index.js";
import { ScriptedGateway } from "../support/scripted.mjs";

/** mulberry32: a small seeded PRNG in [0, 1). */
function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const fixed = (value) => () => value;

test("the first reconnect after a drop is spread uniformly over the window", () => {
  const policy = resolveReconnect({ firstReconnectWindowMs: 2000, random: seeded(12345) });
  // 2,000 clients of a node that died: where each one's first attempt lands.
  const delays = Array.from({ length: 2000 }, () => firstReconnectDelay(1, policy));
  for (const d of delays) assert.ok(d >= 0 && d < 2000, `${d} in [0, 2000)`);
  const buckets = new Array(10).fill(0);
  for (const d of delays) buckets[Math.floor(d / 200)]++;
  // Each 200 ms slice gets about a tenth of the clients: no burst at the start or anywhere else.
  for (const count of buckets) assert.ok(count >= 160 && count <= 240, `bucket counts ${buckets}`);
});

test("the first delay is the draw times the window; the default window is 1 s; 0 reconnects at once", () => {
  const policy = resolveReconnect({ firstReconnectWindowMs: 1000 });
  for (const [draw, ms] of [[0, 0], [0.25, 250], [0.5, 500], [0.999, 999]]) {
    assert.equal(firstReconnectDelay(0, policy, fixed(draw)), ms);
    assert.equal(firstReconnectDelay(1, policy, fixed(draw)), ms);
  }
  assert.equal(resolveReconnect(undefined).firstReconnectWindowMs, 1000);
  assert.equal(firstReconnectDelay(1, resolveReconnect({ firstReconnectWindowMs: 0 }), fixed(0.9)), 0);
  assert.throws(() => resolveReconnect({ firstReconnectWindowMs: -1 }), /firstReconnectWindowMs/);
});

test("a node that keeps dropping its connections is backed off from", () => {
  const policy = resolveReconnect({ initialDelayMs: 100, maxDelayMs: 1000, jitter: 0.5 });
  const low = fixed(0.999999);
  // Second short-lived connection in a row: the initial delay; then doubling up to the cap.
  assert.equal(firstReconnectDelay(2, policy, fixed(0)), 100);
  assert.equal(firstReconnectDelay(2, policy, low), 50);
  assert.equal(firstReconnectDelay(3, policy, fixed(0)), 200);
  assert.equal(firstReconnectDelay(20, policy, fixed(0)), 1000);
});

test("a GoAway waits what is left of the hint; without a hint it draws from the window", () => {
  const policy = resolveReconnect({ firstReconnectWindowMs: 1000 });
  const half = fixed(0.5);
  assert.equal(goAwayDelay(2000, 700, 1, policy, half), 700);
  // The hint was waited out on the old connection (the client keeps it until then): go at once.
  assert.equal(goAwayDelay(2000, -3, 1, policy, half), 0);
  // No hint (a node draining at connect time): spread like a drop.
  assert.equal(goAwayDelay(0, 0, 1, policy, half), 500);
});

test("the client reports the delay it drew when its connection drops, and backs off when the next one drops too", { timeout: 60_000 }, async () => {
  const server = await ScriptedGateway.start();
  try {
    const accepting = server.accept();
    const client = await GatewayClient.connect(server.options({ reconnect: { firstReconnectWindowMs: 80, initialDelayMs: 40, maxDelayMs: 400, random: fixed(0.25) } }));
    const first = await accepting;
    const reconnecting = client.once("reconnecting");
    let second = server.accept();
    first.drop();
    assert.equal((await reconnecting).delayMs, 20);
    const connection = await second;

    // A GoAway without a delay hint on a connection that lived less than 10 s (the second in a row): the client
    // leaves at once and backs off like from a flapping node instead of drawing from the window.
    const again = client.once("reconnecting");
    second = server.accept();
    connection.send({ kind: protocol.FrameKind.GoAway, reconnectDelayMs: 0, text: "draining" });
    assert.equal((await again).delayMs, 35); // 40 * (1 - 0.5 * 0.25)
    await second;
    await client.close();
  } finally {
    await server.close();
  }
});
