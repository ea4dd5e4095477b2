import { FrameKind, type Priority } from "./constants.js";

/** Fields every frame has. `flags` is the raw header flags byte (see FrameFlags). */
interface FrameBase<K extends FrameKind> {
  readonly kind: K;
  readonly flags: number;
}

/** Client → server: first frame of a connection. */
export interface ConnectFrame extends FrameBase<typeof FrameKind.Connect> {
  readonly version: number;
  readonly token: string;
  readonly clientName: string;
  /** Empty when none. */
  readonly resumeToken: string;
}

/** Server → client: the connection is authenticated. */
export interface ConnectedFrame extends FrameBase<typeof FrameKind.Connected> {
  readonly heartbeatMs: number;
  readonly maxFrameLength: number;
  readonly maxSubscriptions: number;
  readonly connectionId: string;
  readonly nodeId: string;
  readonly userId: string;
}

/** Subscribe (client → server, flag Recover) and Subscribed (server → client, flags Recovered | RecoveryFailed). */
export interface SubscribeFrame extends FrameBase<typeof FrameKind.Subscribe> {
  readonly correlationId: number;
  readonly epoch: bigint;
  readonly offset: bigint;
  readonly topic: string;
}
export interface SubscribedFrame extends FrameBase<typeof FrameKind.Subscribed> {
  readonly correlationId: number;
  readonly epoch: bigint;
  readonly offset: bigint;
  readonly topic: string;
}

export interface UnsubscribeFrame extends FrameBase<typeof FrameKind.Unsubscribe> {
  readonly correlationId: number;
  readonly topic: string;
}
export interface UnsubscribedFrame extends FrameBase<typeof FrameKind.Unsubscribed> {
  readonly correlationId: number;
  readonly topic: string;
}

/** Client → server publish; correlationId 0 asks for no ack. */
export interface PublishFrame extends FrameBase<typeof FrameKind.Publish> {
  readonly correlationId: number;
  readonly priority: Priority;
  readonly topic: string;
  readonly payload: Uint8Array;
}

export interface PublishAckFrame extends FrameBase<typeof FrameKind.PublishAck> {
  readonly correlationId: number;
  readonly epoch: bigint;
  readonly offset: bigint;
}

/** Server → client: a message of a topic (flags Replayed | Retained). */
export interface MessageFrame extends FrameBase<typeof FrameKind.Message> {
  readonly priority: Priority;
  readonly epoch: bigint;
  readonly offset: bigint;
  /** Unix milliseconds (u64 on the wire). */
  readonly timestamp: bigint;
  readonly topic: string;
  readonly payload: Uint8Array;
}

/** Client → server: acknowledge a notification. */
export interface AckFrame extends FrameBase<typeof FrameKind.Ack> {
  readonly offset: bigint;
  readonly topic: string;
}

export interface PingFrame extends FrameBase<typeof FrameKind.Ping> {
  readonly nonce: bigint;
}
export interface PongFrame extends FrameBase<typeof FrameKind.Pong> {
  readonly nonce: bigint;
}

export interface ErrorFrame extends FrameBase<typeof FrameKind.Error> {
  /** The protocol ErrorCode (u16, never 0). */
  readonly errorCode: number;
  readonly correlationId: number;
  readonly text: string;
}

export interface GoAwayFrame extends FrameBase<typeof FrameKind.GoAway> {
  /** Reconnect delay hint in milliseconds. */
  readonly reconnectDelayMs: number;
  /** Reason text. */
  readonly text: string;
}

export interface RefreshFrame extends FrameBase<typeof FrameKind.Refresh> {
  readonly correlationId: number;
  readonly token: string;
}

export interface RefreshedFrame extends FrameBase<typeof FrameKind.Refreshed> {
  readonly correlationId: number;
  /** New expiry, Unix seconds. */
  readonly expiresAt: bigint;
}

/** One decoded protocol v1 frame. */
export type Frame =
  | ConnectFrame
  | ConnectedFrame
  | SubscribeFrame
  | SubscribedFrame
  | UnsubscribeFrame
  | UnsubscribedFrame
  | PublishFrame
  | PublishAckFrame
  | MessageFrame
  | AckFrame
  | PingFrame
  | PongFrame
  | ErrorFrame
  | GoAwayFrame
  | RefreshFrame
  | RefreshedFrame;

/** Frames as accepted by the writer: `flags` may be omitted (0). */
export type FrameInit = Frame extends infer F ? (F extends Frame ? Omit<F, "flags"> & { readonly flags?: number } : never) : never;
