namespace Gateway.Protocol.Errors;

/// <summary>
/// The only exception type the frame reader throws on malformed input. Carries the protocol
/// <see cref="ErrorCode"/> that the peer is told and the WebSocket close code that follows.
/// </summary>
public sealed class ProtocolException : Exception
{
    /// <summary>Creates an exception for <paramref name="code"/> with a human-readable reason.</summary>
    public ProtocolException(ErrorCode code, string message)
        : base(message)
    {
        Code = code;
    }

    /// <summary>The protocol error code.</summary>
    public ErrorCode Code { get; }

    /// <summary>The table entry of <see cref="Code"/>.</summary>
    public ErrorInfo Info => ErrorCatalog.Get(Code);

    /// <summary>Throws a <see cref="ProtocolException"/>; kept out of line so callers stay small.</summary>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public static void Throw(ErrorCode code, string message) => throw new ProtocolException(code, message);
}
