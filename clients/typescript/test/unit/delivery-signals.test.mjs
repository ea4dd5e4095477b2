// What the SDK tells the application when a stream is not gapless (issue 10), against a scripted gateway on
// a real WebSocket: recovery_incomplete mapped back to its subscription (also after a resubscribe on a new
// connection), gaps repaired by resubscribing with recovery, epoch changes, unrepairable gaps on broadcast,
// pending notifications redelivered below the last surfaced offset.
import { test } from "node:test";
import assert from "node:assert/strict";
import { GatewayClient, ErrorCode, protocol } from "../../dist/index.js";
import { ScriptedGateway, take, withTimeout } from "../support/scripted.mjs";

const { FrameKind, FrameFlags } = protocol;
const EPOCH = 77n;
const TOPIC = "team:42/alerts";
const T = { timeout: 60_000 };

/** Connects a client to a fresh scripted gateway; returns both and the first connection. */
async function setup() {
  const server = await ScriptedGateway.start();
  const accepting = server.accept();
  const client = await GatewayClient.connect(server.options());
  const connection = await accepting;
  return { server, client, connection };
}

/** Subscribes `topic` fresh at (EPOCH, offset); returns the subscription and the Subscribe frame. */
async function subscribeFresh(client, connection, offset) {
  const subscribing = client.subscribe(TOPIC);
  const subscribe = await connection.expect(FrameKind.Subscribe);
  assert.equal(subscribe.flags & FrameFlags.Recover, 0);
  connection.subscribed(subscribe, EPOCH, offset);
  return { sub: await subscribing, subscribe };
}

/** Records message and signal events of a subscription in arrival order. */
function record(sub) {
  const log = [];
  sub.on("message", (m) => log.push(`message ${m.offset}${m.afterGap ? " afterGap" : ""}`));
  for (const name of ["recovered", "recoveryFailed", "recoveryIncomplete", "gap", "epochChanged"]) sub.on(name, () => log.push(name));
  const signals = [];
  sub.on("discontinuity", (e) => signals.push(e));
  return { log, signals };
}

test("recovery_incomplete after a resubscribe is reported for that subscription between the replay and the live messages", T, async () => {
  const { server, client, connection } = await setup();
  try {
    const { sub, subscribe } = await subscribeFresh(client, connection, 10n);
    const { log, signals } = record(sub);
    const clientLevel = [];
    client.on("recoveryIncomplete", (e) => clientLevel.push(e));
    connection.message(TOPIC, EPOCH, 11n);
    connection.message(TOPIC, EPOCH, 12n);
    assert.deepEqual((await take(sub, 2)).map((m) => m.offset), [11n, 12n]);

    // The connection drops; the client resubscribes with recovery from the last surfaced position.
    const accepting = server.accept();
    connection.drop();
    const second = await accepting;
    const resubscribe = await second.expect(FrameKind.Subscribe);
    assert.equal(resubscribe.topic, TOPIC);
    assert.equal(resubscribe.flags & FrameFlags.Recover, FrameFlags.Recover);
    assert.deepEqual([resubscribe.epoch, resubscribe.offset], [EPOCH, 12n]);
    assert.notEqual(resubscribe.correlationId, subscribe.correlationId);

    // Recovered, part of the replay, recovery_incomplete with the resubscribe's correlation id, then live.
    second.subscribed(resubscribe, EPOCH, 20n, FrameFlags.Recovered);
    second.message(TOPIC, EPOCH, 13n, FrameFlags.Replayed);
    second.message(TOPIC, EPOCH, 14n, FrameFlags.Replayed);
    second.error(ErrorCode.RecoveryIncomplete, resubscribe.correlationId, "history trimmed while paging");
    second.message(TOPIC, EPOCH, 25n);
    second.message(TOPIC, EPOCH, 26n);

    const items = await take(sub, 4);
    assert.deepEqual(items.map((m) => [m.offset, m.replayed, m.afterGap]), [
      [13n, true, false],
      [14n, true, false],
      [25n, false, true],
      [26n, false, false],
    ]);
    assert.deepEqual(log, ["message 11", "message 12", "recovered", "message 13", "message 14", "recoveryIncomplete", "message 25 afterGap", "message 26"]);
    assert.equal(sub.recovery, "incomplete");
    assert.deepEqual(sub.position, { epoch: EPOCH, offset: 26n });
    assert.equal(signals.length, 1);
    assert.deepEqual(
      { kind: signals[0].kind, topic: signals[0].topic, from: signals[0].from, refetch: signals[0].refetch, recovering: signals[0].recovering, message: signals[0].message },
      { kind: "recoveryIncomplete", topic: TOPIC, from: { epoch: EPOCH, offset: 14n }, refetch: true, recovering: false, message: "history trimmed while paging" },
    );
    assert.equal(clientLevel.length, 1);
    assert.equal(clientLevel[0].subscription, sub);
    assert.deepEqual(clientLevel[0].lastReplayed, { epoch: EPOCH, offset: 14n });
    assert.equal(sub.gapsDetected, 0);
    assert.equal(client.state, "connected");
  } finally {
    await client.close();
    await server.close();
  }
});

test("a recovery_incomplete with another correlation id is not attributed to the subscription", T, async () => {
  const { server, client, connection } = await setup();
  try {
    const subscribing = client.subscribe(TOPIC, { from: { epoch: EPOCH, offset: 10n } });
    const subscribe = await connection.expect(FrameKind.Subscribe);
    assert.deepEqual([subscribe.flags, subscribe.epoch, subscribe.offset], [FrameFlags.Recover, EPOCH, 10n]);
    connection.subscribed(subscribe, EPOCH, 12n, FrameFlags.Recovered);
    const sub = await subscribing;
    const { signals } = record(sub);
    const errors = [];
    client.on("error", (e) => errors.push(e));
    connection.error(ErrorCode.RecoveryIncomplete, subscribe.correlationId + 1000, "not ours");
    connection.message(TOPIC, EPOCH, 11n, FrameFlags.Replayed);
    connection.message(TOPIC, EPOCH, 12n, FrameFlags.Replayed);
    assert.deepEqual((await take(sub, 2)).map((m) => [m.offset, m.replayed, m.afterGap]), [
      [11n, true, false],
      [12n, true, false],
    ]);
    assert.deepEqual(signals, []);
    assert.equal(sub.recovery, "recovered");
    assert.deepEqual(errors.map((e) => e.name), ["recovery_incomplete"]);
  } finally {
    await client.close();
    await server.close();
  }
});

test("a gap is reported and repaired by resubscribing from the last surfaced position", T, async () => {
  const { server, client, connection } = await setup();
  try {
    const { sub } = await subscribeFresh(client, connection, 10n);
    const { log, signals } = record(sub);
    // 13 and 14 were shed for this connection; 16 arrives before the repair is answered.
    for (const offset of [11n, 12n, 15n, 16n]) connection.message(TOPIC, EPOCH, offset);
    const unsubscribe = await connection.expect(FrameKind.Unsubscribe);
    assert.equal(unsubscribe.topic, TOPIC);
    connection.send({ kind: FrameKind.Unsubscribed, correlationId: unsubscribe.correlationId, topic: TOPIC });
    const repair = await connection.expect(FrameKind.Subscribe);
    assert.deepEqual([repair.flags, repair.epoch, repair.offset], [FrameFlags.Recover, EPOCH, 12n]);
    connection.subscribed(repair, EPOCH, 16n, FrameFlags.Recovered);
    for (const offset of [13n, 14n, 15n, 16n]) connection.message(TOPIC, EPOCH, offset, FrameFlags.Replayed);
    connection.message(TOPIC, EPOCH, 17n);

    const items = await take(sub, 7);
    assert.deepEqual(items.map((m) => m.offset), [11n, 12n, 13n, 14n, 15n, 16n, 17n]);
    assert.ok(items.every((m) => !m.afterGap));
    assert.deepEqual(log, ["message 11", "message 12", "gap", "recovered", "message 13", "message 14", "message 15", "message 16", "message 17"]);
    assert.equal(signals.length, 1);
    const [gap] = signals;
    assert.deepEqual(
      { kind: gap.kind, from: gap.from, to: gap.to, missed: gap.missed, recovering: gap.recovering, refetch: gap.refetch },
      { kind: "gap", from: { epoch: EPOCH, offset: 12n }, to: { epoch: EPOCH, offset: 15n }, missed: 2n, recovering: true, refetch: false },
    );
    assert.equal(sub.recovery, "recovered");
    assert.equal(sub.gapsDetected, 1);
  } finally {
    await client.close();
    await server.close();
  }
});

test("an epoch change and a gap on broadcast are reported without repair", T, async () => {
  const { server, client, connection } = await setup();
  try {
    const { sub } = await subscribeFresh(client, connection, 10n);
    const signals = [];
    client.on("discontinuity", (e) => signals.push([e.topic, e.kind, e.from, e.to, e.recovering, e.subscription.topic]));
    connection.message(TOPIC, EPOCH, 11n);
    connection.message(TOPIC, EPOCH + 1n, 1n);
    connection.message(TOPIC, EPOCH + 1n, 2n);
    connection.message("broadcast", 5n, 1n);
    connection.message("broadcast", 5n, 4n);

    assert.deepEqual((await take(sub, 3)).map((m) => [m.epoch, m.offset, m.afterGap]), [
      [EPOCH, 11n, false],
      [EPOCH + 1n, 1n, true],
      [EPOCH + 1n, 2n, false],
    ]);
    assert.deepEqual((await take(client.broadcasts(), 2)).map((m) => [m.offset, m.afterGap]), [
      [1n, false],
      [4n, true],
    ]);
    assert.deepEqual(signals, [
      [TOPIC, "epochChanged", { epoch: EPOCH, offset: 11n }, { epoch: EPOCH + 1n, offset: 1n }, false, TOPIC],
      ["broadcast", "gap", { epoch: 5n, offset: 1n }, { epoch: 5n, offset: 4n }, false, "broadcast"],
    ]);
    // Nothing was resubscribed: the next frame the client sends is the Unsubscribe below.
    const unsubscribing = sub.unsubscribe();
    const next = await connection.next();
    assert.equal(next.kind, FrameKind.Unsubscribe);
    connection.send({ kind: FrameKind.Unsubscribed, correlationId: next.correlationId, topic: TOPIC });
    await withTimeout(unsubscribing, "unsubscribe");
  } finally {
    await client.close();
    await server.close();
  }
});

test("pending notifications below the last surfaced offset are delivered; duplicates are dropped and their ack re-sent", T, async () => {
  const { server, client, connection } = await setup();
  try {
    const user = "user:tester";
    const notifications = client.notifications();
    // Notification 2 was shed for this connection; 1 and 3 arrive live.
    connection.message(user, EPOCH, 1n);
    connection.message(user, EPOCH, 3n);
    const live = await take(notifications, 2);
    assert.deepEqual(live.map((m) => m.offset), [1n, 3n]);
    client.ack(live[0]);
    const ack1 = await connection.expect(FrameKind.Ack, { includeAcks: true });
    assert.equal(ack1.offset, 1n);

    // Reconnect: the gateway redelivers the pending ones (2 and 3).
    const accepting = server.accept();
    connection.drop();
    const second = await accepting;
    client.ack(live[1]);
    second.message(user, EPOCH, 2n, FrameFlags.Replayed);
    second.message(user, EPOCH, 3n, FrameFlags.Replayed);
    const [redelivered] = await take(notifications, 1);
    assert.deepEqual([redelivered.offset, redelivered.replayed, redelivered.afterGap], [2n, true, false]);
    const ack3 = await second.expect(FrameKind.Ack, { includeAcks: true });
    assert.deepEqual([ack3.topic, ack3.offset], [user, 3n]);
    await withTimeout(
      (async () => {
        while (notifications.duplicatesDropped !== 1) await new Promise((r) => setTimeout(r, 10));
      })(),
      "the duplicate to be dropped",
    );
    assert.equal(notifications.buffered, 0);
  } finally {
    await client.close();
    await server.close();
  }
});
