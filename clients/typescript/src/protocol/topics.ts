import { MAX_TOPIC_BYTES } from "./constants.js";
import { ErrorCode, ProtocolError } from "./errors.js";
import { encodeUtf8, isValidUtf8, isWellFormed } from "./utf8.js";

/** Prefix of per-user notification topics. */
export const USER_PREFIX = "user:";
/** Prefix of workflow topics (latest message retained). */
export const WORKFLOW_PREFIX = "workflow:";
/** The broadcast topic, delivered to every connection without subscribing. */
export const BROADCAST_TOPIC = "broadcast";

function isForbiddenByte(b: number): boolean {
  // ASCII control characters, space, DEL and the pattern characters * ? #
  return b <= 0x20 || b === 0x7f || b === 0x2a || b === 0x3f || b === 0x23;
}

/**
 * Checks a UTF-8 topic (1-255 bytes, valid UTF-8, no control characters, space, DEL, `*`, `?`, `#`).
 * Returns ErrorCode.None, InvalidTopic or InvalidUtf8 (same order of checks as the C# TopicRules).
 */
export function validateTopicBytes(utf8: Uint8Array): number {
  if (utf8.length === 0 || utf8.length > MAX_TOPIC_BYTES) return ErrorCode.InvalidTopic;
  for (const b of utf8) {
    if (isForbiddenByte(b)) return ErrorCode.InvalidTopic;
  }
  return isValidUtf8(utf8) ? ErrorCode.None : ErrorCode.InvalidUtf8;
}

/** Checks a topic string; returns an ErrorCode (None when valid). */
export function validateTopic(topic: string): number {
  if (typeof topic !== "string" || topic.length === 0 || topic.length > MAX_TOPIC_BYTES) return ErrorCode.InvalidTopic;
  if (!isWellFormed(topic)) return ErrorCode.InvalidUtf8;
  return validateTopicBytes(encodeUtf8(topic));
}

/** True when the topic is valid. */
export function isValidTopic(topic: string): boolean {
  return validateTopic(topic) === ErrorCode.None;
}

/** Encodes and validates a topic; throws ProtocolError(invalid_topic | invalid_utf8). */
export function encodeTopic(topic: string): Uint8Array {
  const code = validateTopic(topic);
  if (code !== ErrorCode.None) {
    throw new ProtocolError(code, code === ErrorCode.InvalidUtf8 ? "Topic is not valid UTF-16/UTF-8." : `Invalid topic ${JSON.stringify(topic)}.`);
  }
  return encodeUtf8(topic);
}
