using System.Collections.Frozen;

namespace Gateway.Protocol.Errors;

/// <summary>The normative error table of protocol v1 (mirrors docs/protocol.md §6).</summary>
public static class ErrorCatalog
{
    private static readonly ErrorInfo[] Table =
    [
        new(ErrorCode.MalformedFrame, "malformed_frame", false, true, 1002, 400, "The frame is structurally invalid."),
        new(ErrorCode.UnknownFrameKind, "unknown_frame_kind", false, true, 1002, 400, "The kind byte is not a known frame kind."),
        new(ErrorCode.FrameTooLarge, "frame_too_large", false, true, 1009, 413, "The declared frame length exceeds the maximum."),
        new(ErrorCode.FieldOverrun, "field_overrun", false, true, 1002, 400, "A length-prefixed field runs past the end of the frame."),
        new(ErrorCode.TrailingBytes, "trailing_bytes", false, true, 1002, 400, "Bytes remain after the last field of the frame."),
        new(ErrorCode.InvalidFlags, "invalid_flags", false, true, 1002, 400, "A flag bit not defined for this frame kind is set."),
        new(ErrorCode.InvalidUtf8, "invalid_utf8", false, true, 1007, 400, "A string field is not valid UTF-8."),
        new(ErrorCode.InvalidTopic, "invalid_topic", false, true, 1008, 400, "The topic is empty, too long or has a forbidden character."),
        new(ErrorCode.InvalidPriority, "invalid_priority", false, true, 1002, 400, "The priority byte is not 0-3."),
        new(ErrorCode.FieldTooLong, "field_too_long", false, true, 1009, 400, "A string field exceeds its bound."),
        new(ErrorCode.UnsupportedVersion, "unsupported_version", false, true, 1002, 400, "The protocol version is not supported."),
        new(ErrorCode.TextNotSupported, "text_not_supported", false, true, 1003, 415, "Text WebSocket messages are not part of the protocol."),
        new(ErrorCode.UnexpectedFrame, "unexpected_frame", false, true, 1008, 400, "The frame kind is not allowed in this direction or state."),

        new(ErrorCode.Unauthorized, "unauthorized", false, true, 4001, 401, "The token is missing or invalid."),
        new(ErrorCode.TokenExpired, "token_expired", true, true, 4002, 401, "The token expired; reconnect with a fresh token."),
        new(ErrorCode.ConnectTimeout, "connect_timeout", true, true, 4003, 408, "No Connect frame arrived within the deadline."),
        new(ErrorCode.IdleTimeout, "idle_timeout", true, true, 4004, 408, "Nothing was received within the idle timeout."),
        new(ErrorCode.FrameTimeout, "frame_timeout", true, true, 4005, 408, "A frame that had begun did not complete within the frame deadline."),

        new(ErrorCode.Forbidden, "forbidden", false, false, 0, 403, "The token does not allow this operation on this topic."),
        new(ErrorCode.NotSubscribed, "not_subscribed", false, false, 0, 409, "The connection is not subscribed to this topic."),
        new(ErrorCode.AlreadySubscribed, "already_subscribed", false, false, 0, 409, "The connection is already subscribed to this topic."),
        new(ErrorCode.PayloadTooLarge, "payload_too_large", false, false, 0, 413, "The payload exceeds the payload limit."),
        new(ErrorCode.TooManySubscriptions, "too_many_subscriptions", false, false, 0, 409, "The connection has the maximum number of subscriptions."),
        new(ErrorCode.RecoveryIncomplete, "recovery_incomplete", false, false, 0, 409, "A recovery that had started could not be completed; messages after the last replayed offset are missing: refetch state."),
        new(ErrorCode.IdempotencyConflict, "idempotency_conflict", false, false, 0, 422, "The idempotency key was already used with a different request."),

        new(ErrorCode.RateLimited, "rate_limited", true, false, 0, 429, "The frame or byte rate limit was exceeded; slow down."),
        new(ErrorCode.Overloaded, "overloaded", true, false, 0, 503, "The node cannot accept this now; retry later."),
        new(ErrorCode.SlowConsumer, "slow_consumer", true, true, 4008, 503, "The connection could not keep up and was closed; reconnect and recover."),
        new(ErrorCode.TooManyConnections, "too_many_connections", true, true, 4009, 503, "The node or client-address connection limit was reached."),
        new(ErrorCode.UserConnectionLimit, "user_connection_limit", true, true, 4010, 429, "The user has the maximum number of connections on this node; close one first."),

        new(ErrorCode.ServerShuttingDown, "server_shutting_down", true, true, 1012, 503, "The node is shutting down; reconnect elsewhere."),
        new(ErrorCode.InternalError, "internal_error", true, true, 1011, 500, "Unexpected server fault."),
        new(ErrorCode.EngineUnavailable, "engine_unavailable", true, false, 0, 503, "The scale-out engine is unreachable; retry later."),
    ];

    private static readonly FrozenDictionary<ErrorCode, ErrorInfo> ByCode = Table.ToFrozenDictionary(e => e.Code);

    /// <summary>Every defined error, in table order.</summary>
    public static IReadOnlyList<ErrorInfo> All => Table;

    /// <summary>Looks up a code; unknown codes (from a newer peer) get a generic non-retryable entry.</summary>
    public static ErrorInfo Get(ErrorCode code) =>
        ByCode.TryGetValue(code, out var info)
            ? info
            : new ErrorInfo(code, "unknown_" + ((ushort)code).ToString("x4", System.Globalization.CultureInfo.InvariantCulture), false, false, 0, 500, "Unknown error code.");

    /// <summary>Whether <paramref name="code"/> is defined in protocol v1.</summary>
    public static bool IsDefined(ErrorCode code) => ByCode.ContainsKey(code);
}
