namespace Gateway.Dispatch;

/// <summary>
/// A snapshot of the dispatcher's figures for the ops dashboard (the same numbers the
/// <c>Gateway.Dispatch</c> meter exports). Per-priority lists are indexed by
/// <see cref="Gateway.Protocol.Frames.Priority"/> (critical = 0 … low = 3).
/// </summary>
public sealed class DispatcherStats
{
    /// <summary>Items waiting in the priority rings, summed over workers.</summary>
    public required IReadOnlyList<long> RingDepth { get; init; }

    /// <summary>Messages accepted into the priority rings since start.</summary>
    public required IReadOnlyList<long> Enqueued { get; init; }

    /// <summary>Messages taken from the priority rings and dispatched since start.</summary>
    public required IReadOnlyList<long> Dispatched { get; init; }

    /// <summary>Messages shed from (or refused by) connections' outbound queues since start.</summary>
    public required IReadOnlyList<long> Shed { get; init; }

    /// <summary>Items waiting in the control rings and broadcast lanes.</summary>
    public long ControlDepth { get; init; }

    /// <summary>Message frames queued to connections (one per recipient).</summary>
    public long Deliveries { get; init; }

    /// <summary>Deliveries per worker (fan-out balance).</summary>
    public required IReadOnlyList<long> DeliveriesByWorker { get; init; }

    /// <summary>Broadcast slices delivered per worker.</summary>
    public required IReadOnlyList<long> BroadcastSlicesByWorker { get; init; }

    /// <summary>Times each worker parked because it had nothing to do.</summary>
    public required IReadOnlyList<long> WakeupsByWorker { get; init; }

    /// <summary>Connections closed because critical/high messages could not be queued.</summary>
    public long SlowConsumerCloses { get; init; }

    /// <summary>Publishes refused because the ring was full (retryable).</summary>
    public long RejectedOverloaded { get; init; }

    /// <summary>Publishes refused because the payload was too large.</summary>
    public long RejectedPayloadTooLarge { get; init; }

    /// <summary>Publishes refused for an invalid topic or priority.</summary>
    public long RejectedInvalid { get; init; }

    /// <summary>Publishes refused while shutting down.</summary>
    public long RejectedShuttingDown { get; init; }

    /// <summary>Publishes refused while the engine was unavailable.</summary>
    public long RejectedEngineUnavailable { get; init; }

    /// <summary>Items whose handling threw (logged; the worker continued).</summary>
    public long WorkerFaults { get; init; }

    /// <summary>Acks dropped because a control ring was full (the notification stays pending: at-least-once).</summary>
    public long AcksDropped { get; init; }

    /// <summary>Recoveries that started (Recovered) but could not be completed: answered with recovery_incomplete.</summary>
    public long ReplaysIncomplete { get; init; }

    /// <summary>Registered connections.</summary>
    public int Connections { get; init; }

    /// <summary>Known topics.</summary>
    public int Topics { get; init; }

    /// <summary>Worker threads.</summary>
    public int Workers { get; init; }
}
