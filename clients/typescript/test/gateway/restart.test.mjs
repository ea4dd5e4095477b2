// Recovery across a gateway restart (history lost: "could not recover" must be reported, not a silent gap)
// and GoAway handling when a node drains.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { GatewayClient } from "../../dist/index.js";
import { Gateway, createKeys, take, until } from "../support/gateway.mjs";

const T = { timeout: 180_000 };
const running = [];
const clients = [];

async function start(options) {
  const gateway = await Gateway.start(options);
  running.push(gateway);
  return gateway;
}

describe("TypeScript client across gateway restarts", () => {
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(running.map((g) => g.stop("SIGKILL")));
  });

  test("after a gateway restart the subscription reports notRecovered and flags the gap", T, async () => {
    const keys = createKeys();
    const first = await start({ keys, name: "restart-a" });
    const topic = `team:${process.pid}/restart`;
    const client = await GatewayClient.connect({
      endpoints: first.wsUrl,
      token: first.token({ sub: "olga", subscribe: ["team:*"] }),
      reconnect: { initialDelayMs: 100, maxDelayMs: 1000 },
    });
    clients.push(client);
    const sub = await client.subscribe(topic);
    for (let n = 1; n <= 3; n++) await first.postOk("/api/v1/publish", { topic, payload: { n } });
    const before = await take(sub, 3);
    assert.deepEqual(before.map((m) => m.json().n), [1, 2, 3]);

    const failures = [];
    client.on("recoveryFailed", (e) => failures.push(e));
    const subFailure = sub.once("recoveryFailed");
    await first.stop("SIGKILL"); // crash: in-memory history is gone
    await until(() => client.state === "reconnecting", { what: "client notices the crash" });
    const second = await start({ keys, name: "restart-b", port: first.port });
    const event = await subFailure;
    assert.equal(sub.recovery, "notRecovered");
    assert.equal(event.topic, topic);
    assert.equal(event.from.offset, before[2].offset);
    assert.match(event.message, /could not recover/);
    assert.equal(failures.length, 1);
    assert.equal(failures[0].subscription, sub);

    await second.postOk("/api/v1/publish", { topic, payload: { n: 4 } });
    const [next] = await take(sub, 1);
    assert.deepEqual(next.json(), { n: 4 });
    assert.equal(next.afterGap, true, "the first message after a failed recovery is flagged");
    await second.postOk("/api/v1/publish", { topic, payload: { n: 5 } });
    const [later] = await take(sub, 1);
    assert.equal(later.afterGap, false);
    assert.ok(later.offset > next.offset);
  });

  test("GoAway on drain: the client honours the hint and moves to the next endpoint", T, async () => {
    const keys = createKeys();
    const a = await start({ keys, name: "drain-a", extraArgs: ["--Gateway:Drain:ReconnectJitter=00:00:02"] });
    const b = await start({ keys, name: "drain-b" });
    const topic = `team:${process.pid}/drain`;
    const client = await GatewayClient.connect({
      endpoints: [a.wsUrl, b.wsUrl],
      token: a.token({ sub: "paul", subscribe: ["team:*"] }),
      reconnect: { initialDelayMs: 100, maxDelayMs: 1000 },
    });
    clients.push(client);
    assert.equal(client.connection.nodeId, "drain-a");
    const sub = await client.subscribe(topic);
    await a.postOk("/api/v1/publish", { topic, payload: "on a" });
    await take(sub, 1);

    let goAwayAt = 0;
    const goAway = new Promise((resolve) => client.on("goAway", (e) => {
      goAwayAt = Date.now();
      resolve(e);
    }));
    let connectedAt = 0;
    const connectedB = new Promise((resolve) => client.on("connected", (info) => {
      connectedAt = Date.now();
      if (info.nodeId === "drain-b") resolve(info);
    }));
    const drain = a.post("/api/v1/admin/drain", {});
    const hint = await goAway;
    assert.equal(typeof hint.delayMs, "number");
    assert.equal(typeof hint.reason, "string");
    assert.ok(hint.delayMs >= 0 && hint.delayMs <= 2000, `hint ${hint.delayMs} within the configured jitter`);
    const info = await connectedB;
    assert.equal(info.endpoint, b.wsUrl);
    assert.ok(connectedAt - goAwayAt >= hint.delayMs - 20, `reconnected after ${connectedAt - goAwayAt} ms, hint ${hint.delayMs} ms`);
    assert.ok([200, 202, 204].includes((await drain).status));
    // Node b has another history for the topic: the recovery outcome is explicit either way.
    await until(() => sub.recovery !== "fresh", { what: "resubscribe outcome" });
    assert.equal(sub.recovery, "notRecovered");
    await b.postOk("/api/v1/publish", { topic, payload: "on b" });
    const [m] = await take(sub, 1);
    assert.equal(m.text(), "\"on b\"");
  });
});
