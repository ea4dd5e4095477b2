namespace Gateway.Protocol.WebSockets;

/// <summary>
/// The only exception the WebSocket codec throws on bad input: the typed <see cref="Error"/> and the close code the
/// connection is closed with (1002 protocol error, 1003 text, 1007 bad UTF-8, 1009 too big).
/// </summary>
public sealed class WebSocketProtocolException : Exception
{
    /// <summary>Creates the exception for <paramref name="error"/>.</summary>
    public WebSocketProtocolException(WebSocketProtocolError error, string message)
        : base(message)
    {
        Error = error;
    }

    /// <summary>What was wrong.</summary>
    public WebSocketProtocolError Error { get; }

    /// <summary>The RFC 6455 close code for <see cref="Error"/>.</summary>
    public ushort CloseCode => CloseCodeOf(Error);

    /// <summary>The RFC 6455 close code for <paramref name="error"/>.</summary>
    public static ushort CloseCodeOf(WebSocketProtocolError error) => error switch
    {
        WebSocketProtocolError.TextNotSupported => WebSocketCloseCodes.UnsupportedData,
        WebSocketProtocolError.MessageTooBig => WebSocketCloseCodes.MessageTooBig,
        WebSocketProtocolError.InvalidCloseReason => WebSocketCloseCodes.InvalidPayload,
        _ => WebSocketCloseCodes.ProtocolError,
    };

    /// <summary>Throws; out of line so the parser stays small.</summary>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public static void Throw(WebSocketProtocolError error, string message) => throw new WebSocketProtocolException(error, message);
}
