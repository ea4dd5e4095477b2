import { ErrorCode, ProtocolError } from "./errors.js";

const encoder = new TextEncoder();
// fatal: invalid sequences throw instead of becoming U+FFFD; ignoreBOM: a leading BOM is kept (byte-exact round trips).
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Whether a JS string has no lone surrogates (so that its UTF-8 encoding is exact). */
export function isWellFormed(value: string): boolean {
  const native = (value as unknown as { isWellFormed?: () => boolean }).isWellFormed;
  if (typeof native === "function") return native.call(value);
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value);
}

/** Strict UTF-8 encoding: a string with lone surrogates is an invalid_utf8 error, never U+FFFD. */
export function encodeUtf8(value: string): Uint8Array {
  if (!isWellFormed(value)) throw new ProtocolError(ErrorCode.InvalidUtf8, "String has a lone surrogate (not encodable as UTF-8).");
  return encoder.encode(value);
}

/** Strict UTF-8 decoding; throws ProtocolError(invalid_utf8) on invalid bytes. */
export function decodeUtf8(bytes: Uint8Array): string {
  if (bytes.length === 0) return "";
  try {
    return decoder.decode(bytes);
  } catch {
    throw new ProtocolError(ErrorCode.InvalidUtf8, "String field is not valid UTF-8.");
  }
}

/** Non-throwing UTF-8 validity check. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  try {
    decodeUtf8(bytes);
    return true;
  } catch {
    return false;
  }
}
