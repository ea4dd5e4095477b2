using Microsoft.Extensions.Logging;

namespace Gateway.Dispatch.Engines.Redis;

/// <summary>Source-generated log messages of the Redis store (event ids 100–119).</summary>
internal static partial class RedisStoreLog
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Redis store connected as node {NodeId} ({Endpoints}); live channels {ChannelKind}")]
    public static partial void Connected(ILogger logger, string nodeId, string endpoints, string channelKind);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Redis connection lost ({Endpoint}, {ConnectionType}, {FailureType}); operations fail until it is restored")]
    public static partial void ConnectionLost(ILogger logger, Exception? exception, string endpoint, string connectionType, string failureType);

    [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "Redis connection restored: scripts reloaded and {Topics} live subscriptions re-established")]
    public static partial void ConnectionRestored(ILogger logger, int topics);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "Redis connection came back but restoring the store failed; retrying on the next reconnect")]
    public static partial void RestoreFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 104, Level = LogLevel.Warning, Message = "Dropped a malformed live record on topic {Topic} ({Length} bytes)")]
    public static partial void MalformedRecord(ILogger logger, string topic, int length);

    [LoggerMessage(EventId = 105, Level = LogLevel.Error, Message = "The remote message handler failed on topic {Topic}; the store continues")]
    public static partial void HandlerFailed(ILogger logger, Exception exception, string topic);
}
