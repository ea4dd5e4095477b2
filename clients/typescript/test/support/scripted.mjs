// Test support: a scripted gateway on a real loopback WebSocket (the `ws` dev dependency). Each accepted
// connection completes the Connect/Connected handshake; the test then reads the client's frames and writes
// the server's frames itself, so the SDK is the thing under test.
import { WebSocketServer } from "ws";
import { protocol } from "../../dist/index.js";

const { FrameKind, encodeFrame, decodeFrames, SUBPROTOCOL } = protocol;
const TIMEOUT_MS = 30_000;

export class ScriptedGateway {
  static async start() {
    const gateway = new ScriptedGateway();
    await new Promise((resolve, reject) => {
      gateway.wss.once("listening", resolve);
      gateway.wss.once("error", reject);
    });
    return gateway;
  }

  constructor() {
    this.wss = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false) });
    this.accepted = [];
    this.waiting = [];
    this.connections = [];
    this.wss.on("connection", (ws) => {
      const connection = new ScriptedConnection(ws);
      this.connections.push(connection);
      const waiter = this.waiting.shift();
      if (waiter) waiter(connection);
      else this.accepted.push(connection);
    });
  }

  get url() {
    return `ws://127.0.0.1:${this.wss.address().port}/ws`;
  }

  /** Client options for this server: fixed token, fast reconnects. */
  options(extra = {}) {
    return { endpoints: [this.url], token: "token", reconnect: { initialDelayMs: 20, maxDelayMs: 200 }, ...extra };
  }

  /** The next connection, after Connect was answered with Connected (user `userId`). */
  async accept(userId = "tester") {
    const connection = this.accepted.shift() ?? (await withTimeout(new Promise((resolve) => this.waiting.push(resolve)), "a connection"));
    const connect = await connection.expect(FrameKind.Connect);
    connection.token = connect.token;
    connection.send({ kind: FrameKind.Connected, heartbeatMs: 15_000, maxFrameLength: 65_536, maxSubscriptions: 64, connectionId: "c-1", nodeId: "scripted", userId });
    return connection;
  }

  async close() {
    for (const c of this.connections) c.ws.terminate();
    await new Promise((resolve) => this.wss.close(() => resolve()));
  }
}

export class ScriptedConnection {
  constructor(ws) {
    this.ws = ws;
    this.frames = [];
    this.waiters = [];
    ws.on("message", (data) => {
      for (const frame of decodeFrames(new Uint8Array(data))) {
        if (frame.kind === FrameKind.Ping) {
          this.send({ kind: FrameKind.Pong, nonce: frame.nonce });
          continue;
        }
        if (frame.kind === FrameKind.Pong) continue;
        this.frames.push(frame);
        this.waiters.shift()?.();
      }
    });
  }

  /** The next frame from the client (Acks skipped unless includeAcks). */
  async next({ includeAcks = false } = {}) {
    for (;;) {
      while (this.frames.length === 0) await withTimeout(new Promise((resolve) => this.waiters.push(resolve)), "a frame from the client");
      const frame = this.frames.shift();
      if (frame.kind === FrameKind.Ack && !includeAcks) continue;
      return frame;
    }
  }

  /** The next frame, which must be of `kind`. */
  async expect(kind, options) {
    const frame = await this.next(options);
    if (frame.kind !== kind) throw new Error(`Expected frame kind ${kind}, got ${frame.kind}.`);
    return frame;
  }

  send(frame) {
    this.ws.send(encodeFrame(frame));
  }

  subscribed(subscribe, epoch, offset, flags = 0) {
    this.send({ kind: FrameKind.Subscribed, flags, correlationId: subscribe.correlationId, epoch, offset, topic: subscribe.topic });
  }

  message(topic, epoch, offset, flags = 0) {
    this.send({ kind: FrameKind.Message, flags, priority: 2, epoch, offset, timestamp: 1_700_000_000_000n, topic, payload: new TextEncoder().encode(`m${offset}`) });
  }

  error(errorCode, correlationId, text) {
    this.send({ kind: FrameKind.Error, errorCode, correlationId, text });
  }

  /** Drops the connection abruptly (the client sees it closed). */
  drop() {
    this.ws.terminate();
  }
}

export function withTimeout(promise, what, ms = TIMEOUT_MS) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Timed out waiting for ${what}.`)), ms);
    }),
  ]);
}

/** The next `count` messages of a subscription's async iterator. */
export async function take(sub, count) {
  const out = [];
  for (let i = 0; i < count; i++) {
    const { value, done } = await withTimeout(sub.next(), `message ${i + 1} of ${count} on ${sub.topic}`);
    if (done) throw new Error(`${sub.topic} ended after ${i} messages.`);
    out.push(value);
  }
  return out;
}
