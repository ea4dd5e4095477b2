// Writer bounds, multi-frame messages, backoff and token helpers (pure functions; no network).
import { test } from "node:test";
import assert from "node:assert/strict";
import { protocol, backoffDelay, ErrorCode, GatewayMessage, GatewayClient } from "../../dist/index.js";
import { readJwtTimes } from "../../dist/jwt.js";
import { resolveReconnect } from "../../dist/backoff.js";

const { FrameKind, FrameFlags, encodeFrame, decodeFrames, readFrame, ProtocolError, validateTopic, concatFrames } = protocol;

const throwsCode = (fn, code) => assert.throws(fn, (e) => e instanceof ProtocolError && e.code === code, `expected code 0x${code.toString(16)}`);

test("writer refuses what a reader would refuse, with the reader's code", () => {
  const sub = (topic) => encodeFrame({ kind: FrameKind.Subscribe, correlationId: 1, epoch: 0n, offset: 0n, topic });
  throwsCode(() => sub(""), ErrorCode.InvalidTopic);
  throwsCode(() => sub("a b"), ErrorCode.InvalidTopic);
  throwsCode(() => sub("team:*"), ErrorCode.InvalidTopic);
  throwsCode(() => sub("x".repeat(256)), ErrorCode.InvalidTopic);
  throwsCode(() => sub("bad\uD800"), ErrorCode.InvalidUtf8);
  assert.equal(sub("é".repeat(127)).length, 6 + 4 + 8 + 8 + 1 + 254);
  throwsCode(() => sub("é".repeat(128)), ErrorCode.InvalidTopic);
  throwsCode(() => encodeFrame({ kind: FrameKind.Publish, correlationId: 1, priority: 4, topic: "t", payload: new Uint8Array() }), ErrorCode.InvalidPriority);
  throwsCode(() => encodeFrame({ kind: FrameKind.Ping, flags: 1, nonce: 1n }), ErrorCode.InvalidFlags);
  throwsCode(() => encodeFrame({ kind: FrameKind.Subscribed, flags: 3, correlationId: 1, epoch: 1n, offset: 1n, topic: "t" }), ErrorCode.InvalidFlags);
  throwsCode(() => encodeFrame({ kind: FrameKind.Connect, version: 1, token: "x".repeat(8193), clientName: "", resumeToken: "" }), ErrorCode.FieldTooLong);
  throwsCode(() => encodeFrame({ kind: FrameKind.Connect, version: 1, token: "t", clientName: "n".repeat(256), resumeToken: "" }), ErrorCode.FieldTooLong);
  assert.throws(() => encodeFrame({ kind: FrameKind.Ping, nonce: 1n << 64n }), RangeError);
  assert.throws(() => encodeFrame({ kind: FrameKind.Error, errorCode: 0, correlationId: 0, text: "" }), RangeError);
  assert.equal(validateTopic("workflow:7f3a"), ErrorCode.None);
  assert.equal(validateTopic("team:42/alerts"), ErrorCode.None);
});

test("Error and GoAway texts are truncated to 1,024 bytes on a character boundary", () => {
  const text = "€".repeat(400); // 1,200 bytes
  const bytes = encodeFrame({ kind: FrameKind.GoAway, reconnectDelayMs: 5, text });
  const { frame } = readFrame(bytes);
  assert.equal(frame.text, "€".repeat(341));
  const err = readFrame(encodeFrame({ kind: FrameKind.Error, errorCode: ErrorCode.Forbidden, correlationId: 9, text: "😀".repeat(300) })).frame;
  assert.equal(err.text, "😀".repeat(256));
  assert.equal(err.errorCode, ErrorCode.Forbidden);
});

test("one WebSocket message may carry several frames; a truncated one is malformed", () => {
  const frames = [
    encodeFrame({ kind: FrameKind.Ping, nonce: 7n }),
    encodeFrame({ kind: FrameKind.Message, flags: FrameFlags.Replayed, priority: 1, epoch: 3n, offset: 18446744073709551615n, timestamp: 1700000000000n, topic: "user:alice", payload: new TextEncoder().encode("{\"a\":1}") }),
  ];
  const decoded = decodeFrames(concatFrames(frames));
  assert.equal(decoded.length, 2);
  assert.equal(decoded[0].nonce, 7n);
  const message = new GatewayMessage(decoded[1]);
  assert.equal(message.topic, "user:alice");
  assert.equal(message.offset, 18446744073709551615n);
  assert.equal(message.priority, "high");
  assert.equal(message.replayed, true);
  assert.equal(message.retained, false);
  assert.equal(message.isNotification, true);
  assert.deepEqual(message.json(), { a: 1 });
  assert.equal(message.timestamp.toISOString(), "2023-11-14T22:13:20.000Z");
  const truncated = concatFrames(frames).subarray(0, 20);
  assert.throws(() => decodeFrames(truncated), (e) => e instanceof ProtocolError && e.code === ErrorCode.MalformedFrame);
});

test("a payload decoded from a frame does not alias the input buffer", () => {
  const bytes = encodeFrame({ kind: FrameKind.Publish, correlationId: 1, priority: 2, topic: "t", payload: Uint8Array.of(1, 2, 3) });
  const { frame } = readFrame(bytes);
  bytes.fill(0);
  assert.deepEqual([...frame.payload], [1, 2, 3]);
});

test("backoff: exponential, capped, jittered within [1 - jitter, 1] of the base", () => {
  const policy = resolveReconnect({ initialDelayMs: 100, maxDelayMs: 1000, jitter: 0.5 });
  assert.equal(backoffDelay(0, policy, () => 0), 100);
  assert.equal(backoffDelay(1, policy, () => 0), 200);
  assert.equal(backoffDelay(3, policy, () => 0), 800);
  assert.equal(backoffDelay(4, policy, () => 0), 1000);
  assert.equal(backoffDelay(50, policy, () => 0), 1000);
  assert.equal(backoffDelay(2, policy, () => 1), 200);
  for (let i = 0; i < 200; i++) {
    const d = backoffDelay(2, policy);
    assert.ok(d >= 200 && d <= 400, `${d} in [200, 400]`);
  }
  assert.throws(() => resolveReconnect({ jitter: 2 }), RangeError);
});

test("JWT expiry is read without verification", () => {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  assert.deepEqual(readJwtTimes(`${b64({ alg: "HS256" })}.${b64({ sub: "a", exp: 2000000000, iat: 1999999000 })}.sig`), { exp: 2000000000, iat: 1999999000 });
  assert.deepEqual(readJwtTimes("opaque"), {});
});

test("client options are validated up front", () => {
  assert.throws(() => new GatewayClient({ endpoints: [], token: "t" }), TypeError);
  assert.throws(() => new GatewayClient({ endpoints: "http://x/ws", token: "t" }), /ws:\/\//);
  assert.throws(() => new GatewayClient({ endpoints: "not a url", token: "t" }), /Invalid endpoint/);
  assert.throws(() => new GatewayClient({ endpoints: "ws://x/ws" }), /token or getToken/);
  assert.throws(() => new GatewayClient({ endpoints: "ws://x/ws", token: "t", reconnect: { jitter: 3 } }), RangeError);
  const client = new GatewayClient({ endpoints: ["ws://x/ws", "tcp://x:5081"], token: "t" });
  assert.equal(client.state, "connecting");
});
