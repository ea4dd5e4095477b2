import { TypedEmitter } from "./emitter.js";
import type { GatewayError } from "./errors.js";
import type { GatewayMessage } from "./message.js";

/**
 * How the subscription's stream continued after its last (re)subscribe: "fresh" (plain subscribe),
 * "recovered" (every missed message is replayed), "notRecovered" (Subscribed with RecoveryFailed: refetch
 * state), "incomplete" (the replay had started but could not be completed, error `recovery_incomplete`:
 * refetch state).
 */
export type RecoveryStatus = "fresh" | "recovered" | "notRecovered" | "incomplete";

/** A position in a topic stream. */
export interface StreamPosition {
  readonly epoch: bigint;
  readonly offset: bigint;
}

export interface RecoveryFailedEvent {
  readonly topic: string;
  /** The position the client asked to recover from. */
  readonly from: StreamPosition;
  /** The topic's current position reported by the gateway. */
  readonly current: StreamPosition;
  /** Human-readable: "could not recover — refetch state". */
  readonly message: string;
}

/** What kind of discontinuity a {@link DiscontinuityEvent} reports. */
export type DiscontinuityKind = "recoveryFailed" | "recoveryIncomplete" | "gap" | "epochChanged";

/**
 * The stream as the application sees it is not (or not yet) a gapless continuation. `refetch` tells
 * whether the application should refetch the state it derives from the topic (every kind unless the
 * client is repairing a gap itself: `recovering`).
 */
export interface DiscontinuityEvent {
  readonly topic: string;
  readonly kind: DiscontinuityKind;
  /** The last position surfaced (or asked to recover from) before the discontinuity. */
  readonly from: StreamPosition | undefined;
  /**
   * Where the stream continues: the message that revealed a gap or an epoch change (the missing offsets are
   * those strictly between `from` and `to`), the current position for recoveryFailed; undefined for
   * recoveryIncomplete (the next live message tells) and for a replay that stopped short.
   */
  readonly to: StreamPosition | undefined;
  /** Offsets known to be missing (gaps only, else 0n). */
  readonly missed: bigint;
  /** The client is repairing the gap (resubscribing with recovery): the missed messages follow, or a recoveryFailed. */
  readonly recovering: boolean;
  /** Whether the application should refetch its state (= !recovering). */
  readonly refetch: boolean;
  /** Human-readable detail (the gateway's text for recoveryIncomplete). */
  readonly message: string;
}

export interface RecoveryIncompleteEvent {
  readonly topic: string;
  /** The last position surfaced (the last replayed message, or the recovery position if none came). */
  readonly lastReplayed: StreamPosition | undefined;
  /** The gateway's text. */
  readonly message: string;
}

export interface GapEvent {
  readonly topic: string;
  /** The last position surfaced before the gap. */
  readonly from: StreamPosition;
  /** The message that revealed the gap (undefined when a recovery replay stopped short of its announced end). */
  readonly to: StreamPosition | undefined;
  /** Offsets missing (strictly between from and to). */
  readonly missed: bigint;
  /** The client resubscribes with recovery to get them (topic subscriptions); false on `broadcast`. */
  readonly recovering: boolean;
}

export interface EpochChangedEvent {
  readonly topic: string;
  readonly from: StreamPosition;
  readonly to: StreamPosition;
}

export interface SubscriptionEvents {
  /** Every surfaced message (in addition to async iteration). */
  message: GatewayMessage;
  /** A resubscribe after a reconnect replayed every missed message. */
  recovered: { readonly topic: string; readonly from: StreamPosition };
  /** A resubscribe could not recover the missed messages: refetch state. */
  recoveryFailed: RecoveryFailedEvent;
  /**
   * A recovery that had started (recovered, some messages replayed) could not be completed (error
   * `recovery_incomplete`): live messages follow after a gap. Refetch state.
   */
  recoveryIncomplete: RecoveryIncompleteEvent;
  /** Offsets were skipped in the same epoch (messages shed for a slow connection). */
  gap: GapEvent;
  /** A message arrived in another epoch than the last one surfaced (history reset): refetch state. */
  epochChanged: EpochChangedEvent;
  /** Every one of recoveryFailed, recoveryIncomplete, gap, epochChanged, in one shape (emitted right after the specific event). */
  discontinuity: DiscontinuityEvent;
  /** The subscription ended (unsubscribe, client close, or an error). */
  closed: { readonly error?: GatewayError };
}

/** Internal hooks of the owning client. */
export interface SubscriptionOwner {
  unsubscribe(subscription: Subscription): Promise<void>;
}

/**
 * A topic subscription: an async iterator of messages (`for await (const msg of sub)`), plus events.
 * Messages are buffered from the moment the subscription exists until they are consumed; iterate from one
 * place only (each message is handed to one `next()` call). Breaking out of the loop unsubscribes
 * (except for the built-in notification and broadcast streams, which cannot be unsubscribed).
 */
export class Subscription extends TypedEmitter<SubscriptionEvents> implements AsyncIterable<GatewayMessage> {
  readonly topic: string;
  /** True for the automatic `user:{id}` and `broadcast` streams (no Subscribe frame is sent). */
  readonly builtin: boolean;
  private status: RecoveryStatus = "fresh";
  private readonly queue: GatewayMessage[] = [];
  private readonly waiters: { resolve: (r: IteratorResult<GatewayMessage>) => void; reject: (e: unknown) => void }[] = [];
  private ended = false;
  private endError: GatewayError | undefined;
  private readonly owner: SubscriptionOwner;

  /** @internal last position surfaced (dedupe) and to recover from */
  lastSurfaced: StreamPosition | undefined;
  /** @internal position to recover from on resubscribe */
  resumeFrom: StreamPosition | undefined;
  /** @internal the next surfaced message follows a discontinuity the client could not repair */
  gapPending = false;
  /** @internal correlation id of the Subscribe last answered by Subscribed (recovery_incomplete carries it) */
  answeredCorrelation = 0;
  /** @internal the next message follows an announced recovery_incomplete: do not report its gap again */
  continuityUnknown = false;
  /** @internal offsets surfaced on a notification topic (redelivery may be out of high-water order) */
  readonly seenOffsets = new Set<bigint>();
  /** @internal */
  ready: Promise<void>;
  /** @internal */
  resolveReady!: () => void;
  /** @internal */
  rejectReady!: (error: unknown) => void;
  /** @internal */
  isReady = false;
  /** Messages dropped because they were already surfaced (redelivered notifications, replay overlap). */
  duplicatesDropped = 0;
  /** Messages surfaced so far. */
  delivered = 0;
  /**
   * Of `delivered`, the messages the gateway replayed (`message.replayed`): missed while disconnected or
   * shed, recovered on a resubscribe; for notifications, pending ones redelivered.
   */
  replayed = 0;
  /**
   * Offset gaps seen (messages shed on a slow connection), each also reported by a `gap` event. On a topic
   * subscription each one is repaired by resubscribing with recovery (then `recovery` is "recovered", or
   * "notRecovered" with `recoveryFailed`); on the broadcast stream the next message is flagged `afterGap`.
   */
  gapsDetected = 0;
  /** @internal resubscribing after a gap; messages are dropped until Subscribed */
  repairing = false;
  /** @internal a recovery replay is expected up to this offset */
  replayUntil: bigint | undefined;
  /** @internal */
  replayTimer: ReturnType<typeof setTimeout> | undefined;

  /** @internal created by GatewayClient */
  constructor(owner: SubscriptionOwner, topic: string, builtin: boolean, from?: StreamPosition) {
    super();
    this.owner = owner;
    this.topic = topic;
    this.builtin = builtin;
    this.resumeFrom = from;
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => undefined);
    if (builtin) {
      this.isReady = true;
      this.resolveReady();
    }
  }

  /** "fresh" (plain subscribe), "recovered" (every missed message is replayed), "notRecovered" or "incomplete" (refetch state). */
  get recovery(): RecoveryStatus {
    return this.status;
  }

  /** The last position surfaced to the application (undefined before the first message). */
  get position(): StreamPosition | undefined {
    return this.lastSurfaced ?? this.resumeFrom;
  }

  /** Whether the subscription ended. */
  get closed(): boolean {
    return this.ended;
  }

  /** Messages buffered and not yet consumed. */
  get buffered(): number {
    return this.queue.length;
  }

  /** Leaves the topic (sends Unsubscribe when connected) and ends iteration. */
  async unsubscribe(): Promise<void> {
    if (this.ended) return;
    await this.owner.unsubscribe(this);
  }

  /** Alias of {@link unsubscribe}. */
  close(): Promise<void> {
    return this.unsubscribe();
  }

  [Symbol.asyncIterator](): AsyncIterator<GatewayMessage> {
    return {
      next: () => this.next(),
      return: async () => {
        if (!this.builtin) await this.unsubscribe().catch(() => undefined);
        return { done: true, value: undefined };
      },
    };
  }

  /** The next message (or done once the subscription ended; rejects when it ended with an error). */
  next(): Promise<IteratorResult<GatewayMessage>> {
    const message = this.queue.shift();
    if (message) return Promise.resolve({ done: false, value: message });
    if (this.ended) return this.endError ? Promise.reject(this.endError) : Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** @internal */
  setRecovery(status: RecoveryStatus): void {
    this.status = status;
  }

  /** @internal surfaces a message to the iterator and listeners */
  deliver(message: GatewayMessage): void {
    if (this.ended) return;
    this.delivered++;
    if (message.replayed) this.replayed++;
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve({ done: false, value: message });
    else this.queue.push(message);
    this.emit("message", message);
  }

  /** @internal */
  notify<K extends keyof SubscriptionEvents>(type: K, event: SubscriptionEvents[K]): void {
    this.emit(type, event);
  }

  /** @internal ends the subscription; buffered messages can still be consumed, then iteration ends (or throws the error). */
  end(error?: GatewayError): void {
    if (this.ended) return;
    this.ended = true;
    this.endError = error;
    if (this.replayTimer !== undefined) clearTimeout(this.replayTimer);
    if (!this.isReady) this.rejectReady(error ?? new Error("Subscription closed."));
    for (const waiter of this.waiters.splice(0)) {
      if (error) waiter.reject(error);
      else waiter.resolve({ done: true, value: undefined });
    }
    this.emit("closed", error ? { error } : {});
  }
}
