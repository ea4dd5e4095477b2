/** Protocol v1 error codes and the normative error table (mirrors src/Protocol/Errors/ErrorCatalog.cs). */

export const ErrorCode = {
  None: 0,
  MalformedFrame: 0x0101,
  UnknownFrameKind: 0x0102,
  FrameTooLarge: 0x0103,
  FieldOverrun: 0x0104,
  TrailingBytes: 0x0105,
  InvalidFlags: 0x0106,
  InvalidUtf8: 0x0107,
  InvalidTopic: 0x0108,
  InvalidPriority: 0x0109,
  FieldTooLong: 0x010a,
  UnsupportedVersion: 0x010b,
  TextNotSupported: 0x010c,
  UnexpectedFrame: 0x010d,
  Unauthorized: 0x0201,
  TokenExpired: 0x0202,
  ConnectTimeout: 0x0203,
  IdleTimeout: 0x0204,
  FrameTimeout: 0x0205,
  Forbidden: 0x0301,
  NotSubscribed: 0x0302,
  AlreadySubscribed: 0x0303,
  PayloadTooLarge: 0x0304,
  TooManySubscriptions: 0x0305,
  RecoveryIncomplete: 0x0306,
  IdempotencyConflict: 0x0307,
  RateLimited: 0x0401,
  Overloaded: 0x0402,
  SlowConsumer: 0x0403,
  TooManyConnections: 0x0404,
  UserConnectionLimit: 0x0405,
  ServerShuttingDown: 0x0501,
  InternalError: 0x0502,
  EngineUnavailable: 0x0503,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** What a client must know about an error code. */
export interface ErrorInfo {
  readonly code: number;
  /** Stable snake_case name (as in logs, metrics and problem+json). */
  readonly name: string;
  /** Whether repeating the same request later may succeed. */
  readonly retryable: boolean;
  /** Whether the connection is closed after this error. */
  readonly fatal: boolean;
  /** WebSocket close code used when fatal (0 when not fatal). */
  readonly closeCode: number;
  /** HTTP status used by the HTTP API. */
  readonly httpStatus: number;
  readonly description: string;
}

const e = (code: number, name: string, retryable: boolean, fatal: boolean, closeCode: number, httpStatus: number, description: string): ErrorInfo =>
  Object.freeze({ code, name, retryable, fatal, closeCode, httpStatus, description });

/** The error table of protocol v1, in table order. */
export const ERROR_CATALOG: readonly ErrorInfo[] = Object.freeze([
  e(ErrorCode.MalformedFrame, "malformed_frame", false, true, 1002, 400, "The frame is structurally invalid."),
  e(ErrorCode.UnknownFrameKind, "unknown_frame_kind", false, true, 1002, 400, "The kind byte is not a known frame kind."),
  e(ErrorCode.FrameTooLarge, "frame_too_large", false, true, 1009, 413, "The declared frame length exceeds the maximum."),
  e(ErrorCode.FieldOverrun, "field_overrun", false, true, 1002, 400, "A length-prefixed field runs past the end of the frame."),
  e(ErrorCode.TrailingBytes, "trailing_bytes", false, true, 1002, 400, "Bytes remain after the last field of the frame."),
  e(ErrorCode.InvalidFlags, "invalid_flags", false, true, 1002, 400, "A flag bit not defined for this frame kind is set."),
  e(ErrorCode.InvalidUtf8, "invalid_utf8", false, true, 1007, 400, "A string field is not valid UTF-8."),
  e(ErrorCode.InvalidTopic, "invalid_topic", false, true, 1008, 400, "The topic is empty, too long or has a forbidden character."),
  e(ErrorCode.InvalidPriority, "invalid_priority", false, true, 1002, 400, "The priority byte is not 0-3."),
  e(ErrorCode.FieldTooLong, "field_too_long", false, true, 1009, 400, "A string field exceeds its bound."),
  e(ErrorCode.UnsupportedVersion, "unsupported_version", false, true, 1002, 400, "The protocol version is not supported."),
  e(ErrorCode.TextNotSupported, "text_not_supported", false, true, 1003, 415, "Text WebSocket messages are not part of the protocol."),
  e(ErrorCode.UnexpectedFrame, "unexpected_frame", false, true, 1008, 400, "The frame kind is not allowed in this direction or state."),
  e(ErrorCode.Unauthorized, "unauthorized", false, true, 4001, 401, "The token is missing or invalid."),
  e(ErrorCode.TokenExpired, "token_expired", true, true, 4002, 401, "The token expired; reconnect with a fresh token."),
  e(ErrorCode.ConnectTimeout, "connect_timeout", true, true, 4003, 408, "No Connect frame arrived within the deadline."),
  e(ErrorCode.IdleTimeout, "idle_timeout", true, true, 4004, 408, "Nothing was received within the idle timeout."),
  e(ErrorCode.FrameTimeout, "frame_timeout", true, true, 4005, 408, "A frame that had begun did not complete within the frame deadline."),
  e(ErrorCode.Forbidden, "forbidden", false, false, 0, 403, "The token does not allow this operation on this topic."),
  e(ErrorCode.NotSubscribed, "not_subscribed", false, false, 0, 409, "The connection is not subscribed to this topic."),
  e(ErrorCode.AlreadySubscribed, "already_subscribed", false, false, 0, 409, "The connection is already subscribed to this topic."),
  e(ErrorCode.PayloadTooLarge, "payload_too_large", false, false, 0, 413, "The payload exceeds the payload limit."),
  e(ErrorCode.TooManySubscriptions, "too_many_subscriptions", false, false, 0, 409, "The connection has the maximum number of subscriptions."),
  e(ErrorCode.RecoveryIncomplete, "recovery_incomplete", false, false, 0, 409, "A recovery that had started could not be completed; messages after the last replayed offset are missing: refetch state."),
  e(ErrorCode.IdempotencyConflict, "idempotency_conflict", false, false, 0, 422, "The idempotency key was already used with a different request."),
  e(ErrorCode.RateLimited, "rate_limited", true, false, 0, 429, "The frame or byte rate limit was exceeded; slow down."),
  e(ErrorCode.Overloaded, "overloaded", true, false, 0, 503, "The node cannot accept this now; retry later."),
  e(ErrorCode.SlowConsumer, "slow_consumer", true, true, 4008, 503, "The connection could not keep up and was closed; reconnect and recover."),
  e(ErrorCode.TooManyConnections, "too_many_connections", true, true, 4009, 503, "The node or client-address connection limit was reached."),
  e(ErrorCode.UserConnectionLimit, "user_connection_limit", true, true, 4010, 429, "The user has the maximum number of connections on this node; close one first."),
  e(ErrorCode.ServerShuttingDown, "server_shutting_down", true, true, 1012, 503, "The node is shutting down; reconnect elsewhere."),
  e(ErrorCode.InternalError, "internal_error", true, true, 1011, 500, "Unexpected server fault."),
  e(ErrorCode.EngineUnavailable, "engine_unavailable", true, false, 0, 503, "The scale-out engine is unreachable; retry later."),
]);

const byCode = new Map<number, ErrorInfo>(ERROR_CATALOG.map((info) => [info.code, info]));
const byName = new Map<string, ErrorInfo>(ERROR_CATALOG.map((info) => [info.name, info]));

/** Looks up a code; unknown codes (from a newer peer) get a generic non-retryable entry. */
export function errorInfo(code: number): ErrorInfo {
  return byCode.get(code) ?? e(code, `unknown_${code.toString(16).padStart(4, "0")}`, false, false, 0, 500, "Unknown error code.");
}

/** Looks up an error by its snake_case name. */
export function errorInfoByName(name: string): ErrorInfo | undefined {
  return byName.get(name);
}

/** Thrown by the codec on malformed input or out-of-bound fields; carries the protocol error code. */
export class ProtocolError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = "ProtocolError";
    this.code = code;
  }
  /** The snake_case name of {@link code}. */
  get codeName(): string {
    return errorInfo(this.code).name;
  }
  /** The table entry of {@link code}. */
  get info(): ErrorInfo {
    return errorInfo(this.code);
  }
}
