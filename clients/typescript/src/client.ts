import { backoffDelay, firstReconnectDelay, goAwayDelay, resolveReconnect, type ReconnectOptions, type ResolvedReconnect } from "./backoff.js";
import { TypedEmitter } from "./emitter.js";
import { GatewayError, toGatewayError } from "./errors.js";
import { readJwtTimes } from "./jwt.js";
import { GatewayMessage } from "./message.js";
import { FrameFlags, FrameKind, PROTOCOL_VERSION, SUBPROTOCOL, toPriority, type PriorityName, type Priority } from "./protocol/constants.js";
import { ErrorCode, ProtocolError, errorInfo } from "./protocol/errors.js";
import type { ConnectedFrame, Frame, FrameInit, MessageFrame, SubscribedFrame } from "./protocol/frames.js";
import { decodeFrames } from "./protocol/reader.js";
import { BROADCAST_TOPIC, USER_PREFIX, encodeTopic } from "./protocol/topics.js";
import { encodeUtf8 } from "./protocol/utf8.js";
import { encodeFrame } from "./protocol/writer.js";
import { Subscription, type DiscontinuityEvent, type RecoveryFailedEvent, type RecoveryIncompleteEvent, type StreamPosition, type SubscriptionOwner } from "./subscription.js";
import { isTcpEndpoint, resolveTcp } from "./tcp.js";
import { resolveWebSocket, type WebSocketConstructor, type WebSocketLike } from "./websocket.js";

/** Why a token is asked for. */
export interface TokenRequest {
  readonly reason: "connect" | "refresh";
  readonly signal: AbortSignal;
}

export interface GatewayClientOptions {
  /**
   * Gateway URL(s): `ws(s)://host:port/ws`, or in Node the raw TCP endpoint `tcp://host:port` (`tcps://` for TLS).
   * Reconnects rotate through them.
   */
  endpoints: string | readonly string[];
  /** A fixed JWT. Use `getToken` instead to refresh tokens before they expire. */
  token?: string;
  /** Returns a (fresh) JWT; called on every connect and before the current token expires. */
  getToken?: (request: TokenRequest) => string | Promise<string>;
  /** Client name sent in the Connect frame (default "archmesh-ts"). */
  clientName?: string;
  /** Jittered exponential backoff across the endpoint list. */
  reconnect?: ReconnectOptions;
  /**
   * Whether the first connect keeps retrying (rounds over the endpoints with the reconnect backoff, up to
   * `reconnect.maxAttempts`) instead of failing after one round (default false, like the .NET client).
   */
  retryInitialConnect?: boolean;
  /** Ping interval when idle (default: the interval the gateway announces in Connected, else 15 s). */
  heartbeatMs?: number;
  /** The connection is considered dead when nothing was received for this long (default 2 × heartbeat + 2 s). */
  heartbeatTimeoutMs?: number;
  /** Bound of one connection attempt: socket open + Connected (default 15 s). */
  connectTimeoutMs?: number;
  /** Default bound of subscribe/publish/unsubscribe round trips (default 30 s). */
  requestTimeoutMs?: number;
  /** Refresh the token this long before it expires (default 60 s, at most half its lifetime). */
  refreshBeforeExpiryMs?: number;
  /** Largest frame body accepted from the gateway (default 1 MiB). */
  maxIncomingFrameLength?: number;
  /** Aborts the initial connect; aborting later closes the client. */
  signal?: AbortSignal;
  /** WebSocket implementation (default: global WebSocket, else the `ws` package). */
  WebSocket?: WebSocketConstructor;
}

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "closed";

/** What the gateway said in Connected, plus the endpoint used. */
export interface ConnectionInfo {
  readonly endpoint: string;
  readonly connectionId: string;
  readonly nodeId: string;
  readonly userId: string;
  readonly heartbeatMs: number;
  readonly maxFrameLength: number;
  readonly maxSubscriptions: number;
}

export interface GatewayClientEvents {
  /** Every state change. */
  state: { readonly state: ConnectionState; readonly previous: ConnectionState };
  /** Each successful (re)connect. */
  connected: ConnectionInfo;
  /** A connection ended; `willReconnect` tells whether the client tries again. */
  disconnected: { readonly error?: GatewayError; readonly closeCode?: number; readonly reason?: string; readonly willReconnect: boolean };
  /** A reconnect attempt is scheduled. */
  reconnecting: { readonly attempt: number; readonly delayMs: number; readonly endpoint: string };
  /** The gateway asked the client to reconnect elsewhere after `delayMs`. */
  goAway: { readonly delayMs: number; readonly reason: string };
  /** A subscription could not be recovered after a reconnect: refetch state. */
  recoveryFailed: RecoveryFailedEvent & { readonly subscription: Subscription };
  /** A subscription's recovery had started but could not be completed (`recovery_incomplete`): refetch state. */
  recoveryIncomplete: RecoveryIncompleteEvent & { readonly subscription: Subscription };
  /** Any subscription's discontinuity (recoveryFailed, recoveryIncomplete, gap, epochChanged); see Subscription events. */
  discontinuity: DiscontinuityEvent & { readonly subscription: Subscription };
  /** Every message surfaced (including topics without a local subscription). */
  message: GatewayMessage;
  /** The token was refreshed on the live connection. */
  tokenRefreshed: { readonly expiresAt: Date };
  /** Errors not tied to a request (unsolicited Error frames, failed token refreshes). */
  error: GatewayError;
  /** The client stopped for good (close() or a terminal error). */
  closed: { readonly error?: GatewayError };
}

/** Result of an acknowledged publish. */
export interface PublishResult {
  readonly topic: string;
  readonly epoch: bigint;
  readonly offset: bigint;
}

export type Payload = Uint8Array | ArrayBuffer | ArrayBufferView | string;

export interface PublishOptions {
  /** "critical" | "high" | "normal" (default) | "low" (or the wire value 0-3). */
  priority?: PriorityName | Priority;
  signal?: AbortSignal;
  /** Overrides requestTimeoutMs. */
  timeoutMs?: number;
}

export interface SubscribeOptions {
  signal?: AbortSignal;
  /** Resume from a known position (e.g. persisted by the app): the gateway replays what came after it, or reports "notRecovered". */
  from?: StreamPosition;
  /** Overrides requestTimeoutMs for the first Subscribed. */
  timeoutMs?: number;
}

interface CloseInfo {
  readonly code?: number;
  readonly reason?: string;
  readonly error?: GatewayError;
}

interface Pending {
  readonly resolve: (frame: Frame) => void;
  readonly reject: (error: GatewayError) => void;
}

/** One WebSocket connection attempt / live connection. */
class Link {
  ready = false;
  dead = false;
  error: GatewayError | undefined;
  info: ConnectionInfo | undefined;
  lastReceived = Date.now();
  lastSent = Date.now();
  goAwayUntil: number | undefined;
  /** The reconnect delay the GoAway hinted (ms). */
  goAwayHintMs = 0;
  readonly pending = new Map<number, Pending>();
  readonly pings = new Map<bigint, () => void>();
  readonly timers: ReturnType<typeof setTimeout>[] = [];
  readonly closed: Promise<CloseInfo>;
  private resolveClosed!: (info: CloseInfo) => void;

  constructor(
    readonly ws: WebSocketLike,
    readonly endpoint: string,
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  send(frame: FrameInit): void {
    if (this.dead) throw GatewayError.client("connection_lost", "The connection is closed.");
    this.ws.send(encodeFrame(frame));
    this.lastSent = Date.now();
  }

  /** Marks the link as finished (idempotent) and releases everything tied to it. */
  finish(info: CloseInfo): void {
    if (this.dead) return;
    this.dead = true;
    for (const t of this.timers) clearTimeout(t);
    const error = info.error ?? GatewayError.client("connection_lost", "The connection was lost before the answer arrived; the outcome is unknown.");
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
    this.pings.clear();
    this.resolveClosed(info);
  }

  /** Drops the socket without waiting for a close handshake (dead peer, go-away, client close). */
  abandon(info: CloseInfo, code = 1000, reason = ""): void {
    const ws = this.ws;
    ws.onmessage = null;
    ws.onopen = null;
    ws.onclose = null;
    ws.onerror = () => undefined;
    if (info.error?.name === "heartbeat_timeout" && ws.terminate) ws.terminate();
    else {
      // Browsers only accept 1000 and 3000-4999 from applications.
      const allowed = code === 1000 || (code >= 3000 && code <= 4999);
      try {
        ws.close(allowed ? code : 1000, reason.slice(0, 100));
      } catch {
        try {
          ws.close();
        } catch {
          ws.terminate?.();
        }
      }
    }
    this.finish(info);
  }
}

const CLIENT_NAME = "archmesh-ts";
/** A connection that lived this long counts as stable (resets the reconnect backoff). */
const STABLE_AFTER_MS = 10_000;
/** A recovery replay that stops short of the announced position for this long is renewed. */
const REPLAY_IDLE_MS = 1_000;
const MAX_TIMER_MS = 2_147_483_647;

function unref(timer: ReturnType<typeof setTimeout>): ReturnType<typeof setTimeout> {
  (timer as unknown as { unref?: () => void }).unref?.();
  return timer;
}

function toBytes(payload: Payload): Uint8Array {
  if (typeof payload === "string") return encodeUtf8(payload);
  if (payload instanceof Uint8Array) return payload;
  if (payload instanceof ArrayBuffer) return new Uint8Array(payload);
  if (ArrayBuffer.isView(payload)) return new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
  throw new TypeError("payload must be a string, Uint8Array, ArrayBuffer or ArrayBufferView (use publishJson for objects).");
}

function bytesOf(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (Array.isArray(data)) {
    // `ws` fragments (binaryType "fragments")
    const parts = data.filter((p): p is Uint8Array => ArrayBuffer.isView(p)) as Uint8Array[];
    const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
  return undefined;
}

/**
 * Client of the ArchMesh gateway: one long-lived WebSocket (subprotocol `archmesh.v1`) with automatic
 * reconnect (jittered exponential backoff across endpoints), resubscribe + recovery, heartbeats, go-away
 * handling and token refresh.
 */
export class GatewayClient extends TypedEmitter<GatewayClientEvents> implements SubscriptionOwner {
  private readonly endpoints: readonly string[];
  private readonly options: GatewayClientOptions;
  private readonly policy: ResolvedReconnect;
  private readonly lifetime = new AbortController();
  private readonly subs = new Map<string, Subscription>();
  private readonly pendingAcks = new Map<string, Set<bigint>>();
  private readonly ackedOffsets = new Map<string, Set<bigint>>();
  private connectedWaiters: { resolve: (link: Link) => void; reject: (e: unknown) => void }[] = [];
  private link: Link | undefined;
  private currentState: ConnectionState = "connecting";
  private endpointIndex = 0;
  private correlation = 0;
  private pingNonce = 0n;
  private token: string | undefined;
  private tokenExpiresAt: number | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private closeError: GatewayError | undefined;
  private runner: Promise<void> | undefined;
  private userTopic: string | undefined;
  private notificationsSub: Subscription | undefined;
  private readonly broadcastSub: Subscription;
  private detachSignal: (() => void) | undefined;

  /** Creates a client without connecting; call {@link start} (or use {@link GatewayClient.connect}). */
  constructor(options: GatewayClientOptions) {
    super();
    const endpoints = typeof options.endpoints === "string" ? [options.endpoints] : [...options.endpoints];
    if (endpoints.length === 0) throw new TypeError("At least one endpoint is required.");
    for (const endpoint of endpoints) {
      let url: URL;
      try {
        url = new URL(endpoint);
      } catch {
        throw new TypeError(`Invalid endpoint URL "${endpoint}".`);
      }
      if (!["ws:", "wss:", "tcp:", "tcps:"].includes(url.protocol)) {
        throw new TypeError(`Endpoint "${endpoint}" must be a ws://, wss:// (or, in Node, tcp://, tcps://) URL.`);
      }
    }
    if (options.token === undefined && options.getToken === undefined) throw new TypeError("Either token or getToken is required.");
    this.endpoints = endpoints;
    this.options = options;
    this.policy = resolveReconnect(options.reconnect);
    this.token = options.token;
    this.broadcastSub = new Subscription(this, BROADCAST_TOPIC, true);
    const signal = options.signal;
    if (signal) {
      if (signal.aborted) void this.shutdown(undefined);
      else {
        const onAbort = (): void => void this.close();
        signal.addEventListener("abort", onAbort, { once: true });
        this.detachSignal = () => signal.removeEventListener("abort", onAbort);
      }
    }
  }

  /** Connects (resolving once the gateway answered Connected) and keeps the connection up until close(). */
  static async connect(options: GatewayClientOptions): Promise<GatewayClient> {
    const client = new GatewayClient(options);
    await client.start();
    return client;
  }

  /** Starts the connection loop; resolves on the first Connected, rejects on a terminal error or abort. */
  async start(): Promise<void> {
    if (!this.runner) {
      this.runner = this.run();
      this.runner.catch(() => undefined);
    }
    await this.waitConnected(this.options.signal);
  }

  /** Current connection state. */
  get state(): ConnectionState {
    return this.currentState;
  }

  /** What the gateway said on the current connection (undefined while disconnected). */
  get connection(): ConnectionInfo | undefined {
    return this.link?.ready && !this.link.dead ? this.link.info : undefined;
  }

  /** The authenticated user id (known after the first connect). */
  get userId(): string | undefined {
    return this.userTopic?.slice(USER_PREFIX.length);
  }

  /**
   * The notifications of the authenticated user (`user:{id}`, subscribed automatically by the gateway).
   * Pending notifications are redelivered on every connect until acked; ack them with `client.ack(msg)`.
   */
  notifications(): Subscription {
    if (!this.notificationsSub) throw GatewayError.client("protocol_violation", "The user is not known before the first connect.");
    return this.notificationsSub;
  }

  /** Messages on `broadcast`, delivered to every connection without subscribing. */
  broadcasts(): Subscription {
    return this.broadcastSub;
  }

  /**
   * Subscribes to a topic; resolves once the gateway confirmed (rejects with GatewayError "forbidden",
   * "too_many_subscriptions", ...). After a reconnect the subscription is renewed from the last position
   * seen; `sub.recovery` and the `recoveryFailed` events tell whether every missed message was replayed.
   */
  async subscribe(topic: string, options: SubscribeOptions = {}): Promise<Subscription> {
    this.throwIfClosed();
    try {
      encodeTopic(topic);
    } catch (error) {
      throw toGatewayError(error);
    }
    if (topic === BROADCAST_TOPIC) return this.broadcastSub;
    if (this.userTopic !== undefined && topic === this.userTopic) return this.notifications();
    if (this.subs.has(topic)) throw new GatewayError(ErrorCode.AlreadySubscribed, `Already subscribed to ${topic}.`);
    const sub = new Subscription(this, topic, false, options.from);
    this.subs.set(topic, sub);
    const link = this.liveLink();
    if (link) this.sendSubscribe(link, sub);
    const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs ?? 30_000;
    try {
      await this.bounded(sub.ready, options.signal, timeoutMs, `Subscribe to ${topic}`);
    } catch (error) {
      if (this.subs.get(topic) === sub) {
        this.subs.delete(topic);
        const live = this.liveLink();
        if (live) this.trySend(live, { kind: FrameKind.Unsubscribe, correlationId: this.nextCorrelation(), topic });
      }
      sub.end(error instanceof GatewayError ? error : undefined);
      throw error;
    }
    if (options.signal) {
      const signal = options.signal;
      const onAbort = (): void => void sub.unsubscribe().catch(() => undefined);
      signal.addEventListener("abort", onAbort, { once: true });
      sub.on("closed", () => signal.removeEventListener("abort", onAbort));
    }
    return sub;
  }

  /** @internal Subscription.unsubscribe() */
  async unsubscribe(sub: Subscription): Promise<void> {
    if (sub.builtin) throw new GatewayError(ErrorCode.NotSubscribed, `${sub.topic} cannot be unsubscribed.`);
    if (this.subs.get(sub.topic) !== sub) {
      sub.end();
      return;
    }
    this.subs.delete(sub.topic);
    sub.end();
    const link = this.liveLink();
    if (!link) return;
    const correlationId = this.nextCorrelation();
    const answer = this.request(link, correlationId, { kind: FrameKind.Unsubscribe, correlationId, topic: sub.topic });
    try {
      await this.bounded(answer, undefined, this.options.requestTimeoutMs ?? 30_000, `Unsubscribe from ${sub.topic}`);
    } catch (error) {
      const e = toGatewayError(error);
      // Not subscribed / connection lost: the gateway holds no subscription either way.
      if (e.code !== ErrorCode.NotSubscribed && e.name !== "connection_lost") throw e;
    }
  }

  /**
   * Publishes a payload (bytes or UTF-8 text) and resolves with the assigned (epoch, offset) once the gateway
   * acknowledged it. Rejects with GatewayError: "forbidden", "payload_too_large", "overloaded" (retryable),
   * "rate_limited" (retryable), "timeout", or "connection_lost" (retryable; the outcome is unknown). While
   * reconnecting, the publish waits for the connection (bounded by the timeout / signal).
   */
  async publish(topic: string, payload: Payload, options: PublishOptions = {}): Promise<PublishResult> {
    this.throwIfClosed();
    let priority: Priority;
    let bytes: Uint8Array;
    try {
      encodeTopic(topic);
      priority = toPriority(options.priority);
      bytes = toBytes(payload);
    } catch (error) {
      if (error instanceof ProtocolError) throw GatewayError.fromProtocol(error);
      throw error;
    }
    const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    const link = await this.bounded(this.waitConnected(options.signal), options.signal, timeoutMs, `Publish to ${topic}`);
    const correlationId = this.nextCorrelation();
    const frame: FrameInit = { kind: FrameKind.Publish, correlationId, priority, topic, payload: bytes };
    const max = link.info?.maxFrameLength ?? 0;
    if (max > 0) {
      const body = 4 + 1 + 1 + encodeUtf8(topic).length + bytes.length;
      if (body > max) {
        throw new GatewayError(ErrorCode.PayloadTooLarge, `The publish frame (${body} bytes) exceeds the gateway's maximum frame length ${max}.`);
      }
    }
    const answer = this.request(link, correlationId, frame);
    const ack = await this.bounded(answer, options.signal, Math.max(1, deadline - Date.now()), `Publish to ${topic}`, () => link.pending.delete(correlationId));
    if (ack.kind !== FrameKind.PublishAck) throw GatewayError.client("protocol_violation", `Unexpected answer ${ack.kind} to Publish.`);
    return { topic, epoch: ack.epoch, offset: ack.offset };
  }

  /** Publishes a value as JSON (UTF-8). */
  publishJson(topic: string, value: unknown, options: PublishOptions = {}): Promise<PublishResult> {
    return this.publish(topic, JSON.stringify(value), options);
  }

  /** Round trip to the gateway (Ping/Pong); resolves with the time in milliseconds. */
  async ping(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<number> {
    this.throwIfClosed();
    const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs ?? 30_000;
    const link = await this.bounded(this.waitConnected(options.signal), options.signal, timeoutMs, "Ping");
    this.pingNonce = (this.pingNonce + 1n) & 0xffffffffffffffffn;
    const nonce = this.pingNonce;
    const started = performanceNow();
    const pong = new Promise<void>((resolve, reject) => {
      link.pings.set(nonce, resolve);
      if (!this.trySend(link, { kind: FrameKind.Ping, nonce })) reject(GatewayError.client("connection_lost", "The connection is closed."));
      link.closed.then(() => reject(GatewayError.client("connection_lost", "The connection was lost before the Pong arrived.")), () => undefined);
    });
    await this.bounded(pong, options.signal, timeoutMs, "Ping", () => link.pings.delete(nonce));
    return performanceNow() - started;
  }

  /**
   * Refreshes the token now on the live connection (getToken, then a Refresh frame); resolves with the new
   * expiry. The client also does this by itself before the token expires when `getToken` is set.
   */
  async refreshToken(options: { signal?: AbortSignal } = {}): Promise<Date> {
    this.throwIfClosed();
    if (!this.options.getToken) throw new TypeError("refreshToken() needs the getToken option.");
    const link = await this.bounded(this.waitConnected(options.signal), options.signal, this.options.requestTimeoutMs ?? 30_000, "Token refresh");
    return this.refreshOn(link, options.signal);
  }

  /**
   * Acknowledges a notification so that it is not redelivered. Sent at once when connected, otherwise on
   * the next connect. Accepts a message or (topic, offset).
   */
  ack(message: GatewayMessage): void;
  ack(topic: string, offset: bigint): void;
  ack(messageOrTopic: GatewayMessage | string, offset?: bigint): void {
    const topic = typeof messageOrTopic === "string" ? messageOrTopic : messageOrTopic.topic;
    const at = typeof messageOrTopic === "string" ? offset : messageOrTopic.offset;
    if (at === undefined) throw new TypeError("ack(topic, offset) needs an offset.");
    this.throwIfClosed();
    remember(this.ackedOffsets, topic, at);
    const link = this.liveLink();
    if (link && this.trySend(link, { kind: FrameKind.Ack, offset: at, topic })) return;
    remember(this.pendingAcks, topic, at);
  }

  /** Closes the connection and ends every subscription; pending requests reject with "client_closed". */
  async close(): Promise<void> {
    if (this.currentState === "closed") return;
    await this.shutdown(undefined);
  }

  // ---------------------------------------------------------------- connection loop

  private async run(): Promise<void> {
    let failures = 0; // consecutive failed attempts; a round is one attempt per endpoint
    let drops = 0; // consecutive connections (the last one included) that ended before they were stable
    let everConnected = false;
    let delayMs = 0;
    const endpoints = this.endpoints.length;
    while (!this.lifetime.signal.aborted) {
      const endpoint = this.endpoints[this.endpointIndex % endpoints] as string;
      if (delayMs > 0) {
        this.emit("reconnecting", { attempt: failures, delayMs, endpoint });
        try {
          await sleep(delayMs, this.lifetime.signal);
        } catch {
          break;
        }
      }
      let link: Link;
      try {
        link = await this.open(endpoint);
      } catch (error) {
        if (this.lifetime.signal.aborted) break;
        const e = toGatewayError(error);
        if (this.isTerminal(e)) {
          await this.shutdown(e);
          break;
        }
        failures++;
        this.endpointIndex++;
        const rounds = Math.floor(failures / endpoints);
        const roundDone = failures % endpoints === 0;
        if (roundDone && ((!everConnected && !this.options.retryInitialConnect) || rounds >= this.policy.maxAttempts)) {
          const what = everConnected ? `Could not reconnect after ${rounds} round(s) over ${endpoints} endpoint(s)` : `No gateway endpoint accepted the connection`;
          await this.shutdown(GatewayError.client("connect_failed", `${what}: ${e.message}`, e));
          break;
        }
        // The next endpoint of the round at once; backoff between rounds.
        delayMs = roundDone ? backoffDelay(rounds - 1, this.policy) : 0;
        continue;
      }
      everConnected = true;
      failures = 0;
      const connectedAt = Date.now();
      const info = await link.closed;
      if (this.lifetime.signal.aborted) break;
      // A connection that lived long enough resets the backoff; one dropped right away (a flapping node,
      // a node that drains on connect) does not, so a client never hammers a node at the initial delay.
      drops = Date.now() - connectedAt >= STABLE_AFTER_MS ? 1 : drops + 1;
      this.link = undefined;
      this.clearRefresh();
      const terminal = info.error !== undefined && this.isTerminal(info.error);
      const willReconnect = this.policy.enabled && !terminal;
      this.emit("disconnected", { error: info.error, closeCode: info.code, reason: info.reason, willReconnect });
      if (!willReconnect) {
        await this.shutdown(info.error ?? GatewayError.client("connection_lost", "The connection was closed and reconnect is disabled."));
        break;
      }
      this.setState("reconnecting");
      // Start with the endpoint after the one that was lost (GoAway means "go elsewhere"; a dead node is
      // tried last). Behind a load balancer there is one endpoint: the balancer picks a live node. The first
      // attempt is spread so that a dead node's clients do not come back as one burst: a GoAway waits what is
      // left of the gateway's (already spread) hint, a drop a draw from [0, firstReconnectWindowMs).
      this.endpointIndex++;
      delayMs =
        link.goAwayUntil !== undefined
          ? goAwayDelay(link.goAwayHintMs, link.goAwayUntil - Date.now(), drops, this.policy)
          : firstReconnectDelay(drops, this.policy);
      if (delayMs <= 0) this.emit("reconnecting", { attempt: 0, delayMs: 0, endpoint: this.endpoints[this.endpointIndex % endpoints] as string });
    }
  }

  /** Whether reconnecting cannot help. */
  private isTerminal(error: GatewayError): boolean {
    if (error.code === ErrorCode.Unauthorized || error.code === ErrorCode.TokenExpired) return this.options.getToken === undefined;
    if (error.code === ErrorCode.UnsupportedVersion) return true;
    return false;
  }

  private async open(endpoint: string): Promise<Link> {
    const signal = this.lifetime.signal;
    let token: string;
    try {
      token = await this.currentToken("connect");
    } catch (error) {
      if (error instanceof GatewayError || signal.aborted) throw error;
      throw GatewayError.client("connect_failed", `getToken failed: ${error instanceof Error ? error.message : String(error)}`, error);
    }
    const WS = isTcpEndpoint(endpoint) ? await resolveTcp() : await resolveWebSocket(this.options.WebSocket);
    if (signal.aborted) throw signal.reason;
    const timeoutMs = this.options.connectTimeoutMs ?? 15_000;
    return new Promise<Link>((resolve, reject) => {
      let ws: WebSocketLike;
      try {
        ws = new WS(endpoint, SUBPROTOCOL);
      } catch (error) {
        reject(GatewayError.client("connect_failed", `Cannot open ${endpoint}: ${(error as Error).message}`, error));
        return;
      }
      ws.binaryType = "arraybuffer";
      const link = new Link(ws, endpoint);
      let settled = false;
      const fail = (error: GatewayError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        link.abandon({ error }, 1000);
        reject(error);
      };
      const onAbort = (): void => fail(GatewayError.client("client_closed", "The client was closed."));
      signal.addEventListener("abort", onAbort, { once: true });
      const timer = setTimeout(() => fail(GatewayError.client("timeout", `No Connected from ${endpoint} within ${timeoutMs} ms.`)), timeoutMs);

      ws.onopen = () => {
        if (ws.protocol !== SUBPROTOCOL) {
          fail(new GatewayError(ErrorCode.UnsupportedVersion, `The server did not select the subprotocol ${SUBPROTOCOL} (got "${ws.protocol}").`));
          return;
        }
        try {
          link.send({ kind: FrameKind.Connect, version: PROTOCOL_VERSION, token, clientName: this.options.clientName ?? CLIENT_NAME, resumeToken: "" });
        } catch (error) {
          fail(toGatewayError(error));
        }
      };
      let errorText = "";
      ws.onerror = (event) => {
        // A close event follows; keep what the implementation says (`ws` gives e.g. "Unexpected server response: 403").
        const message = (event as { message?: unknown; error?: { message?: unknown } }).message ?? (event as { error?: { message?: unknown } }).error?.message;
        if (typeof message === "string") errorText = message;
      };
      ws.onclose = (event) => {
        const error = link.error ?? GatewayError.fromCloseCode(event.code, event.reason);
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          signal.removeEventListener("abort", onAbort);
          link.finish({ code: event.code, reason: event.reason, error });
          reject(error ?? GatewayError.client("connect_failed", `Connection to ${endpoint} closed (${event.code}${event.reason ? ` ${event.reason}` : ""}) before Connected${errorText ? `: ${errorText}` : ""}.`));
          return;
        }
        link.finish({ code: event.code, reason: event.reason, error });
      };
      ws.onmessage = (event) => {
        if (link.dead) return;
        link.lastReceived = Date.now();
        const bytes = bytesOf(event.data);
        let frames: Frame[];
        try {
          if (!bytes) throw new ProtocolError(ErrorCode.TextNotSupported, "Text WebSocket messages are not part of the protocol.");
          frames = decodeFrames(bytes, { maxFrameLength: this.options.maxIncomingFrameLength ?? 1024 * 1024 });
        } catch (error) {
          const e = toGatewayError(error);
          if (!settled) fail(e);
          else {
            link.abandon({ error: e }, errorInfo(e.code).closeCode || 1002, e.name);
          }
          return;
        }
        for (const frame of frames) {
          if (link.dead) return;
          if (link.ready) {
            this.handleFrame(link, frame);
            continue;
          }
          if (frame.kind === FrameKind.Connected) {
            settled = true;
            clearTimeout(timer);
            signal.removeEventListener("abort", onAbort);
            this.onConnected(link, frame);
            resolve(link);
          } else if (frame.kind === FrameKind.Error) {
            link.error = new GatewayError(frame.errorCode, frame.text || errorInfo(frame.errorCode).description, { correlationId: frame.correlationId });
            fail(link.error);
            return;
          } else if (frame.kind === FrameKind.Ping) {
            this.trySend(link, { kind: FrameKind.Pong, nonce: frame.nonce });
          } else {
            fail(new GatewayError(ErrorCode.UnexpectedFrame, `Frame kind ${frame.kind} before Connected.`));
            return;
          }
        }
      };
    });
  }

  /** Runs synchronously inside the message handler, so frames batched after Connected see the new state. */
  private onConnected(link: Link, frame: ConnectedFrame): void {
    link.ready = true;
    link.info = {
      endpoint: link.endpoint,
      connectionId: frame.connectionId,
      nodeId: frame.nodeId,
      userId: frame.userId,
      heartbeatMs: frame.heartbeatMs,
      maxFrameLength: frame.maxFrameLength,
      maxSubscriptions: frame.maxSubscriptions,
    };
    this.link = link;
    if (frame.userId) {
      const userTopic = USER_PREFIX + frame.userId;
      if (this.userTopic !== userTopic) {
        this.notificationsSub?.end();
        this.userTopic = userTopic;
        this.notificationsSub = new Subscription(this, userTopic, true);
      }
    }
    this.startHeartbeat(link, frame.heartbeatMs);
    this.scheduleRefresh(link);
    // Resubscribe everything from the last position seen (Recover flag), in subscription order.
    for (const sub of this.subs.values()) this.sendSubscribe(link, sub);
    for (const [topic, offsets] of this.pendingAcks) {
      for (const offset of offsets) this.trySend(link, { kind: FrameKind.Ack, offset, topic });
    }
    this.pendingAcks.clear();
    this.setState("connected");
    this.emit("connected", link.info);
    for (const waiter of this.connectedWaiters.splice(0)) waiter.resolve(link);
  }

  private handleFrame(link: Link, frame: Frame): void {
    switch (frame.kind) {
      case FrameKind.Message:
        this.onMessage(link, frame);
        return;
      case FrameKind.Subscribed:
        this.onSubscribed(link, frame);
        return;
      case FrameKind.PublishAck:
      case FrameKind.Unsubscribed:
      case FrameKind.Refreshed:
        this.settle(link, frame.correlationId, frame);
        return;
      case FrameKind.Ping:
        this.trySend(link, { kind: FrameKind.Pong, nonce: frame.nonce });
        return;
      case FrameKind.Pong: {
        const resolve = link.pings.get(frame.nonce);
        link.pings.delete(frame.nonce);
        resolve?.();
        return;
      }
      case FrameKind.Error: {
        const error = new GatewayError(frame.errorCode, frame.text || errorInfo(frame.errorCode).description, { correlationId: frame.correlationId });
        if (frame.errorCode === ErrorCode.RecoveryIncomplete && frame.correlationId !== 0) {
          // Follows Subscribed(Recovered) and part of the replay, with that (already answered) Subscribe's id.
          for (const sub of this.subs.values()) {
            if (sub.answeredCorrelation === frame.correlationId) {
              this.onRecoveryIncomplete(sub, frame.text);
              return;
            }
          }
          this.emit("error", error);
          return;
        }
        if (frame.correlationId !== 0 && this.failRequest(link, frame.correlationId, error)) return;
        if (error.fatal) link.error = error;
        else this.emit("error", error);
        return;
      }
      case FrameKind.GoAway: {
        link.goAwayUntil = Date.now() + frame.reconnectDelayMs;
        link.goAwayHintMs = frame.reconnectDelayMs;
        this.emit("goAway", { delayMs: frame.reconnectDelayMs, reason: frame.text });
        // Keep receiving until the hinted time (the gateway flushes its queues), then move on.
        link.timers.push(
          setTimeout(() => {
            if (!link.dead) link.abandon({ code: 1000, reason: "go away", error: new GatewayError(ErrorCode.ServerShuttingDown, frame.text || "The gateway asked to reconnect elsewhere.") }, 1000, "go away");
          }, frame.reconnectDelayMs),
        );
        return;
      }
      default:
        link.abandon({ error: new GatewayError(ErrorCode.UnexpectedFrame, `Unexpected frame kind ${frame.kind} from the gateway.`) }, 1008, "unexpected_frame");
    }
  }

  private onMessage(link: Link, frame: MessageFrame): void {
    const sub = this.subs.get(frame.topic) ?? (frame.topic === this.userTopic ? this.notificationsSub : frame.topic === BROADCAST_TOPIC ? this.broadcastSub : undefined);
    const message = new GatewayMessage(frame, this);
    if (sub) {
      const verdict = this.accept(sub, message);
      if (sub.replayUntil !== undefined) {
        if (sub.lastSurfaced && sub.lastSurfaced.offset >= sub.replayUntil) this.stopReplayWatch(sub);
        else this.watchReplay(link, sub);
      }
      if (verdict === "duplicate") sub.duplicatesDropped++;
      if (verdict !== "surface") return;
      sub.deliver(message);
    }
    this.emit("message", message);
  }

  /**
   * A recovery replays every message up to the position announced in Subscribed. If the replay stops short
   * (the tail was shed on a slow connection, so no later message reveals the gap), renew the subscription
   * from the last position surfaced once the topic has been quiet for REPLAY_IDLE_MS.
   */
  private watchReplay(link: Link, sub: Subscription): void {
    if (sub.replayTimer !== undefined) clearTimeout(sub.replayTimer);
    sub.replayTimer = setTimeout(() => {
      sub.replayTimer = undefined;
      const until = sub.replayUntil;
      if (until === undefined || sub.closed || link.dead || sub.repairing || this.subs.get(sub.topic) !== sub) return;
      if (sub.lastSurfaced && sub.lastSurfaced.offset >= until) {
        sub.replayUntil = undefined;
        return;
      }
      sub.gapsDetected++;
      const from = sub.lastSurfaced ?? sub.resumeFrom;
      const recovering = this.repair(sub);
      if (from) {
        sub.notify("gap", { topic: sub.topic, from, to: undefined, missed: until - from.offset, recovering });
        this.discontinuity(sub, { kind: "gap", from, to: undefined, missed: until - from.offset, recovering, message: "a recovery replay stopped short — recovering the rest" });
      }
    }, REPLAY_IDLE_MS);
    link.timers.push(sub.replayTimer);
    if (link.timers.length > 64) link.timers.splice(0, link.timers.length - 16);
  }

  private stopReplayWatch(sub: Subscription): void {
    sub.replayUntil = undefined;
    if (sub.replayTimer !== undefined) clearTimeout(sub.replayTimer);
    sub.replayTimer = undefined;
  }

  /**
   * Decides what to do with a message of a subscription:
   * - "duplicate": at or below the last position surfaced (replay overlap, redelivered notification);
   * - "hold": a gap was seen (offsets are contiguous in an epoch, so messages were shed on a slow connection):
   *   the subscription is renewed with Recover from the last position surfaced, and everything after it
   *   arrives again in order; messages received meanwhile are dropped;
   * - "surface": hand it to the application.
   */
  private accept(sub: Subscription, message: GatewayMessage): "surface" | "duplicate" | "hold" {
    if (message.isNotification && sub.builtin) {
      // Pending notifications are redelivered (Replayed) on every connect until acked: surface each once.
      const key = message.epoch * (1n << 64n) + message.offset;
      if (sub.seenOffsets.has(key)) {
        if (this.ackedOffsets.get(message.topic)?.has(message.offset)) {
          const link = this.liveLink();
          if (link) this.trySend(link, { kind: FrameKind.Ack, offset: message.offset, topic: message.topic });
        }
        return "duplicate";
      }
      sub.seenOffsets.add(key);
      if (sub.seenOffsets.size > 100_000) sub.seenOffsets.delete(sub.seenOffsets.values().next().value as bigint);
    } else {
      if (sub.repairing) return "hold";
      const last = sub.lastSurfaced;
      if (last && message.epoch === last.epoch && message.offset <= last.offset) return "duplicate";
      const expected = last ?? sub.resumeFrom;
      const to: StreamPosition = { epoch: message.epoch, offset: message.offset };
      if (expected && !message.retained && !sub.continuityUnknown) {
        if (message.epoch !== expected.epoch) {
          // The topic's history was reset: old positions mean nothing, nothing can be recovered.
          sub.gapPending = true;
          sub.notify("epochChanged", { topic: sub.topic, from: expected, to });
          this.discontinuity(sub, { kind: "epochChanged", from: expected, to, missed: 0n, recovering: false, message: "the topic's epoch changed — refetch state" });
        } else if (message.offset > expected.offset + 1n) {
          sub.gapsDetected++;
          const missed = message.offset - expected.offset - 1n;
          const recovering = !sub.builtin && this.repair(sub);
          sub.notify("gap", { topic: sub.topic, from: expected, to, missed, recovering });
          this.discontinuity(sub, { kind: "gap", from: expected, to, missed, recovering, message: recovering ? "messages were shed — recovering them" : "messages were shed — refetch state" });
          if (recovering) return "hold";
          // Cannot be recovered (broadcast, or no live connection): surface it, flagged.
          sub.gapPending = true;
        }
      }
      sub.continuityUnknown = false;
    }
    sub.lastSurfaced = { epoch: message.epoch, offset: message.offset };
    sub.resumeFrom = sub.lastSurfaced;
    if (sub.gapPending) {
      message.afterGap = true;
      sub.gapPending = false;
    }
    return "surface";
  }

  /** Renews a subscription with Recover from its last surfaced position (Unsubscribe, then Subscribe). */
  private repair(sub: Subscription): boolean {
    const link = this.liveLink();
    if (!link) return false;
    sub.repairing = true;
    const correlationId = this.nextCorrelation();
    void this.request(link, correlationId, { kind: FrameKind.Unsubscribe, correlationId, topic: sub.topic })
      .catch(() => undefined)
      .then(() => {
        // A dropped connection resubscribes everything on reconnect anyway.
        if (link.dead || this.liveLink() !== link || this.subs.get(sub.topic) !== sub) return;
        this.sendSubscribe(link, sub);
      });
    return true;
  }

  /** Emits a discontinuity on the subscription and the client. */
  private discontinuity(sub: Subscription, event: Omit<DiscontinuityEvent, "topic" | "refetch">): void {
    const full: DiscontinuityEvent = { topic: sub.topic, ...event, refetch: !event.recovering };
    sub.notify("discontinuity", full);
    this.emit("discontinuity", { ...full, subscription: sub });
  }

  /** Error recovery_incomplete with the correlation id of the Subscribe that was answered Recovered. */
  private onRecoveryIncomplete(sub: Subscription, text: string): void {
    this.stopReplayWatch(sub);
    sub.setRecovery("incomplete");
    sub.continuityUnknown = true;
    sub.gapPending = true;
    const lastReplayed = sub.lastSurfaced ?? sub.resumeFrom;
    const message = text || "the recovery could not be completed — refetch state";
    const event: RecoveryIncompleteEvent = { topic: sub.topic, lastReplayed, message };
    sub.notify("recoveryIncomplete", event);
    this.emit("recoveryIncomplete", { ...event, subscription: sub });
    this.discontinuity(sub, { kind: "recoveryIncomplete", from: lastReplayed, to: undefined, missed: 0n, recovering: false, message });
  }

  private sendSubscribe(link: Link, sub: Subscription): void {
    const correlationId = this.nextCorrelation();
    const from = sub.resumeFrom;
    const frame: FrameInit = from
      ? { kind: FrameKind.Subscribe, flags: FrameFlags.Recover, correlationId, epoch: from.epoch, offset: from.offset, topic: sub.topic }
      : { kind: FrameKind.Subscribe, correlationId, epoch: 0n, offset: 0n, topic: sub.topic };
    link.pending.set(correlationId, {
      resolve: () => undefined, // answered by onSubscribed (which needs the frame flags)
      reject: (error) => {
        if (error.name === "connection_lost" || error.code === ErrorCode.ServerShuttingDown || link.dead) return; // re-sent on reconnect
        // Refused (e.g. forbidden after a token change): the subscription ends.
        if (this.subs.get(sub.topic) === sub) this.subs.delete(sub.topic);
        sub.end(error);
        if (sub.isReady) this.emit("error", error);
      },
    });
    if (!this.trySend(link, frame)) link.pending.delete(correlationId);
  }

  private onSubscribed(link: Link, frame: SubscribedFrame): void {
    const pending = link.pending.get(frame.correlationId);
    link.pending.delete(frame.correlationId);
    const sub = this.subs.get(frame.topic);
    if (!pending || !sub) return;
    sub.repairing = false;
    sub.answeredCorrelation = frame.correlationId;
    sub.continuityUnknown = false;
    this.stopReplayWatch(sub);
    const current: StreamPosition = { epoch: frame.epoch, offset: frame.offset };
    const from = sub.resumeFrom;
    if ((frame.flags & FrameFlags.RecoveryFailed) !== 0 && from) {
      sub.setRecovery("notRecovered");
      sub.gapPending = true;
      if (sub.lastSurfaced && sub.lastSurfaced.epoch !== frame.epoch) sub.lastSurfaced = undefined;
      sub.resumeFrom = current;
      const event: RecoveryFailedEvent = { topic: sub.topic, from, current, message: "could not recover — refetch state" };
      sub.notify("recoveryFailed", event);
      this.emit("recoveryFailed", { ...event, subscription: sub });
      this.discontinuity(sub, { kind: "recoveryFailed", from, to: current, missed: 0n, recovering: false, message: event.message });
    } else if ((frame.flags & FrameFlags.Recovered) !== 0 && from) {
      sub.setRecovery("recovered");
      // The replay runs up to the current position; watch that it arrives completely (see watchReplay).
      if (from.epoch === current.epoch && from.offset < current.offset) {
        sub.replayUntil = current.offset;
        this.watchReplay(link, sub);
      }
      sub.notify("recovered", { topic: sub.topic, from });
    } else {
      sub.setRecovery("fresh");
      sub.resumeFrom = current;
    }
    if (!sub.isReady) {
      sub.isReady = true;
      sub.resolveReady();
    }
  }

  // ---------------------------------------------------------------- requests

  private request(link: Link, correlationId: number, frame: FrameInit): Promise<Frame> {
    return new Promise<Frame>((resolve, reject) => {
      link.pending.set(correlationId, { resolve, reject });
      try {
        link.send(frame);
      } catch (error) {
        link.pending.delete(correlationId);
        reject(toGatewayError(error));
      }
    });
  }

  private settle(link: Link, correlationId: number, frame: Frame): void {
    const pending = link.pending.get(correlationId);
    if (!pending) return;
    link.pending.delete(correlationId);
    pending.resolve(frame);
  }

  private failRequest(link: Link, correlationId: number, error: GatewayError): boolean {
    const pending = link.pending.get(correlationId);
    if (!pending) return false;
    link.pending.delete(correlationId);
    pending.reject(error);
    return true;
  }

  private nextCorrelation(): number {
    this.correlation = (this.correlation % 0xffffffff) + 1;
    return this.correlation;
  }

  private trySend(link: Link, frame: FrameInit): boolean {
    if (link.dead) return false;
    try {
      link.send(frame);
      return true;
    } catch {
      return false;
    }
  }

  private liveLink(): Link | undefined {
    const link = this.link;
    return link && link.ready && !link.dead ? link : undefined;
  }

  private waitConnected(signal?: AbortSignal): Promise<Link> {
    const link = this.liveLink();
    if (link) return Promise.resolve(link);
    if (this.currentState === "closed") return Promise.reject(this.closedError());
    return new Promise<Link>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const waiter = {
        resolve: (l: Link) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(l);
        },
        reject: (e: unknown) => {
          signal?.removeEventListener("abort", onAbort);
          reject(e);
        },
      };
      const onAbort = (): void => {
        this.connectedWaiters = this.connectedWaiters.filter((w) => w !== waiter);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.connectedWaiters.push(waiter);
    });
  }

  /** Races a promise against an abort signal and a timeout. */
  private bounded<T>(promise: Promise<T>, signal: AbortSignal | undefined, timeoutMs: number, what: string, onGiveUp?: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted) {
        onGiveUp?.();
        return reject(signal.reason);
      }
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const onAbort = (): void => {
        done();
        onGiveUp?.();
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        done();
        onGiveUp?.();
        reject(GatewayError.client("timeout", `${what} timed out after ${timeoutMs} ms.`));
      }, Math.min(timeoutMs, MAX_TIMER_MS));
      signal?.addEventListener("abort", onAbort, { once: true });
      promise.then(
        (value) => {
          done();
          resolve(value);
        },
        (error: unknown) => {
          done();
          reject(error);
        },
      );
    });
  }

  // ---------------------------------------------------------------- heartbeats and tokens

  private startHeartbeat(link: Link, serverHeartbeatMs: number): void {
    const interval = this.options.heartbeatMs ?? (serverHeartbeatMs > 0 ? serverHeartbeatMs : 15_000);
    const deadAfter = this.options.heartbeatTimeoutMs ?? interval * 2 + 2_000;
    const tick = (): void => {
      if (link.dead) return;
      const now = Date.now();
      if (now - link.lastReceived >= deadAfter) {
        link.abandon({ error: new GatewayError(0, `Nothing received for ${now - link.lastReceived} ms: the connection is dead.`, { name: "heartbeat_timeout", retryable: true, fatal: true }) }, 4000, "heartbeat timeout");
        return;
      }
      if (now - link.lastSent >= interval || now - link.lastReceived >= interval) {
        this.pingNonce = (this.pingNonce + 1n) & 0xffffffffffffffffn;
        this.trySend(link, { kind: FrameKind.Ping, nonce: this.pingNonce });
      }
      link.timers.push(unref(setTimeout(tick, Math.max(50, Math.min(interval, deadAfter) / 4))));
      if (link.timers.length > 64) link.timers.splice(0, link.timers.length - 8);
    };
    link.timers.push(unref(setTimeout(tick, Math.max(50, Math.min(interval, deadAfter) / 4))));
  }

  private async currentToken(reason: "connect" | "refresh"): Promise<string> {
    const getToken = this.options.getToken;
    if (getToken) {
      const token = await getToken({ reason, signal: this.lifetime.signal });
      if (typeof token !== "string" || token.length === 0) throw GatewayError.client("connect_failed", "getToken returned no token.");
      this.token = token;
      this.tokenExpiresAt = undefined;
    }
    if (this.token === undefined) throw GatewayError.client("connect_failed", "No token.");
    return this.token;
  }

  private clearRefresh(): void {
    if (this.refreshTimer !== undefined) clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
  }

  /** Schedules a Refresh before the token expires (only with getToken). */
  private scheduleRefresh(link: Link, retryInMs?: number): void {
    this.clearRefresh();
    if (!this.options.getToken || this.token === undefined) return;
    let delay = retryInMs;
    if (delay === undefined) {
      const times = readJwtTimes(this.token);
      const expMs = this.tokenExpiresAt ?? (times.exp !== undefined ? times.exp * 1000 : undefined);
      if (expMs === undefined) return;
      const lifetime = times.iat !== undefined ? expMs - times.iat * 1000 : Number.POSITIVE_INFINITY;
      const lead = Math.min(this.options.refreshBeforeExpiryMs ?? 60_000, Math.max(0, lifetime / 2));
      delay = Math.max(0, expMs - lead - Date.now());
    }
    this.refreshTimer = unref(setTimeout(() => void this.refresh(link), Math.min(delay, MAX_TIMER_MS)));
  }

  private async refresh(link: Link): Promise<void> {
    if (link.dead || this.liveLink() !== link) return;
    try {
      await this.refreshOn(link);
    } catch (error) {
      if (link.dead) return;
      this.emit("error", toGatewayError(error));
      this.scheduleRefresh(link, 5_000);
    }
  }

  private async refreshOn(link: Link, signal?: AbortSignal): Promise<Date> {
    const token = await this.currentToken("refresh");
    if (link.dead) throw GatewayError.client("connection_lost", "The connection was lost during the token refresh.");
    const correlationId = this.nextCorrelation();
    const answer = await this.bounded(this.request(link, correlationId, { kind: FrameKind.Refresh, correlationId, token }), signal, this.options.requestTimeoutMs ?? 30_000, "Token refresh", () => link.pending.delete(correlationId));
    if (answer.kind !== FrameKind.Refreshed) throw GatewayError.client("protocol_violation", `Unexpected answer ${answer.kind} to Refresh.`);
    this.tokenExpiresAt = Number(answer.expiresAt) * 1000;
    const expiresAt = new Date(this.tokenExpiresAt);
    this.emit("tokenRefreshed", { expiresAt });
    this.scheduleRefresh(link);
    return expiresAt;
  }

  // ---------------------------------------------------------------- state

  private setState(state: ConnectionState): void {
    const previous = this.currentState;
    if (previous === state) return;
    this.currentState = state;
    this.emit("state", { state, previous });
  }

  private closedError(): GatewayError {
    return this.closeError ?? GatewayError.client("client_closed", "The client is closed.");
  }

  private throwIfClosed(): void {
    if (this.currentState === "closed") throw this.closedError();
  }

  private async shutdown(error: GatewayError | undefined): Promise<void> {
    if (this.currentState === "closed") return;
    this.closeError = error;
    const closedError = this.closedError();
    this.setState("closed");
    this.detachSignal?.();
    this.lifetime.abort(closedError);
    this.clearRefresh();
    const link = this.link;
    this.link = undefined;
    if (link && !link.dead) {
      const done = link.closed;
      link.abandon({ code: 1000, reason: "client closed", error: closedError }, 1000, "client closed");
      await done;
    }
    for (const waiter of this.connectedWaiters.splice(0)) waiter.reject(closedError);
    for (const sub of this.subs.values()) sub.end(error);
    this.subs.clear();
    this.notificationsSub?.end(error);
    this.broadcastSub.end(error);
    this.emit("closed", error ? { error } : {});
  }
}

function remember(map: Map<string, Set<bigint>>, topic: string, offset: bigint): void {
  let set = map.get(topic);
  if (!set) map.set(topic, (set = new Set()));
  set.add(offset);
  if (set.size > 100_000) set.delete(set.values().next().value as bigint);
}

function performanceNow(): number {
  return typeof performance !== "undefined" ? performance.now() : Date.now();
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, Math.min(ms, MAX_TIMER_MS));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
