import { DEFAULT_MAX_FRAME_LENGTH, FrameKind, HEADER_SIZE, MAX_TEXT_BYTES, MAX_TOKEN_BYTES, PROTOCOL_VERSION, allowedFlags, frameKindName, isKnownFrameKind, type Priority } from "./constants.js";
import { ErrorCode, ProtocolError } from "./errors.js";
import type { Frame } from "./frames.js";
import { validateTopicBytes } from "./topics.js";
import { decodeUtf8 } from "./utf8.js";

/** Bounds the reader enforces. */
export interface ReaderLimits {
  /** Largest accepted body length (header length field). Default 64 KiB. */
  readonly maxFrameLength?: number;
}

/** The 6-byte frame header. */
export interface FrameHeader {
  /** Body length in bytes (excluding the header). */
  readonly length: number;
  readonly kind: FrameKind;
  readonly flags: number;
}

/** A decoded frame and the number of input bytes it used (header + body). */
export interface ReadResult {
  readonly frame: Frame;
  readonly size: number;
}

function maxLength(limits: ReaderLimits | undefined): number {
  return limits?.maxFrameLength ?? DEFAULT_MAX_FRAME_LENGTH;
}

function checkLength(length: number, limits: ReaderLimits | undefined): void {
  const max = maxLength(limits);
  if (length > max) throw new ProtocolError(ErrorCode.FrameTooLarge, `Declared frame length ${length} exceeds the maximum ${max}.`);
}

/**
 * Peeks at the header of the frame at `offset` without consuming: returns null when fewer than 6 bytes are
 * available ("need more"), throws ProtocolError when the declared length exceeds the limit (already provable
 * from 4 bytes), the kind is unknown or undefined flags are set.
 */
export function readHeader(buffer: Uint8Array, limits?: ReaderLimits, offset = 0): FrameHeader | null {
  const available = buffer.length - offset;
  const view = new DataView(buffer.buffer, buffer.byteOffset + offset, Math.max(0, available));
  if (available < HEADER_SIZE) {
    if (available >= 4) checkLength(view.getUint32(0), limits);
    return null;
  }
  const length = view.getUint32(0);
  checkLength(length, limits);
  const kind = view.getUint8(4);
  const flags = view.getUint8(5);
  if (!isKnownFrameKind(kind)) {
    throw new ProtocolError(ErrorCode.UnknownFrameKind, `Unknown frame kind 0x${kind.toString(16).padStart(2, "0")}.`);
  }
  if ((flags & ~allowedFlags(kind)) !== 0) {
    throw new ProtocolError(ErrorCode.InvalidFlags, `Flags 0x${flags.toString(16).padStart(2, "0")} are not valid for ${frameKindName(kind)}.`);
  }
  return { length, kind, flags };
}

/**
 * Reads one whole frame starting at `offset`. Returns null when more bytes are needed (nothing consumed),
 * throws ProtocolError (never another error type) on malformed input.
 */
export function readFrame(buffer: Uint8Array, limits?: ReaderLimits, offset = 0): ReadResult | null {
  const header = readHeader(buffer, limits, offset);
  if (header === null) return null;
  const size = HEADER_SIZE + header.length;
  if (buffer.length - offset < size) return null;
  const body = buffer.subarray(offset + HEADER_SIZE, offset + size);
  return { frame: parseBody(header, body), size };
}

/**
 * Decodes every frame of one WebSocket message. A frame never spans two messages, so bytes left over
 * after the last whole frame are a malformed_frame error.
 */
export function decodeFrames(message: Uint8Array, limits?: ReaderLimits): Frame[] {
  const frames: Frame[] = [];
  let offset = 0;
  while (offset < message.length) {
    const result = readFrame(message, limits, offset);
    if (result === null) {
      throw new ProtocolError(ErrorCode.MalformedFrame, `Truncated frame: ${message.length - offset} bytes left at the end of a message.`);
    }
    frames.push(result.frame);
    offset += result.size;
  }
  return frames;
}

/**
 * Incremental reader for a byte stream (raw TCP, or any chunked source): push chunks, pull frames.
 * `next()` returns undefined when more bytes are needed.
 */
export class FrameReader {
  private buffer = new Uint8Array(0);
  private start = 0;
  private end = 0;
  readonly limits: ReaderLimits;

  constructor(limits: ReaderLimits = {}) {
    this.limits = limits;
  }

  /** Bytes buffered and not yet consumed. */
  get buffered(): number {
    return this.end - this.start;
  }

  /** Appends bytes (copied). */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.end + chunk.length > this.buffer.length) {
      const needed = this.end - this.start + chunk.length;
      if (needed <= this.buffer.length) {
        this.buffer.copyWithin(0, this.start, this.end);
      } else {
        const grown = new Uint8Array(Math.max(needed, this.buffer.length * 2, 1024));
        grown.set(this.buffer.subarray(this.start, this.end));
        this.buffer = grown;
      }
      this.end -= this.start;
      this.start = 0;
    }
    this.buffer.set(chunk, this.end);
    this.end += chunk.length;
  }

  /** The next whole frame, or undefined when more bytes are needed. Throws ProtocolError on malformed input. */
  next(): Frame | undefined {
    const view = this.buffer.subarray(this.start, this.end);
    const result = readFrame(view, this.limits);
    if (result === null) return undefined;
    // The frame's fields are copies or decoded strings, except payloads, which are copied below.
    this.start += result.size;
    if (this.start === this.end) {
      this.start = 0;
      this.end = 0;
    }
    return result.frame;
  }

  /** Every whole frame currently buffered. */
  drain(): Frame[] {
    const frames: Frame[] = [];
    for (let frame = this.next(); frame !== undefined; frame = this.next()) frames.push(frame);
    return frames;
  }
}

class Cursor {
  private position = 0;
  private readonly view: DataView;
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get remaining(): number {
    return this.bytes.length - this.position;
  }
  private need(count: number): void {
    if (this.remaining < count) throw new ProtocolError(ErrorCode.FieldOverrun, "A field runs past the end of the frame.");
  }
  u8(): number {
    this.need(1);
    return this.view.getUint8(this.position++);
  }
  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.position);
    this.position += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.position);
    this.position += 4;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.position);
    this.position += 8;
    return v;
  }
  take(count: number): Uint8Array {
    this.need(count);
    const v = this.bytes.subarray(this.position, this.position + count);
    this.position += count;
    return v;
  }
  /** The rest of the frame, copied (so it outlives the input buffer). */
  rest(): Uint8Array {
    const v = this.bytes.slice(this.position);
    this.position = this.bytes.length;
    return v;
  }
  str8(): string {
    return decodeUtf8(this.take(this.u8()));
  }
  str16(max: number): string {
    const length = this.u16();
    if (length > max) throw new ProtocolError(ErrorCode.FieldTooLong, `String of ${length} bytes exceeds its bound ${max}.`);
    return decodeUtf8(this.take(length));
  }
  topic(): string {
    const bytes = this.take(this.u8());
    const code = validateTopicBytes(bytes);
    if (code !== ErrorCode.None) {
      throw new ProtocolError(code, code === ErrorCode.InvalidUtf8 ? "Topic is not valid UTF-8." : "Topic is empty or contains a forbidden character.");
    }
    return decodeUtf8(bytes);
  }
  priority(): Priority {
    const value = this.u8();
    if (value > 3) throw new ProtocolError(ErrorCode.InvalidPriority, `Priority ${value} is not 0-3.`);
    return value as Priority;
  }
}

function parseBody(header: FrameHeader, body: Uint8Array): Frame {
  const r = new Cursor(body);
  const flags = header.flags;
  let frame: Frame;
  switch (header.kind) {
    case FrameKind.Connect: {
      const version = r.u8();
      if (version !== PROTOCOL_VERSION) {
        throw new ProtocolError(ErrorCode.UnsupportedVersion, `Protocol version ${version} is not supported (this library speaks ${PROTOCOL_VERSION}).`);
      }
      const token = r.str16(MAX_TOKEN_BYTES);
      const clientName = r.str8();
      const resumeToken = r.str8();
      frame = { kind: FrameKind.Connect, flags, version, token, clientName, resumeToken };
      break;
    }
    case FrameKind.Connected: {
      const heartbeatMs = r.u32();
      const maxFrameLength = r.u32();
      const maxSubscriptions = r.u16();
      const connectionId = r.str8();
      const nodeId = r.str8();
      const userId = r.str8();
      frame = { kind: FrameKind.Connected, flags, heartbeatMs, maxFrameLength, maxSubscriptions, connectionId, nodeId, userId };
      break;
    }
    case FrameKind.Subscribe:
    case FrameKind.Subscribed: {
      if (flags === 0x03) throw new ProtocolError(ErrorCode.InvalidFlags, "Recovered and RecoveryFailed are exclusive.");
      const correlationId = r.u32();
      const epoch = r.u64();
      const offset = r.u64();
      const topic = r.topic();
      frame = { kind: header.kind, flags, correlationId, epoch, offset, topic };
      break;
    }
    case FrameKind.Unsubscribe:
    case FrameKind.Unsubscribed: {
      const correlationId = r.u32();
      const topic = r.topic();
      frame = { kind: header.kind, flags, correlationId, topic };
      break;
    }
    case FrameKind.Publish: {
      const correlationId = r.u32();
      const priority = r.priority();
      const topic = r.topic();
      frame = { kind: FrameKind.Publish, flags, correlationId, priority, topic, payload: r.rest() };
      break;
    }
    case FrameKind.PublishAck: {
      const correlationId = r.u32();
      const epoch = r.u64();
      const offset = r.u64();
      frame = { kind: FrameKind.PublishAck, flags, correlationId, epoch, offset };
      break;
    }
    case FrameKind.Message: {
      const priority = r.priority();
      const epoch = r.u64();
      const offset = r.u64();
      const timestamp = r.u64();
      const topic = r.topic();
      frame = { kind: FrameKind.Message, flags, priority, epoch, offset, timestamp, topic, payload: r.rest() };
      break;
    }
    case FrameKind.Ack: {
      const offset = r.u64();
      const topic = r.topic();
      frame = { kind: FrameKind.Ack, flags, offset, topic };
      break;
    }
    case FrameKind.Ping:
    case FrameKind.Pong:
      frame = { kind: header.kind, flags, nonce: r.u64() };
      break;
    case FrameKind.Error: {
      const errorCode = r.u16();
      if (errorCode === 0) throw new ProtocolError(ErrorCode.MalformedFrame, "Error frame with code 0.");
      const correlationId = r.u32();
      const text = r.str16(MAX_TEXT_BYTES);
      frame = { kind: FrameKind.Error, flags, errorCode, correlationId, text };
      break;
    }
    case FrameKind.GoAway: {
      const reconnectDelayMs = r.u32();
      const text = r.str16(MAX_TEXT_BYTES);
      frame = { kind: FrameKind.GoAway, flags, reconnectDelayMs, text };
      break;
    }
    case FrameKind.Refresh: {
      const correlationId = r.u32();
      const token = r.str16(MAX_TOKEN_BYTES);
      frame = { kind: FrameKind.Refresh, flags, correlationId, token };
      break;
    }
    case FrameKind.Refreshed: {
      const correlationId = r.u32();
      const expiresAt = r.u64();
      frame = { kind: FrameKind.Refreshed, flags, correlationId, expiresAt };
      break;
    }
    default:
      throw new ProtocolError(ErrorCode.UnknownFrameKind, `Unknown frame kind 0x${(header.kind as number).toString(16)}.`);
  }
  if (r.remaining !== 0) {
    throw new ProtocolError(ErrorCode.TrailingBytes, `${r.remaining} bytes after the last field of ${frameKindName(header.kind)}.`);
  }
  return frame;
}
