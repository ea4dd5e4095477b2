using Gateway.Protocol.Errors;

namespace Gateway.Client;

/// <summary>
/// An error reported by the gateway (an Error frame or a close code) or detected by the client for a
/// protocol rule, with the protocol <see cref="ErrorCode"/> and whether retrying can help.
/// </summary>
public class GatewayException : Exception
{
    /// <summary>Creates an exception for a protocol error code.</summary>
    /// <param name="code">The protocol error code.</param>
    /// <param name="correlationId">The correlation id of the failed request (0 for connection-level errors).</param>
    /// <param name="message">The server's text or a description.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    public GatewayException(ErrorCode code, uint correlationId, string message, Exception? innerException = null)
        : base(Format(code, message), innerException)
    {
        Code = code;
        CorrelationId = correlationId;
        ServerText = message;
    }

    /// <summary>Creates an exception without a protocol code (used by <see cref="GatewayConnectionException"/>).</summary>
    protected GatewayException(string message, Exception? innerException)
        : base(message, innerException)
    {
        Code = ErrorCode.None;
        ServerText = message;
    }

    /// <summary>The protocol error code; <see cref="ErrorCode.None"/> for transport failures.</summary>
    public ErrorCode Code { get; }

    /// <summary>The stable snake_case name of <see cref="Code"/> (for example <c>unauthorized</c>).</summary>
    public string ErrorName => Code == ErrorCode.None ? "connection_lost" : ErrorCatalog.Get(Code).Name;

    /// <summary>Whether the same request may succeed later (after a pause, a reconnect or a new token).</summary>
    public virtual bool IsRetryable => Code == ErrorCode.None || ErrorCatalog.Get(Code).Retryable;

    /// <summary>Whether the gateway closes the connection after this error.</summary>
    public bool IsFatal => Code != ErrorCode.None && ErrorCatalog.Get(Code).Fatal;

    /// <summary>Correlation id of the request that failed; 0 for connection-level errors.</summary>
    public uint CorrelationId { get; }

    /// <summary>The text sent by the gateway (or the client's description).</summary>
    public string ServerText { get; }

    private static string Format(ErrorCode code, string message) =>
        $"{ErrorCatalog.Get(code).Name} (0x{(ushort)code:x4}): {message}";
}
