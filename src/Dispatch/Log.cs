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

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Engine append failed for topic {Topic}; the publish is answered engine_unavailable")]
    public static partial void AppendFailed(ILogger logger, Exception exception, string topic);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "Engine step '{Step}' failed for topic {Topic}; retrying")]
    public static partial void EngineStepFailed(ILogger logger, Exception exception, string step, string topic);

    [LoggerMessage(EventId = 8, Level = LogLevel.Warning, Message = "Topic {Topic} changed epoch from {OldEpoch} to {NewEpoch} (the engine lost its stream); subscribers see the new epoch")]
    public static partial void EpochChanged(ILogger logger, string topic, ulong oldEpoch, ulong newEpoch);

    [LoggerMessage(EventId = 9, Level = LogLevel.Warning, Message = "Topic {Topic}: offsets {From}..{To} are no longer in the engine's history; local subscribers see a gap")]
    public static partial void FillGone(ILogger logger, string topic, ulong from, ulong to);

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Engine connection restored: catching up {Topics} topics with local interest from the stream")]
    public static partial void CatchingUp(ILogger logger, int topics);
}
