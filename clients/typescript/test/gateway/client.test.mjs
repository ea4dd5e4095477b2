// The client against the real gateway over real sockets: connect, auth, subscribe/receive, publish acks,
// workflow retained state, notification ack/redelivery, endpoints failover, heartbeats, token refresh,
// reconnect + recovery after the connection is dropped.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { GatewayClient, GatewayError, ErrorCode } from "../../dist/index.js";
import { Gateway, TcpProxy, createKeys, freePort, take, until } from "../support/gateway.mjs";

const T = { timeout: 90_000 };
let gateway;
const clients = [];

/** Connects a client and closes it after the suite. */
async function connect(options) {
  const client = await GatewayClient.connect({ reconnect: { initialDelayMs: 50, maxDelayMs: 500 }, requestTimeoutMs: 20_000, ...options });
  clients.push(client);
  return client;
}

const text = (messages) => messages.map((m) => m.text());
let unique = 0;
const id = (prefix) => `${prefix}${process.pid}x${++unique}`;

describe("TypeScript client ↔ gateway", () => {
  before(async () => {
    gateway = await Gateway.start({ keys: createKeys(), name: "ts-client", tcp: true });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await gateway?.stop();
  });

  test("connects and reports the connection", T, async () => {
    const states = [];
    const client = new GatewayClient({ endpoints: gateway.wsUrl, token: gateway.token({ sub: "alice" }), clientName: "ts-test" });
    clients.push(client);
    client.on("state", (e) => states.push(e.state));
    await client.start();
    assert.equal(client.state, "connected");
    assert.deepEqual(states, ["connected"]);
    const info = client.connection;
    assert.equal(info.userId, "alice");
    assert.equal(info.endpoint, gateway.wsUrl);
    assert.ok(info.connectionId.length > 0);
    assert.equal(info.nodeId, "ts-client");
    assert.ok(info.heartbeatMs > 0);
    assert.ok(info.maxFrameLength >= 64);
    assert.equal(client.userId, "alice");
    const rtt = await client.ping();
    assert.ok(rtt >= 0 && rtt < 30_000, `rtt ${rtt}`);
    assert.equal(client.notifications().topic, "user:alice");
    await client.close();
    assert.equal(client.state, "closed");
    await assert.rejects(client.publish("x", "y"), (e) => e instanceof GatewayError && e.name === "client_closed");
  });

  test("auth failures reject connect with the gateway's error", T, async () => {
    const badKey = Buffer.alloc(32, 7);
    const { mintToken } = await import("../support/gateway.mjs");
    await assert.rejects(
      GatewayClient.connect({ endpoints: gateway.wsUrl, token: mintToken(badKey, { sub: "mallory" }) }),
      (e) => e instanceof GatewayError && e.code === ErrorCode.Unauthorized && e.name === "unauthorized" && e.retryable === false,
    );
    const now = Math.floor(Date.now() / 1000);
    await assert.rejects(
      GatewayClient.connect({ endpoints: gateway.wsUrl, token: gateway.token({ sub: "alice", iat: now - 7200, exp: now - 3600 }) }),
      (e) => e instanceof GatewayError && e.code === ErrorCode.TokenExpired && e.name === "token_expired",
    );
    await assert.rejects(
      GatewayClient.connect({ endpoints: gateway.wsUrl, token: "not-a-jwt" }),
      (e) => e instanceof GatewayError && e.name === "unauthorized",
    );
  });

  test("tries the endpoints in order on connect (one round unless retryInitialConnect)", T, async () => {
    const dead = await TcpProxy.start(gateway.port);
    dead.block(); // accepts and drops every connection, counting them
    try {
      const client = await connect({ endpoints: [dead.wsUrl, gateway.wsUrl], token: gateway.token({ sub: "carol" }) });
      assert.equal(client.connection.endpoint, gateway.wsUrl);
      assert.equal(dead.refused, 1, "the first endpoint was tried first");

      await assert.rejects(
        GatewayClient.connect({ endpoints: [dead.wsUrl], token: "t" }),
        (e) => e instanceof GatewayError && e.name === "connect_failed" && e.retryable === true && e.code === 0,
      );
      assert.equal(dead.refused, 2, "one attempt without retryInitialConnect");

      const reconnecting = [];
      const retrying = new GatewayClient({ endpoints: [dead.wsUrl], token: "t", retryInitialConnect: true, reconnect: { initialDelayMs: 10, maxDelayMs: 40, maxAttempts: 3 } });
      retrying.on("reconnecting", (e) => reconnecting.push(e.delayMs));
      await assert.rejects(retrying.start(), (e) => e instanceof GatewayError && e.name === "connect_failed");
      assert.equal(dead.refused, 5, "three rounds with retryInitialConnect");
      assert.equal(reconnecting.length, 2, "backoff between rounds");
      assert.ok(reconnecting.every((d) => d >= 5 && d <= 40), `delays ${reconnecting}`);
      assert.equal(retrying.state, "closed");
    } finally {
      await dead.close();
    }
  });

  test("subscribes and receives messages published over the HTTP API, in offset order", T, async () => {
    const topic = id("team:") + "/alerts";
    const client = await connect({ endpoints: gateway.wsUrl, token: gateway.token({ sub: "dave", subscribe: ["team:*"] }) });
    const sub = await client.subscribe(topic);
    assert.equal(sub.recovery, "fresh");
    const acks = [];
    for (let i = 1; i <= 5; i++) acks.push(await gateway.postOk("/api/v1/publish", { topic, payload: { n: i }, priority: "high" }));
    const got = await take(sub, 5);
    assert.deepEqual(got.map((m) => m.json().n), [1, 2, 3, 4, 5]);
    assert.deepEqual(got.map((m) => m.offset), acks.map((a) => BigInt(a.offset)));
    for (let i = 1; i < got.length; i++) assert.ok(got[i].offset > got[i - 1].offset);
    assert.ok(got.every((m) => m.topic === topic && m.priority === "high" && !m.replayed && !m.retained));
    assert.ok(Math.abs(got[0].timestampMs - Date.now()) < 120_000);
    // Iteration with for-await; breaking out unsubscribes.
    await gateway.postOk("/api/v1/publish", { topic, payload: "last" });
    for await (const message of sub) {
      assert.equal(message.text(), "\"last\"");
      break;
    }
    assert.equal(sub.closed, true);
    const again = await client.subscribe(topic);
    assert.equal(again.recovery, "fresh");
  });

  test("subscribe refusals: forbidden topics and other users' notifications", T, async () => {
    const client = await connect({ endpoints: gateway.wsUrl, token: gateway.token({ sub: "erin", subscribe: ["team:1/*"] }) });
    await assert.rejects(client.subscribe("team:2/secret"), (e) => e instanceof GatewayError && e.code === ErrorCode.Forbidden && e.name === "forbidden" && !e.retryable);
    await assert.rejects(client.subscribe("user:frank"), (e) => e instanceof GatewayError && e.name === "forbidden");
    await assert.rejects(client.subscribe("bad topic"), (e) => e instanceof GatewayError && e.name === "invalid_topic");
    // The connection survives request errors.
    const ok = await client.subscribe("team:1/ok");
    assert.equal(ok.topic, "team:1/ok");
    assert.equal(client.state, "connected");
  });

  test("publishes with an ack; refusals are GatewayErrors with code, name and retryable", T, async () => {
    const topic = id("team:") + "/pub";
    const publisher = await connect({ endpoints: gateway.wsUrl, token: gateway.token({ sub: "pub", publish: ["team:*"], subscribe: ["team:*"] }) });
    const reader = await connect({ endpoints: gateway.wsUrl, token: gateway.token({ sub: "reader", subscribe: ["team:*"] }) });
    const sub = await reader.subscribe(topic);
    const first = await publisher.publish(topic, "hello", { priority: "critical" });
    const second = await publisher.publishJson(topic, { n: 2 });
    const third = await publisher.publish(topic, Uint8Array.of(0, 1, 2, 255), { priority: "low" });
    assert.equal(first.topic, topic);
    assert.equal(typeof first.epoch, "bigint");
    assert.ok(second.offset > first.offset && third.offset > second.offset);
    assert.equal(second.epoch, first.epoch);
    const got = await take(sub, 3);
    assert.equal(got[0].text(), "hello");
    assert.equal(got[0].priority, "critical");
    assert.deepEqual(got[1].json(), { n: 2 });
    assert.deepEqual([...got[2].payload], [0, 1, 2, 255]);
    assert.deepEqual(got.map((m) => m.offset), [first.offset, second.offset, third.offset]);

    await assert.rejects(publisher.publish("ops:forbidden", "x"), (e) => e instanceof GatewayError && e.code === ErrorCode.Forbidden && e.retryable === false);
    await assert.rejects(publisher.publish(topic, new Uint8Array(publisher.connection.maxFrameLength)), (e) => e instanceof GatewayError && e.name === "payload_too_large");
    await assert.rejects(reader.publish(topic, "no rights"), (e) => e instanceof GatewayError && e.name === "forbidden");
    const aborted = new AbortController();
    aborted.abort(new Error("caller gave up"));
    await assert.rejects(publisher.publish(topic, "x", { signal: aborted.signal }), /caller gave up/);
    // Still usable after refusals.
    const fourth = await publisher.publish(topic, "after");
    assert.ok(fourth.offset > third.offset);
  });

  test("workflow topics: a new subscriber gets the retained state at once, then live updates", T, async () => {
    const topic = id("workflow:wf");
    const wf = topic.slice("workflow:".length);
    await gateway.postOk(`/api/v1/workflows/${wf}`, { payload: { step: 1 } });
    const latest = await gateway.postOk(`/api/v1/workflows/${wf}`, { payload: { step: 2, state: "running" } });
    const client = await connect({ endpoints: gateway.wsUrl, token: gateway.token({ sub: "gina", subscribe: ["workflow:*"] }) });
    const sub = await client.subscribe(topic);
    const [retained] = await take(sub, 1);
    assert.equal(retained.retained, true);
    assert.deepEqual(retained.json(), { step: 2, state: "running" });
    assert.equal(retained.offset, BigInt(latest.offset));
    await gateway.postOk(`/api/v1/workflows/${wf}`, { payload: { step: 3, state: "done" } });
    const [live] = await take(sub, 1);
    assert.equal(live.retained, false);
    assert.deepEqual(live.json(), { step: 3, state: "done" });
  });

  test("notifications: delivered without subscribing, redelivered until acked", T, async () => {
    const user = id("nina");
    const token = () => gateway.token({ sub: user });
    const first = await connect({ endpoints: gateway.wsUrl, token: token() });
    const sent = await gateway.postOk("/api/v1/notify", { user, payload: { text: "n1" }, priority: "high" });
    const [n1] = await take(first.notifications(), 1);
    assert.equal(n1.topic, `user:${user}`);
    assert.equal(n1.isNotification, true);
    assert.deepEqual(n1.json(), { text: "n1" });
    assert.equal(n1.offset, BigInt(sent.offset));
    await first.close(); // not acked

    const second = await connect({ endpoints: gateway.wsUrl, token: token() });
    const [again] = await take(second.notifications(), 1);
    assert.equal(again.offset, n1.offset);
    assert.equal(again.replayed, true, "pending notification is replayed");
    second.ack(again);
    // The ack is a fire-and-forget frame: a round trip on the same connection proves it was processed before closing.
    await assert.rejects(second.subscribe("user:someone-else"), (e) => e.name === "forbidden");
    await second.close();

    const third = await connect({ endpoints: gateway.wsUrl, token: token() });
    await gateway.postOk("/api/v1/notify", { user, payload: { text: "n2" } });
    const [next] = await take(third.notifications(), 1);
    assert.deepEqual(next.json(), { text: "n2" }, "the acked notification is not redelivered");
    next.ack();
  });

  test("notifications: no duplicate surfaced across a reconnect; acks made while disconnected are sent on reconnect", T, async () => {
    const user = id("rex");
    const proxy = await TcpProxy.start(gateway.port);
    try {
      const client = await connect({ endpoints: proxy.wsUrl, token: gateway.token({ sub: user }) });
      const notifications = client.notifications();
      await gateway.postOk("/api/v1/notify", { user, payload: { text: "n1" } });
      const [n1] = await take(notifications, 1);
      assert.equal(n1.json().text, "n1");

      proxy.block();
      proxy.drop();
      await until(() => client.state === "reconnecting", { what: "reconnecting" });
      client.ack(n1); // queued: sent on the next connect
      await gateway.postOk("/api/v1/notify", { user, payload: { text: "n2" } });
      const reconnected = client.once("connected");
      proxy.unblock();
      await reconnected;
      // The gateway redelivers every pending notification on connect (n1 too, if it queued them before our
      // ack arrived); the client surfaces n2 only.
      const [n2] = await take(notifications, 1);
      assert.equal(n2.json().text, "n2");
      assert.equal(n2.replayed, true);
      await gateway.postOk("/api/v1/notify", { user, payload: { text: "n3" } });
      const [n3] = await take(notifications, 1);
      assert.equal(n3.json().text, "n3", "nothing surfaced twice");
      assert.ok(notifications.duplicatesDropped >= 1, "the redelivered n1 was recognised and dropped");
      assert.equal(notifications.delivered, 3);
      client.ack(n2);
      n3.ack();
      await assert.rejects(client.subscribe("user:nobody"), (e) => e.name === "forbidden"); // round trip after the acks
      await client.close();

      const fresh = await connect({ endpoints: gateway.wsUrl, token: gateway.token({ sub: user }) });
      await gateway.postOk("/api/v1/notify", { user, payload: { text: "n4" } });
      const [n4] = await take(fresh.notifications(), 1);
      assert.equal(n4.json().text, "n4", "acked notifications (including the one acked while disconnected) are not redelivered");
    } finally {
      await proxy.close();
    }
  });

  test("resumes a subscription from a persisted position in a new client", T, async () => {
    const topic = id("team:") + "/resume";
    const token = gateway.token({ sub: "ursula", subscribe: ["team:*"] });
    const first = await connect({ endpoints: gateway.wsUrl, token });
    const sub = await first.subscribe(topic);
    for (let n = 1; n <= 3; n++) await gateway.postOk("/api/v1/publish", { topic, payload: { n } });
    await take(sub, 3);
    const saved = sub.position;
    assert.equal(typeof saved.epoch, "bigint");
    await first.close();
    for (let n = 4; n <= 5; n++) await gateway.postOk("/api/v1/publish", { topic, payload: { n } });

    const second = await connect({ endpoints: gateway.wsUrl, token });
    const resumed = await second.subscribe(topic, { from: saved });
    assert.equal(resumed.recovery, "recovered");
    const got = await take(resumed, 2);
    assert.deepEqual(got.map((m) => [m.json().n, m.replayed]), [[4, true], [5, true]]);

    const bogus = await connect({ endpoints: gateway.wsUrl, token });
    const failures = [];
    bogus.on("recoveryFailed", (e) => failures.push(e.topic));
    const lost = await bogus.subscribe(topic, { from: { epoch: saved.epoch + 1n, offset: 1n } });
    assert.equal(lost.recovery, "notRecovered");
    assert.deepEqual(failures, [topic]);
  });

  test("unsubscribe stops delivery for that topic only", T, async () => {
    const a = id("team:") + "/a";
    const b = id("team:") + "/b";
    const client = await connect({ endpoints: gateway.wsUrl, token: gateway.token({ sub: "ulla", subscribe: ["team:*"] }) });
    const seen = [];
    client.on("message", (m) => seen.push(m.topic));
    const subA = await client.subscribe(a);
    const subB = await client.subscribe(b);
    const ended = subA.once("closed");
    await subA.unsubscribe();
    await ended;
    assert.equal(subA.closed, true);
    assert.deepEqual(await subA.next(), { done: true, value: undefined });
    await gateway.postOk("/api/v1/publish", { topic: a, payload: 1 });
    await gateway.postOk("/api/v1/publish", { topic: b, payload: 2 });
    const [m] = await take(subB, 1);
    assert.equal(m.topic, b);
    assert.deepEqual(seen, [b]);
  });

  test("broadcasts reach every connection without subscribing", T, async () => {
    const a = await connect({ endpoints: gateway.wsUrl, token: gateway.token({ sub: "bc-a" }) });
    const b = await connect({ endpoints: gateway.wsUrl, token: gateway.token({ sub: "bc-b" }) });
    const marker = id("bc");
    await gateway.postOk("/api/v1/broadcast", { payload: { marker } });
    const find = async (client) => {
      for (;;) {
        const [m] = await take(client.broadcasts(), 1);
        if (m.json().marker === marker) return m;
      }
    };
    const [ma, mb] = await Promise.all([find(a), find(b)]);
    assert.equal(ma.topic, "broadcast");
    assert.equal(ma.offset, mb.offset);
  });

  test("reconnects after the connection drops and recovers every missed message, without duplicates", T, async () => {
    const topic = id("team:") + "/feed";
    const proxy = await TcpProxy.start(gateway.port);
    try {
      const events = [];
      const client = await connect({ endpoints: proxy.wsUrl, token: gateway.token({ sub: "rita", subscribe: ["team:*"] }) });
      client.on("disconnected", (e) => events.push(`disconnected:${e.willReconnect}`));
      client.on("connected", () => events.push("connected"));
      const sub = await client.subscribe(topic);
      const publish = (n) => gateway.postOk("/api/v1/publish", { topic, payload: { n } });
      for (let n = 1; n <= 3; n++) await publish(n);
      assert.deepEqual((await take(sub, 3)).map((m) => m.json().n), [1, 2, 3]);

      const recovered = sub.once("recovered");
      proxy.block();
      proxy.drop();
      await until(() => client.state === "reconnecting", { what: "reconnecting" });
      for (let n = 4; n <= 6; n++) await publish(n); // published while the client is away
      proxy.unblock();
      await recovered;
      assert.equal(sub.recovery, "recovered");
      await publish(7);
      const got = await take(sub, 4);
      assert.deepEqual(got.map((m) => m.json().n), [4, 5, 6, 7]);
      assert.deepEqual(got.map((m) => m.replayed), [true, true, true, false]);
      assert.ok(got.every((m) => !m.afterGap));
      await publish(8);
      const [eighth] = await take(sub, 1);
      assert.equal(eighth.json().n, 8, "no duplicate surfaced between the replay and live messages");
      assert.deepEqual(events, ["disconnected:true", "connected"]);
      assert.equal(client.state, "connected");
    } finally {
      await proxy.close();
    }
  });

  test("detects a dead (half-open) connection by heartbeat and reconnects", T, async () => {
    const topic = id("team:") + "/hb";
    const proxy = await TcpProxy.start(gateway.port);
    try {
      const client = await connect({ endpoints: proxy.wsUrl, token: gateway.token({ sub: "hank", subscribe: ["team:*"] }), heartbeatMs: 300, heartbeatTimeoutMs: 2500 });
      const sub = await client.subscribe(topic);
      const disconnected = client.once("disconnected");
      const reconnected = new Promise((resolve) => client.on("connected", resolve));
      const started = Date.now();
      proxy.freeze();
      const event = await disconnected;
      assert.equal(event.error?.name, "heartbeat_timeout");
      assert.ok(Date.now() - started >= 2000, "not before the heartbeat timeout");
      await reconnected;
      await gateway.postOk("/api/v1/publish", { topic, payload: "after" });
      const [m] = await take(sub, 1);
      assert.equal(m.text(), "\"after\"");
      assert.equal(sub.recovery, "recovered");
    } finally {
      await proxy.close();
    }
  });

  test("raw TCP transport (Node): hello, subscribe, publish, recovery after a drop", T, async () => {
    const topic = id("team:") + "/tcp";
    const proxy = await TcpProxy.start(gateway.tcpPort);
    try {
      const client = await connect({ endpoints: `tcp://127.0.0.1:${proxy.port}`, token: gateway.token({ sub: "tom", subscribe: ["team:*"], publish: ["team:*"] }) });
      assert.equal(client.connection.userId, "tom");
      const sub = await client.subscribe(topic);
      const ack = await client.publish(topic, "over tcp");
      const [m] = await take(sub, 1);
      assert.equal(m.text(), "over tcp");
      assert.equal(m.offset, ack.offset);
      proxy.block();
      proxy.drop();
      await until(() => client.state === "reconnecting", { what: "reconnecting" });
      await gateway.postOk("/api/v1/publish", { topic, payload: "missed" });
      const recovered = sub.once("recovered");
      proxy.unblock();
      await recovered;
      const [missed] = await take(sub, 1);
      assert.equal(missed.text(), "\"missed\"");
      assert.equal(missed.replayed, true);
    } finally {
      await proxy.close();
    }
    await assert.rejects(
      GatewayClient.connect({ endpoints: gateway.tcpUrl, token: "not-a-jwt" }),
      (e) => e instanceof GatewayError && e.name === "unauthorized",
    );
  });

  test("refreshes the token on the live connection before it expires", T, async () => {
    const reasons = [];
    const client = await connect({
      endpoints: gateway.wsUrl,
      getToken: ({ reason }) => {
        reasons.push(reason);
        return gateway.token({ sub: "tess", ttl: 4 });
      },
    });
    const connectionId = client.connection.connectionId;
    const refreshed = await client.once("tokenRefreshed");
    assert.ok(refreshed.expiresAt.getTime() > Date.now());
    assert.deepEqual(reasons, ["connect", "refresh"]);
    assert.equal(client.connection.connectionId, connectionId, "same connection");
    const second = await client.once("tokenRefreshed");
    assert.ok(second.expiresAt.getTime() >= refreshed.expiresAt.getTime());
    assert.equal(client.connection.connectionId, connectionId);
    const explicit = await client.refreshToken();
    assert.ok(explicit instanceof Date && explicit.getTime() > Date.now());
    assert.equal(reasons.filter((r) => r === "refresh").length >= 3, true);
    assert.equal(client.connection.connectionId, connectionId);
  });
});
