using Microsoft.Extensions.Logging;

namespace Gateway.Dispatch;

/// <summary>Source-generated log messages of the dispatch core.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Dispatcher started on node {NodeId} with {Workers} workers (engine {Engine})")]
    public static partial void Started(ILogger logger, string nodeId, int workers, string engine);

    [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "Dispatch worker {Worker} failed handling a {Kind} item on topic {Topic}; the worker continues")]
    public static partial void WorkerFault(ILogger logger, Exception exception, int worker, DispatchItemKind kind, string? topic);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Connection {ConnectionId} closed as a slow consumer (queue full of critical/high messages)")]
    public static partial void SlowConsumer(ILogger logger, string connectionId);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Dispatcher stopped: {Processed} items processed after stop was requested")]
    public static partial void Stopped(ILogger logger, long processed);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Control ring of worker {Worker} is full; {What} for connection {ConnectionId} falls back to lazy cleanup")]
    public static partial void ControlRingFull(ILogger logger, int worker, string what, string connectionId);
}
