namespace Gateway.Operations.Stats;

/// <summary>
/// The key figures of one node over one interval, as served by <c>/api/v1/stats</c> and kept in the
/// performance history. Rates are per second over the interval; depths and counts are at its end.
/// </summary>
internal sealed record StatsSnapshot
{
    public required DateTimeOffset Timestamp { get; init; }

    public required double IntervalSeconds { get; init; }

    public required string Node { get; init; }

    public required bool Draining { get; init; }

    public required long Connections { get; init; }

    public required long ConnectionLimit { get; init; }

    public required double ConnectionsOpenedPerSecond { get; init; }

    public required double ConnectionsClosedPerSecond { get; init; }

    public required long Topics { get; init; }

    /// <summary>Messages accepted into the priority rings per second.</summary>
    public required PriorityFigures PublishedPerSecond { get; init; }

    /// <summary>Messages dispatched (offset assigned, fanned out) per second.</summary>
    public required PriorityFigures DeliveredPerSecond { get; init; }

    /// <summary>Messages shed by slow connections' outbound queues per second.</summary>
    public required PriorityFigures ShedPerSecond { get; init; }

    /// <summary>Message frames queued to connections per second (fan-out).</summary>
    public required double DeliveriesPerSecond { get; init; }

    public required double FramesInPerSecond { get; init; }

    public required double FramesOutPerSecond { get; init; }

    public required double BytesInPerSecond { get; init; }

    public required double BytesOutPerSecond { get; init; }

    public required PriorityFigures RingDepth { get; init; }

    public required long RingCapacity { get; init; }

    public required LatencyFigures DispatchLatency { get; init; }

    public required LatencyFigures EndToEndLatency { get; init; }

    public required double SlowConsumerClosesPerSecond { get; init; }

    public required long SlowConsumerClosesTotal { get; init; }

    public required double AuthFailuresPerSecond { get; init; }

    public required long AuthFailuresTotal { get; init; }

    public required double ProtocolErrorsPerSecond { get; init; }

    public required double PublishRejectsPerSecond { get; init; }

    public required string Engine { get; init; }

    public required bool EngineAvailable { get; init; }

    /// <summary>The engine's state text (e.g. "connected (sharded pub/sub)", "unreachable since ...").</summary>
    public string EngineState { get; init; } = "";

    /// <summary>The engine's circuit breaker: closed, open or half-open.</summary>
    public string EngineCircuit { get; init; } = "closed";
}
