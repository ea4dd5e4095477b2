// A slow connection: the gateway sheds low-priority messages for it (§3 backpressure), leaving an offset gap;
// the client sees the gap and renews the subscription with recovery, so the application still gets every
// message, in order, exactly once.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { GatewayClient } from "../../dist/index.js";
import { Gateway, TcpProxy, createKeys, take, until } from "../support/gateway.mjs";

let gateway;
let proxy;
let client;

before(async () => {
  gateway = await Gateway.start({
    keys: createKeys(),
    name: "ts-slow",
    extraArgs: [
      "--Gateway:Dispatch:Outbound:MaxFrames=128",
      "--Gateway:Dispatch:Outbound:MaxBytes=4194304",
      "--Gateway:Dispatch:History:MaxMessages=100000",
      "--Gateway:Dispatch:History:MaxBytes=536870912",
    ],
  });
  proxy = await TcpProxy.start(gateway.port);
});

after(async () => {
  await client?.close();
  await proxy?.close();
  await gateway?.stop();
});

test("shed messages leave a gap that the client repairs by recovery: every message once, in order", { timeout: 240_000 }, async () => {
  const topic = `team:${process.pid}/firehose`;
  client = await GatewayClient.connect({
    endpoints: proxy.wsUrl,
    token: gateway.token({ sub: "sam", subscribe: ["team:*"] }),
    heartbeatTimeoutMs: 120_000, // the stall below is not a dead connection
    requestTimeoutMs: 60_000,
  });
  const sub = await client.subscribe(topic);
  const recovered = sub.once("recovered");

  proxy.stall();
  const pad = "x".repeat(16_000);
  const total = 2_000;
  const batch = 125;
  for (let first = 1; first <= total; first += batch) {
    const messages = [];
    for (let n = first; n < first + batch; n++) messages.push({ topic, priority: "low", payload: { n, pad } });
    const result = await gateway.postOk("/api/v1/batch", { messages });
    assert.ok(result.results.every((r) => r.offset !== undefined), "every publish accepted");
  }
  proxy.unstall();
  // A gap is seen when a later message arrives: the tail shed while stalled is revealed by the next one.
  // `high` is never shed (if it cannot be queued, the gateway closes the connection and the client recovers).
  await gateway.postOk("/api/v1/publish", { topic, priority: "high", payload: { n: total + 1, pad: "" } });

  const got = await take(sub, total + 1, 180_000);
  const numbers = got.map((m) => m.json().n);
  assert.deepEqual(numbers, Array.from({ length: total + 1 }, (_, i) => i + 1), "every message, in order, once");
  for (let i = 1; i < got.length; i++) assert.equal(got[i].offset, got[i - 1].offset + 1n);
  assert.ok(sub.gapsDetected >= 1, "the gateway shed messages for the stalled connection (a gap was seen)");
  await recovered;
  assert.equal(sub.recovery, "recovered");
  assert.ok(got.some((m) => m.replayed), "the shed messages came back from history");
  assert.ok(got.every((m) => !m.afterGap));
  await until(() => sub.buffered === 0, { what: "drained" });
});
