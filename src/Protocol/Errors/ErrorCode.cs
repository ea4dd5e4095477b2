namespace Gateway.Protocol.Errors;

/// <summary>
/// Protocol v1 error codes (u16 on the wire). The table in docs/protocol.md §6 is normative;
/// <see cref="ErrorCatalog"/> holds the same data for code.
/// 0x01xx: framing/decoding (fatal), 0x02xx: session (auth, lifecycle), 0x03xx: requests (non-fatal),
/// 0x04xx: capacity and flow control, 0x05xx: server.
/// </summary>
public enum ErrorCode : ushort
{
    /// <summary>No error.</summary>
    None = 0,

    // framing / decoding: the byte stream cannot be trusted any more, the connection is closed.
    /// <summary>A frame is structurally invalid (generic).</summary>
    MalformedFrame = 0x0101,
    /// <summary>The kind byte is not a known frame kind.</summary>
    UnknownFrameKind = 0x0102,
    /// <summary>The declared frame length exceeds the negotiated maximum.</summary>
    FrameTooLarge = 0x0103,
    /// <summary>A length-prefixed field runs past the end of its frame.</summary>
    FieldOverrun = 0x0104,
    /// <summary>Bytes remain in a frame after its last field.</summary>
    TrailingBytes = 0x0105,
    /// <summary>A header flag bit that is not defined for the frame kind is set.</summary>
    InvalidFlags = 0x0106,
    /// <summary>A string field is not valid UTF-8.</summary>
    InvalidUtf8 = 0x0107,
    /// <summary>A topic is empty, too long or contains a forbidden character.</summary>
    InvalidTopic = 0x0108,
    /// <summary>A priority byte is not 0–3.</summary>
    InvalidPriority = 0x0109,
    /// <summary>A string field exceeds its bound (token, client name, text).</summary>
    FieldTooLong = 0x010A,
    /// <summary>The protocol version is not supported (subprotocol, TCP hello or connect frame).</summary>
    UnsupportedVersion = 0x010B,
    /// <summary>A WebSocket text message was received; the protocol is binary only.</summary>
    TextNotSupported = 0x010C,
    /// <summary>A frame kind was sent in the wrong direction or state (e.g. Subscribe before Connect).</summary>
    UnexpectedFrame = 0x010D,

    // session
    /// <summary>The token is missing, malformed, badly signed or for another audience/issuer.</summary>
    Unauthorized = 0x0201,
    /// <summary>The token expired (at connect, or later on a live connection).</summary>
    TokenExpired = 0x0202,
    /// <summary>No Connect frame arrived within the deadline.</summary>
    ConnectTimeout = 0x0203,
    /// <summary>No frame arrived within the idle timeout (half-open connection).</summary>
    IdleTimeout = 0x0204,
    /// <summary>A frame that had begun did not complete within the frame deadline (a dribbled frame).</summary>
    FrameTimeout = 0x0205,

    // requests (the connection stays open)
    /// <summary>The token does not allow this subscribe or publish.</summary>
    Forbidden = 0x0301,
    /// <summary>Unsubscribe or ack of a topic the connection is not subscribed to.</summary>
    NotSubscribed = 0x0302,
    /// <summary>The connection is already subscribed to this topic.</summary>
    AlreadySubscribed = 0x0303,
    /// <summary>The payload exceeds the payload limit.</summary>
    PayloadTooLarge = 0x0304,
    /// <summary>The connection has the maximum number of subscriptions.</summary>
    TooManySubscriptions = 0x0305,
    /// <summary>
    /// A recovery answered <c>Recovered</c> could not be completed (history trimmed or unreadable while the
    /// replay was paged out): messages after the last replayed offset are missing. The subscription stays,
    /// live messages follow; the client refetches its state as for <c>RecoveryFailed</c>.
    /// </summary>
    RecoveryIncomplete = 0x0306,
    /// <summary>An idempotency key was reused with a different request (HTTP API only).</summary>
    IdempotencyConflict = 0x0307,

    // capacity / flow control
    /// <summary>The per-connection frame or byte rate was exceeded. Retryable after a pause.</summary>
    RateLimited = 0x0401,
    /// <summary>The node cannot accept the publish now (queue full). Retryable.</summary>
    Overloaded = 0x0402,
    /// <summary>The connection could not keep up and was closed; reconnect and recover.</summary>
    SlowConsumer = 0x0403,
    /// <summary>Connection limit of the node or of the client address reached. Retryable elsewhere/later.</summary>
    TooManyConnections = 0x0404,
    /// <summary>
    /// The authenticated user already has the maximum number of connections on this node
    /// (<c>Gateway:Limits:MaxConnectionsPerUser</c>). Retryable once another connection of the user closes.
    /// </summary>
    UserConnectionLimit = 0x0405,

    // server
    /// <summary>The node is shutting down or draining; reconnect (see GoAway).</summary>
    ServerShuttingDown = 0x0501,
    /// <summary>An unexpected server fault. Retryable.</summary>
    InternalError = 0x0502,
    /// <summary>The scale-out engine is unreachable; the operation cannot be guaranteed now. Retryable.</summary>
    EngineUnavailable = 0x0503,
}
