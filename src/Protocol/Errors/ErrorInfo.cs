namespace Gateway.Protocol.Errors;

/// <summary>What a client must know about an <see cref="ErrorCode"/>.</summary>
/// <param name="Code">The code.</param>
/// <param name="Name">Stable snake_case name (used in logs, metrics labels and problem+json).</param>
/// <param name="Retryable">Whether repeating the same request later may succeed.</param>
/// <param name="Fatal">Whether the connection is closed after this error.</param>
/// <param name="CloseCode">WebSocket close code used when fatal (0 when not fatal).</param>
/// <param name="HttpStatus">HTTP status used by the HTTP API for this error.</param>
/// <param name="Description">One-line meaning.</param>
public sealed record ErrorInfo(ErrorCode Code, string Name, bool Retryable, bool Fatal, ushort CloseCode, int HttpStatus, string Description);
