// The gateway's WebSocket server (default transport: raw) against an independent client, Node's `ws`: the
// handshake (subprotocol, no compression even when offered), fragmented messages with pings between the
// fragments, close from either side with code and reason, and an abrupt reset.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { FrameKind, PROTOCOL_VERSION, decodeFrames, encodeFrame } from "../../dist/protocol/index.js";
import { Gateway, createKeys } from "../support/gateway.mjs";

const T = { timeout: 60_000 };
let gateway;

/** Opens a `ws` socket with our subprotocol and collects binary messages' protocol frames. */
async function open(options = {}) {
  const socket = new WebSocket(gateway.wsUrl, "archmesh.v1", { perMessageDeflate: true, ...options });
  const frames = [];
  const waiters = [];
  socket.on("message", (data, isBinary) => {
    assert.ok(isBinary, "the server sends binary messages only");
    for (const frame of decodeFrames(new Uint8Array(data))) {
      frames.push(frame);
    }
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise((resolve) => socket.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  const next = async (kind) => {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const index = frames.findIndex((f) => f.kind === kind);
      if (index >= 0) return frames.splice(index, 1)[0];
      await new Promise((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
    throw new Error(`no frame of kind ${kind}`);
  };
  return { socket, next, closed };
}

const connectFrame = (user) => encodeFrame({ kind: FrameKind.Connect, version: PROTOCOL_VERSION, token: gateway.token({ sub: user }), clientName: "ws-conformance", resumeToken: "" });
const pingFrame = (nonce) => encodeFrame({ kind: FrameKind.Ping, nonce: BigInt(nonce) });

describe("gateway WebSocket server ↔ Node ws", () => {
  before(async () => {
    gateway = await Gateway.start({ keys: createKeys(), name: "ts-ws-conformance" });
  });
  after(async () => {
    await gateway?.stop();
  });

  test("handshake selects archmesh.v1 and no extension even when permessage-deflate is offered", T, async () => {
    const { socket } = await open();
    assert.equal(socket.protocol, "archmesh.v1");
    assert.equal(socket.extensions, "");
    socket.close(1000);
  });

  test("a fragmented message with pings between the fragments is one message; pings are answered", T, async () => {
    const { socket, next } = await open();
    const pongs = [];
    socket.on("pong", (data) => pongs.push(data.toString()));
    const connect = connectFrame("ws-fragments");
    const third = Math.floor(connect.length / 3);
    socket.send(connect.subarray(0, third), { binary: true, fin: false });
    socket.ping("p1");
    socket.send(connect.subarray(third, 2 * third), { binary: true, fin: false });
    socket.ping("p2");
    socket.send(connect.subarray(2 * third), { binary: true, fin: true });
    const connected = await next(FrameKind.Connected);
    assert.equal(connected.userId, "ws-fragments");
    socket.send(pingFrame(42), { binary: true });
    const pong = await next(FrameKind.Pong);
    assert.equal(pong.nonce, 42n);
    // Pings that arrive in one read get one pong, for the latest (RFC 6455 §5.5.3); the latest is always answered.
    assert.equal(pongs.at(-1), "p2");
    assert.ok(pongs.every((p) => p === "p1" || p === "p2"));
    socket.close(1000);
  });

  test("client close is echoed with its code and reason", T, async () => {
    const { socket, next, closed } = await open();
    socket.send(connectFrame("ws-close"), { binary: true });
    await next(FrameKind.Connected);
    socket.close(4000, "bye now");
    const result = await closed;
    assert.equal(result.code, 4000);
    assert.equal(result.reason, "bye now");
  });

  test("server close carries the error's close code and name", T, async () => {
    const { socket, next, closed } = await open();
    socket.send(Buffer.from("text is not the protocol"), { binary: false });
    const error = await next(FrameKind.Error);
    assert.ok(error.errorCode > 0);
    const result = await closed;
    assert.equal(result.code, 1003);
    assert.equal(result.reason, "text_not_supported");
  });

  test("an abrupt reset ends the connection and the server keeps serving", T, async () => {
    const first = await open();
    first.socket.send(connectFrame("ws-reset"), { binary: true });
    await first.next(FrameKind.Connected);
    first.socket.terminate();
    const second = await open();
    second.socket.send(connectFrame("ws-after-reset"), { binary: true });
    await second.next(FrameKind.Connected);
    second.socket.close(1000);
  });
});
