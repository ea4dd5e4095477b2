import { ErrorCode, ProtocolError, errorInfo } from "./protocol/errors.js";

/** Names of errors raised by the client itself (code 0: not sent by the server). */
export type ClientErrorName = "connection_lost" | "timeout" | "client_closed" | "connect_failed" | "protocol_violation";

const clientErrors: Record<ClientErrorName, boolean> = {
  connection_lost: true,
  timeout: true,
  client_closed: false,
  connect_failed: true,
  protocol_violation: false,
};

/**
 * An error reported by the gateway (Error frame, close code, HTTP problem) or by the client.
 * Like DOMException, `name` is the error's kind ("forbidden", "payload_too_large", "connection_lost", ...),
 * `code` the protocol ErrorCode (0 for client-side errors), `retryable` whether repeating may succeed.
 */
export class GatewayError extends Error {
  /** Protocol error code (u16), 0 for errors raised by the client itself. */
  readonly code: number;
  /** Whether repeating the same request later may succeed. */
  readonly retryable: boolean;
  /** Whether the gateway closes the connection after this error. */
  readonly fatal: boolean;
  /** Correlation id of the request it answers (0 when unsolicited). */
  readonly correlationId: number;

  constructor(code: number, message: string, options: { name?: string; retryable?: boolean; fatal?: boolean; correlationId?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const info = errorInfo(code);
    this.code = code;
    this.name = options.name ?? info.name;
    this.retryable = options.retryable ?? info.retryable;
    this.fatal = options.fatal ?? info.fatal;
    this.correlationId = options.correlationId ?? 0;
  }

  /** An error raised by the client (code 0). */
  static client(name: ClientErrorName, message: string, cause?: unknown): GatewayError {
    return new GatewayError(0, message, { name, retryable: clientErrors[name], fatal: false, cause });
  }

  /** Wraps a codec error. */
  static fromProtocol(error: ProtocolError): GatewayError {
    return new GatewayError(error.code, error.message, { cause: error });
  }

  /** Maps a WebSocket close code to the error it stands for (undefined for normal closes and unknown codes). */
  static fromCloseCode(closeCode: number, reason: string): GatewayError | undefined {
    const byClose: Record<number, number> = {
      4001: ErrorCode.Unauthorized,
      4002: ErrorCode.TokenExpired,
      4003: ErrorCode.ConnectTimeout,
      4004: ErrorCode.IdleTimeout,
      4008: ErrorCode.SlowConsumer,
      4009: ErrorCode.TooManyConnections,
      4010: ErrorCode.UserConnectionLimit,
      1012: ErrorCode.ServerShuttingDown,
      1011: ErrorCode.InternalError,
      1003: ErrorCode.TextNotSupported,
      1007: ErrorCode.InvalidUtf8,
      1009: ErrorCode.FrameTooLarge,
    };
    const code = byClose[closeCode];
    if (code === undefined) return undefined;
    return new GatewayError(code, reason || errorInfo(code).description);
  }
}

/** Normalises anything thrown into a GatewayError (AbortSignal reasons are passed through by callers). */
export function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  if (error instanceof ProtocolError) return GatewayError.fromProtocol(error);
  const message = error instanceof Error ? error.message : String(error);
  return GatewayError.client("connection_lost", message, error);
}
