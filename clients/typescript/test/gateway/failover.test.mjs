// Issue 12, failover that clients survive: gateway nodes sharing a real redis-server, a real HAProxy in front.
// The node a client is on is killed (SIGKILL) or drains (GoAway); the client comes back on another node,
// resubscribes with recovery, gets every acknowledged message once and in order (replay, then live, across
// the seam), its pending notifications redelivered by the gateway and suppressed by the SDK.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { GatewayClient } from "../../dist/index.js";
import { createKeys, take, until } from "../support/gateway.mjs";
import { freeClusterPorts, startHaproxy, startNode, startRedis } from "../support/cluster.mjs";

const T = { timeout: 120_000 };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const keys = createKeys();
const cleanup = [];
let redis;
let nodes;
let balancer;

/** Publishes over the HTTP API of `node`; records { offset, text } of the acknowledged publish. */
async function publish(node, topic, text, acks) {
  const ack = await node.postOk("/api/v1/publish", { topic, payload: text });
  acks.push({ offset: BigInt(ack.offset), text });
  return BigInt(ack.offset);
}

/** Publishes every 10 ms until stopped. */
function publishUntil(node, topic, acks) {
  let stopped = false;
  const done = (async () => {
    for (let i = 0; !stopped; i++) {
      await publish(node, topic, `live${i}`, acks);
      await sleep(10);
    }
  })();
  return async () => {
    stopped = true;
    await done;
  };
}

/** Every acknowledged publish reached the application exactly once, in offset order, with no gap. */
function assertEveryAcknowledgedMessageOnce(acks, delivered) {
  const expected = [...acks].sort((a, b) => (a.offset < b.offset ? -1 : 1));
  expected.forEach((a, i) => assert.equal(a.offset, expected[0].offset + BigInt(i), "acknowledged offsets are contiguous"));
  assert.deepEqual(delivered.map((m) => m.offset), expected.map((a) => a.offset));
  assert.deepEqual(delivered.map((m) => m.json()), expected.map((a) => a.text));
  assert.ok(delivered.every((m) => !m.afterGap));
}

/** Reads until the last acknowledged offset arrived. */
async function readThrough(sub, acks, read) {
  const last = acks.reduce((max, a) => (a.offset > max ? a.offset : max), 0n);
  while (read.length === 0 || read[read.length - 1].offset < last) read.push(...(await take(sub, 1)));
  return read;
}

/** n1 delivered and acked (processed: a ping follows on the same connection), n2 delivered and left pending. */
async function twoNotifications(client, node, user) {
  const notifications = client.notifications();
  await node.postOk("/api/v1/notify", { user, payload: "n1" });
  const [n1] = await take(notifications, 1);
  client.ack(n1);
  await client.ping();
  await node.postOk("/api/v1/notify", { user, payload: "n2" });
  const [n2] = await take(notifications, 1);
  assert.deepEqual([n1.json(), n2.json()], ["n1", "n2"]);
  return { n1, n2 };
}

/** After the reconnect the pending notification was redelivered and suppressed; a new one is the next item. */
async function assertNotificationsAfter(client, node, user, pending, delivered) {
  const notifications = client.notifications();
  await until(() => notifications.duplicatesDropped >= 1, { what: "the redelivered pending notification" });
  client.ack(pending);
  await node.postOk("/api/v1/notify", { user, payload: "last" });
  const [next] = await take(notifications, 1);
  assert.equal(next.json(), "last", "nothing surfaced twice");
  assert.equal(notifications.delivered, delivered + 1);
}

function watchDiscontinuities(client) {
  const seen = [];
  client.on("discontinuity", (e) => seen.push(e));
  return seen;
}

describe("failover across gateway nodes sharing Redis", () => {
  before(async () => {
    redis = await startRedis();
    cleanup.push(() => redis.stop());
    const drain = ["--Gateway:Drain:ReconnectJitter=00:00:01"];
    const ports = await freeClusterPorts(2);
    nodes = await Promise.all([startNode(keys, "ts-node-a", redis, drain, ports.node(1)), startNode(keys, "ts-node-b", redis, drain, ports.node(2))]);
    for (const node of nodes) cleanup.push(() => node.stop("SIGKILL"));
    balancer = await startHaproxy(ports, 2);
    cleanup.push(() => balancer.stop());
  });
  after(async () => {
    for (const stop of cleanup.reverse()) await stop();
  });

  test("a killed node: the client comes back through HAProxy on the other node with every message once", T, async () => {
    const user = "ts-kim";
    const topic = "team:ts-failover/kill";
    const token = nodes[0].token({ sub: user, subscribe: ["team:*"] });
    let home;
    let survivor;
    const acks = [];
    let awayNotification;
    let connects = 0;
    const client = await GatewayClient.connect({
      endpoints: balancer.wsUrl,
      // Called on every connect: on the first reconnect it publishes (and awaits the acks) before the client
      // can be back, so these messages are certainly missed and replayed.
      getToken: async ({ reason }) => {
        if (reason === "connect" && ++connects === 2) {
          for (let i = 1; i <= 3; i++) await publish(survivor, topic, `away${i}`, acks);
          awayNotification = BigInt((await survivor.postOk("/api/v1/notify", { user, payload: "n3" })).offset);
        }
        return token;
      },
      reconnect: { firstReconnectWindowMs: 200, initialDelayMs: 50, maxDelayMs: 500 },
    });
    try {
      home = nodes.find((n) => n.name === client.connection.nodeId);
      survivor = nodes.find((n) => n !== home);
      const sub = await client.subscribe(topic);
      const discontinuities = watchDiscontinuities(client);
      const { n2 } = await twoNotifications(client, survivor, user);
      for (let i = 1; i <= 3; i++) await publish(survivor, topic, `m${i}`, acks);
      const read = await take(sub, 3);

      const reconnecting = client.once("reconnecting");
      const recovered = sub.once("recovered");
      await home.stop("SIGKILL");
      const stopPublishing = publishUntil(survivor, topic, acks);
      const { delayMs } = await reconnecting;
      assert.ok(delayMs >= 0 && delayMs < 200, `first reconnect delay ${delayMs} ms within the window`);
      await recovered;
      assert.equal(client.connection.nodeId, survivor.name);
      assert.equal(sub.recovery, "recovered");
      await sleep(300);
      await stopPublishing();

      assertEveryAcknowledgedMessageOnce(acks, await readThrough(sub, acks, read));
      assert.ok(sub.replayed >= 3, `replayed ${sub.replayed}`);
      assert.equal(sub.gapsDetected, 0);
      assert.deepEqual(discontinuities, []);

      const [n3] = await take(client.notifications(), 1);
      assert.equal(n3.offset, awayNotification);
      client.ack(n3);
      await assertNotificationsAfter(client, survivor, user, n2, 3);
    } finally {
      await client.close();
    }
  });

  test("GoAway on drain over raw TCP: the client moves to the next endpoint of its list with every message once", T, async () => {
    // The survivor of the previous test drains; a fresh node on the same Redis takes the client over.
    const draining = nodes.find((n) => n.process.exitCode === null && n.process.signalCode === null);
    const next = await startNode(keys, "ts-node-c", redis);
    cleanup.push(() => next.stop("SIGKILL"));
    const user = "ts-lou";
    const topic = "team:ts-failover/drain";
    const client = await GatewayClient.connect({
      endpoints: [draining.tcpUrl, next.tcpUrl],
      token: draining.token({ sub: user, subscribe: ["team:*"] }),
      reconnect: { firstReconnectWindowMs: 200, initialDelayMs: 50, maxDelayMs: 500 },
    });
    try {
      assert.equal(client.connection.nodeId, draining.name);
      const sub = await client.subscribe(topic);
      const discontinuities = watchDiscontinuities(client);
      const { n2 } = await twoNotifications(client, next, user);
      const acks = [];
      for (let i = 1; i <= 3; i++) await publish(next, topic, `m${i}`, acks);
      const read = await take(sub, 3);

      // Messages keep flowing on the old connection after GoAway, then on the new one.
      const stopPublishing = publishUntil(next, topic, acks);
      const goAway = client.once("goAway");
      const recovered = sub.once("recovered");
      await draining.postOk("/api/v1/admin/drain", {});
      const hint = await goAway;
      assert.ok(hint.delayMs >= 0 && hint.delayMs <= 1000, `hint ${hint.delayMs} ms within the node's jitter`);
      await recovered;
      assert.equal(client.connection.nodeId, next.name);
      await sleep(300);
      await stopPublishing();

      assertEveryAcknowledgedMessageOnce(acks, await readThrough(sub, acks, read));
      assert.equal(sub.gapsDetected, 0);
      assert.deepEqual(discontinuities, []);
      await assertNotificationsAfter(client, next, user, n2, 2);
    } finally {
      await client.close();
    }
  });
});
