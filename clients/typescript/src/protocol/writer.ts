import { FrameKind, HEADER_SIZE, MAX_SHORT_STRING_BYTES, MAX_TEXT_BYTES, MAX_TOKEN_BYTES, allowedFlags, frameKindName } from "./constants.js";
import { ErrorCode, ProtocolError } from "./errors.js";
import type { Frame, FrameInit } from "./frames.js";
import { encodeTopic } from "./topics.js";
import { encodeUtf8 } from "./utf8.js";

const U64_MAX = (1n << 64n) - 1n;

type Field =
  | { t: "u8" | "u16" | "u32"; v: number }
  | { t: "u64"; v: bigint }
  | { t: "bytes"; v: Uint8Array }
  | { t: "str8" | "str16"; v: Uint8Array };

function u8(v: number): Field {
  checkInt(v, 0xff, "u8");
  return { t: "u8", v };
}
function u16(v: number): Field {
  checkInt(v, 0xffff, "u16");
  return { t: "u16", v };
}
function u32(v: number): Field {
  checkInt(v, 0xffffffff, "u32");
  return { t: "u32", v };
}
function u64(v: bigint): Field {
  if (typeof v !== "bigint" || v < 0n || v > U64_MAX) throw new RangeError(`Value ${String(v)} is not a u64 bigint.`);
  return { t: "u64", v };
}
function checkInt(v: number, max: number, type: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`Value ${v} is not a ${type}.`);
}

function str(value: string | undefined, max: number): Uint8Array {
  const bytes = encodeUtf8(value ?? "");
  if (bytes.length > max) throw new ProtocolError(ErrorCode.FieldTooLong, `String of ${bytes.length} bytes exceeds its bound ${max}.`);
  return bytes;
}
const str8 = (value: string | undefined, max = MAX_SHORT_STRING_BYTES): Field => ({ t: "str8", v: str(value, max) });
const str16 = (value: string | undefined, max: number): Field => ({ t: "str16", v: str(value, max) });
const topic = (value: string): Field => ({ t: "str8", v: encodeTopic(value) });
const priority = (value: number): Field => {
  if (!Number.isInteger(value) || value < 0 || value > 3) throw new ProtocolError(ErrorCode.InvalidPriority, `Priority ${value} is not 0-3.`);
  return { t: "u8", v: value };
};

/** Truncates text (on a character boundary) to at most `maxBytes` UTF-8 bytes, like the C# writer. */
export function truncateUtf8(text: string, maxBytes: number): string {
  let bytes = encodeUtf8(text);
  if (bytes.length <= maxBytes) return text;
  let length = Math.min(text.length, maxBytes);
  while (length > 0) {
    let candidate = text.slice(0, length);
    const last = candidate.charCodeAt(candidate.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      candidate = candidate.slice(0, -1);
      length--;
    }
    bytes = encodeUtf8(candidate);
    if (bytes.length <= maxBytes) return candidate;
    length--;
  }
  return "";
}

function fieldSize(f: Field): number {
  switch (f.t) {
    case "u8":
      return 1;
    case "u16":
      return 2;
    case "u32":
      return 4;
    case "u64":
      return 8;
    case "bytes":
      return f.v.length;
    case "str8":
      return 1 + f.v.length;
    case "str16":
      return 2 + f.v.length;
  }
}

function fieldsOf(frame: FrameInit, flags: number): Field[] {
  switch (frame.kind) {
    case FrameKind.Connect:
      return [u8(frame.version), str16(frame.token, MAX_TOKEN_BYTES), str8(frame.clientName), str8(frame.resumeToken)];
    case FrameKind.Connected:
      return [u32(frame.heartbeatMs), u32(frame.maxFrameLength), u16(frame.maxSubscriptions), str8(frame.connectionId), str8(frame.nodeId), str8(frame.userId)];
    case FrameKind.Subscribe:
    case FrameKind.Subscribed:
      if (flags === 0x03) throw new ProtocolError(ErrorCode.InvalidFlags, "Recovered and RecoveryFailed are exclusive.");
      return [u32(frame.correlationId), u64(frame.epoch), u64(frame.offset), topic(frame.topic)];
    case FrameKind.Unsubscribe:
    case FrameKind.Unsubscribed:
      return [u32(frame.correlationId), topic(frame.topic)];
    case FrameKind.Publish:
      return [u32(frame.correlationId), priority(frame.priority), topic(frame.topic), { t: "bytes", v: frame.payload }];
    case FrameKind.PublishAck:
      return [u32(frame.correlationId), u64(frame.epoch), u64(frame.offset)];
    case FrameKind.Message:
      return [priority(frame.priority), u64(frame.epoch), u64(frame.offset), u64(frame.timestamp), topic(frame.topic), { t: "bytes", v: frame.payload }];
    case FrameKind.Ack:
      return [u64(frame.offset), topic(frame.topic)];
    case FrameKind.Ping:
    case FrameKind.Pong:
      return [u64(frame.nonce)];
    case FrameKind.Error:
      if (frame.errorCode === ErrorCode.None) throw new RangeError("An Error frame needs a code.");
      return [u16(frame.errorCode), u32(frame.correlationId), str16(truncateUtf8(frame.text, MAX_TEXT_BYTES), MAX_TEXT_BYTES)];
    case FrameKind.GoAway:
      return [u32(frame.reconnectDelayMs), str16(truncateUtf8(frame.text, MAX_TEXT_BYTES), MAX_TEXT_BYTES)];
    case FrameKind.Refresh:
      return [u32(frame.correlationId), str16(frame.token, MAX_TOKEN_BYTES)];
    case FrameKind.Refreshed:
      return [u32(frame.correlationId), u64(frame.expiresAt)];
    default:
      throw new RangeError(`Unknown frame kind ${String((frame as { kind: unknown }).kind)}.`);
  }
}

/** Exact encoded size of a frame (header included). */
export function frameSize(frame: FrameInit | Frame): number {
  return HEADER_SIZE + fieldsOf(frame, frame.flags ?? 0).reduce((sum, f) => sum + fieldSize(f), 0);
}

/**
 * Encodes one frame. Out-of-bound fields throw ProtocolError with the code a reader would report
 * (invalid_topic, invalid_utf8, invalid_priority, invalid_flags, field_too_long); Error/GoAway texts are
 * truncated to 1,024 bytes like the C# writer.
 */
export function encodeFrame(frame: FrameInit | Frame): Uint8Array {
  const flags = frame.flags ?? 0;
  checkInt(flags, 0xff, "u8");
  if ((flags & ~allowedFlags(frame.kind)) !== 0) {
    throw new ProtocolError(ErrorCode.InvalidFlags, `Flags 0x${flags.toString(16)} are not valid for ${frameKindName(frame.kind) ?? frame.kind}.`);
  }
  const fields = fieldsOf(frame, flags);
  const size = HEADER_SIZE + fields.reduce((sum, f) => sum + fieldSize(f), 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, size - HEADER_SIZE);
  view.setUint8(4, frame.kind);
  view.setUint8(5, flags);
  let p = HEADER_SIZE;
  for (const f of fields) {
    switch (f.t) {
      case "u8":
        view.setUint8(p, f.v);
        p += 1;
        break;
      case "u16":
        view.setUint16(p, f.v);
        p += 2;
        break;
      case "u32":
        view.setUint32(p, f.v);
        p += 4;
        break;
      case "u64":
        view.setBigUint64(p, f.v);
        p += 8;
        break;
      case "bytes":
        out.set(f.v, p);
        p += f.v.length;
        break;
      case "str8":
        view.setUint8(p, f.v.length);
        out.set(f.v, p + 1);
        p += 1 + f.v.length;
        break;
      case "str16":
        view.setUint16(p, f.v.length);
        out.set(f.v, p + 2);
        p += 2 + f.v.length;
        break;
    }
  }
  return out;
}

/** Concatenates several encoded frames into one buffer (one WebSocket message may carry several frames). */
export function concatFrames(frames: readonly Uint8Array[]): Uint8Array {
  const total = frames.reduce((sum, f) => sum + f.length, 0);
  const out = new Uint8Array(total);
  let p = 0;
  for (const f of frames) {
    out.set(f, p);
    p += f.length;
  }
  return out;
}
