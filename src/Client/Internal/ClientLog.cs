using Gateway.Protocol.Frames;
using Microsoft.Extensions.Logging;

namespace Gateway.Client.Internal;

/// <summary>
/// Source-generated log messages of the .NET client (no formatting or boxing unless the level is enabled).
/// Tokens never appear in any message.
/// </summary>
internal static partial class ClientLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "Event handler failed")]
    public static partial void EventHandlerFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Connecting to {Endpoint} failed: {Error}")]
    public static partial void ConnectFailed(ILogger logger, Uri endpoint, string error);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Connected to {Endpoint} (node {Node}, connection {Connection}, user {User})")]
    public static partial void Connected(ILogger logger, Uri endpoint, string node, string connection, string user);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "Connection to {Endpoint} lost: {Reason}")]
    public static partial void ConnectionLost(ILogger logger, Uri endpoint, string reason);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Reconnecting to {Endpoint} failed: {Error}")]
    public static partial void ReconnectFailed(ILogger logger, Uri endpoint, string error);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Recovery of {Topic} incomplete: {Error}")]
    public static partial void RecoveryIncomplete(ILogger logger, string topic, string error);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "Gateway error for no known subscription: {Error}")]
    public static partial void ErrorForUnknownSubscription(ILogger logger, string error);

    [LoggerMessage(EventId = 8, Level = LogLevel.Warning, Message = "Gateway error: {Error}")]
    public static partial void GatewayError(ILogger logger, string error);

    [LoggerMessage(EventId = 9, Level = LogLevel.Debug, Message = "Ignoring {Kind} frame")]
    public static partial void IgnoringFrame(ILogger logger, FrameKind kind);

    [LoggerMessage(EventId = 10, Level = LogLevel.Debug, Message = "Token refreshed; expires {Expiry}")]
    public static partial void TokenRefreshed(ILogger logger, DateTimeOffset expiry);

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning, Message = "Token refresh failed: {Error}")]
    public static partial void TokenRefreshFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 12, Level = LogLevel.Information, Message = "Gateway {Endpoint} sent GoAway ({Reason}); reconnecting after {Delay} ms")]
    public static partial void GoAwayReceived(ILogger logger, Uri endpoint, string reason, uint delay);
}
