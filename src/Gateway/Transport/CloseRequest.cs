using Gateway.Protocol.Errors;

namespace Gateway.Transport;

/// <summary>
/// Why and how a connection ends: the Error frame to send first (when <see cref="Error"/> is set),
/// the WebSocket close code, and the metric/log label.
/// </summary>
/// <param name="Error">Error to report to the client; None for normal closes.</param>
/// <param name="Text">Error text (never contains a token).</param>
/// <param name="CorrelationId">Correlation id of the request that caused it (0 = none).</param>
/// <param name="CloseCode">WebSocket close code.</param>
/// <param name="Reason">Bounded label for metrics and logs.</param>
/// <param name="TransportFailed">The transport is already gone: write nothing more.</param>
/// <param name="StreamError">
/// When <paramref name="Error"/> is None: the Error frame that stands for the close code on a transport without close
/// codes (raw TCP), e.g. <c>server_shutting_down</c> for the 1001 at the end of a drain.
/// </param>
internal readonly record struct CloseRequest(ErrorCode Error, string? Text, uint CorrelationId, ushort CloseCode, string Reason, bool TransportFailed = false, ErrorCode StreamError = ErrorCode.None)
{
    /// <summary>The peer closed (WebSocket close frame or TCP end of stream).</summary>
    public static CloseRequest ClientClosed { get; } = new(ErrorCode.None, null, 0, 1000, "client_closed");

    /// <summary>The transport failed or was reset (nothing more can be written).</summary>
    public static CloseRequest Reset { get; } = new(ErrorCode.None, null, 0, 1006, "reset", TransportFailed: true);

    /// <summary>Closed at the end of a drain (after GoAway): WebSocket 1001, on TCP an Error <c>server_shutting_down</c>.</summary>
    public static CloseRequest Drained { get; } = new(ErrorCode.None, "The node finished draining; reconnect to another node.", 0, 1001, "drain", StreamError: ErrorCode.ServerShuttingDown);

    /// <summary>A fatal error with the catalog's close code.</summary>
    public static CloseRequest Fatal(ErrorCode error, string text, uint correlationId = 0)
    {
        var info = ErrorCatalog.Get(error);
        var closeCode = info.CloseCode != 0 ? info.CloseCode : (ushort)1008;
        return new CloseRequest(error, text, correlationId, closeCode, info.Name);
    }
}
