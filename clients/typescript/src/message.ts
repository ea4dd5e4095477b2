import { FrameFlags, priorityName, type PriorityName } from "./protocol/constants.js";
import type { MessageFrame } from "./protocol/frames.js";
import { USER_PREFIX } from "./protocol/topics.js";
import { decodeUtf8 } from "./protocol/utf8.js";

/** Acknowledges notifications; implemented by the client. */
export interface Acker {
  ack(topic: string, offset: bigint): void;
}

/** A message of a topic as surfaced to the application. */
export class GatewayMessage {
  readonly topic: string;
  /** Stream epoch (changes when the topic's history was lost). */
  readonly epoch: bigint;
  /** Offset within the epoch; strictly increasing per topic as seen by one client. */
  readonly offset: bigint;
  readonly priority: PriorityName;
  /** Publish time, Unix milliseconds. */
  readonly timestampMs: number;
  readonly payload: Uint8Array;
  /** Replayed from history (recovery after a reconnect, or a pending notification redelivered). */
  readonly replayed: boolean;
  /** The retained latest state of a workflow topic, sent on subscribe. */
  readonly retained: boolean;
  /**
   * True on the first message after a discontinuity the client could not repair: a failed or incomplete
   * recovery ("could not recover — refetch state"), an epoch change, or a gap on `broadcast`. Messages may
   * be missing before this one (see the subscription's `discontinuity` event).
   */
  afterGap = false;
  private readonly acker: Acker | undefined;

  constructor(frame: MessageFrame, acker?: Acker) {
    this.topic = frame.topic;
    this.epoch = frame.epoch;
    this.offset = frame.offset;
    this.priority = priorityName(frame.priority);
    this.timestampMs = Number(frame.timestamp);
    this.payload = frame.payload;
    this.replayed = (frame.flags & FrameFlags.Replayed) !== 0;
    this.retained = (frame.flags & FrameFlags.Retained) !== 0;
    this.acker = acker;
  }

  /** Publish time as a Date. */
  get timestamp(): Date {
    return new Date(this.timestampMs);
  }

  /** Whether this is a notification (topic `user:{id}`), which stays pending until acked. */
  get isNotification(): boolean {
    return this.topic.startsWith(USER_PREFIX);
  }

  /** The payload decoded as UTF-8. */
  text(): string {
    return decodeUtf8(this.payload);
  }

  /** The payload parsed as JSON. */
  json<T = unknown>(): T {
    return JSON.parse(this.text()) as T;
  }

  /** Acknowledges this notification (same as `client.ack(message)`). */
  ack(): void {
    if (!this.acker) throw new Error("This message is not attached to a client.");
    this.acker.ack(this.topic, this.offset);
  }
}
