/** Protocol v1 constants (mirrors src/Protocol: FrameKind.cs, FrameFlags.cs, Priority.cs, ProtocolLimits.cs, ProtocolVersion.cs). */

/** The protocol version this library speaks (Connect frame version byte). */
export const PROTOCOL_VERSION = 1;

/** The WebSocket subprotocol that selects protocol v1. */
export const SUBPROTOCOL = "archmesh.v1";

/** Size of the frame header: body length (u32 BE), kind (u8), flags (u8). */
export const HEADER_SIZE = 6;

/** Largest topic in UTF-8 bytes (u8 length prefix). */
export const MAX_TOPIC_BYTES = 255;
/** Largest token (Connect/Refresh) in UTF-8 bytes. */
export const MAX_TOKEN_BYTES = 8192;
/** Largest client name, ids, resume token in UTF-8 bytes (u8 prefix). */
export const MAX_SHORT_STRING_BYTES = 255;
/** Largest Error/GoAway text in UTF-8 bytes. */
export const MAX_TEXT_BYTES = 1024;
/** Default bound of a frame's declared body length. */
export const DEFAULT_MAX_FRAME_LENGTH = 64 * 1024;

/** Frame kind byte. */
export const FrameKind = {
  Connect: 0x01,
  Connected: 0x02,
  Subscribe: 0x03,
  Subscribed: 0x04,
  Unsubscribe: 0x05,
  Unsubscribed: 0x06,
  Publish: 0x07,
  PublishAck: 0x08,
  Message: 0x09,
  Ack: 0x0a,
  Ping: 0x0b,
  Pong: 0x0c,
  Error: 0x0d,
  GoAway: 0x0e,
  Refresh: 0x0f,
  Refreshed: 0x10,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];
export type FrameKindName = keyof typeof FrameKind;

const kindNames = new Map<number, FrameKindName>(
  (Object.keys(FrameKind) as FrameKindName[]).map((name) => [FrameKind[name], name]),
);

/** The name of a frame kind byte ("Connect", ...), or undefined when unknown. */
export function frameKindName(kind: number): FrameKindName | undefined {
  return kindNames.get(kind);
}

/** Whether the kind byte is defined in protocol v1. */
export function isKnownFrameKind(kind: number): kind is FrameKind {
  return kind >= FrameKind.Connect && kind <= FrameKind.Refreshed;
}

/** Kind-specific header flag bits (each kind defines its own meaning for a bit). */
export const FrameFlags = {
  None: 0,
  /** Subscribe: the (epoch, offset) fields are a recovery position. */
  Recover: 0x01,
  /** Subscribed: recovery was requested and every missed message follows. */
  Recovered: 0x01,
  /** Subscribed: recovery was requested and could not be done; refetch state. */
  RecoveryFailed: 0x02,
  /** Message: replayed from history (recovery or pending notification). */
  Replayed: 0x01,
  /** Message: the retained latest state of a workflow topic, sent on subscribe. */
  Retained: 0x02,
} as const;

/** The flag bits defined for a frame kind; any other bit set is an invalid_flags error. */
export function allowedFlags(kind: number): number {
  switch (kind) {
    case FrameKind.Subscribe:
      return FrameFlags.Recover;
    case FrameKind.Subscribed:
      return FrameFlags.Recovered | FrameFlags.RecoveryFailed;
    case FrameKind.Message:
      return FrameFlags.Replayed | FrameFlags.Retained;
    default:
      return 0;
  }
}

/** Message priority; lower value = more urgent. */
export const Priority = {
  Critical: 0,
  High: 1,
  Normal: 2,
  Low: 3,
} as const;
export type Priority = (typeof Priority)[keyof typeof Priority];

/** Priority names as used by the client API and the HTTP API. */
export type PriorityName = "critical" | "high" | "normal" | "low";

const priorityNames: readonly PriorityName[] = ["critical", "high", "normal", "low"];

/** Wire value → name. */
export function priorityName(priority: Priority): PriorityName {
  return priorityNames[priority] ?? "normal";
}

/** Name (or wire value) → wire value; throws RangeError on anything else. */
export function toPriority(value: PriorityName | Priority | undefined): Priority {
  if (value === undefined) return Priority.Normal;
  if (typeof value === "number") {
    if (Number.isInteger(value) && value >= 0 && value <= 3) return value;
    throw new RangeError(`Priority ${value} is not 0-3.`);
  }
  const index = priorityNames.indexOf(value);
  if (index < 0) throw new RangeError(`Unknown priority "${String(value)}" (critical, high, normal, low).`);
  return index as Priority;
}

/** Size of the raw-TCP hello: "AMSH" + u16 BE version. */
export const TCP_HELLO = new Uint8Array([0x41, 0x4d, 0x53, 0x48, 0x00, PROTOCOL_VERSION]);
