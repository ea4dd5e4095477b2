namespace Gateway.Operations.Stats;

/// <summary>
/// The compact view of one node that every node publishes into the cluster view (Redis) and
/// <c>/api/v1/stats/cluster</c> serves: identity, state and the key rates. Serialized as camel-case JSON;
/// readers tolerate missing or extra fields (nodes of different versions share a cluster during a rollout).
/// </summary>
internal sealed record NodeSummary
{
    /// <summary>The configured node id (<c>Gateway:NodeId</c>).</summary>
    public required string Node { get; init; }

    /// <summary>The process's unique id (the configured id plus a per-process suffix on the Redis engine).</summary>
    public required string Instance { get; init; }

    public required string Host { get; init; }

    public required int Pid { get; init; }

    /// <summary>The gateway's informational version.</summary>
    public required string Version { get; init; }

    /// <summary>When the process started.</summary>
    public required DateTimeOffset StartedAt { get; init; }

    /// <summary>When this summary was taken.</summary>
    public required DateTimeOffset Timestamp { get; init; }

    /// <summary><c>ready</c>, <c>draining</c> or <c>degraded</c> (see <see cref="StatusReason"/>).</summary>
    public required string Status { get; init; }

    /// <summary>Why the node is not ready (empty when ready).</summary>
    public required string StatusReason { get; init; }

    public required bool Draining { get; init; }

    public required string Engine { get; init; }

    public required bool EngineAvailable { get; init; }

    public required string EngineState { get; init; }

    public required string EngineCircuit { get; init; }

    public required long Connections { get; init; }

    public required long ConnectionLimit { get; init; }

    /// <summary>Topics the node holds (topics its clients subscribe to or publish on).</summary>
    public required long Topics { get; init; }

    /// <summary>Messages accepted per second (all priorities).</summary>
    public required double PublishedPerSecond { get; init; }

    /// <summary>Messages dispatched per second (all priorities).</summary>
    public required double DispatchedPerSecond { get; init; }

    /// <summary>Message frames queued to connections per second (fan-out).</summary>
    public required double DeliveriesPerSecond { get; init; }

    /// <summary>Builds the summary from the node's latest stats sample.</summary>
    public static NodeSummary From(StatsSnapshot s, string instance, string version, DateTimeOffset startedAt)
    {
        var (status, reason) = s switch
        {
            { Draining: true } => ("draining", "draining"),
            { EngineAvailable: false } => ("degraded", $"engine {s.Engine} {(s.EngineState.Length > 0 ? s.EngineState : "unreachable")}"),
            { EngineCircuit: not "closed" } => ("degraded", $"engine circuit {s.EngineCircuit}"),
            _ when s.Connections >= s.ConnectionLimit => ("degraded", "at connection cap"),
            _ => ("ready", ""),
        };
        return new NodeSummary
        {
            Node = s.Node,
            Instance = instance,
            Host = Environment.MachineName,
            Pid = Environment.ProcessId,
            Version = version,
            StartedAt = startedAt,
            Timestamp = s.Timestamp,
            Status = status,
            StatusReason = reason,
            Draining = s.Draining,
            Engine = s.Engine,
            EngineAvailable = s.EngineAvailable,
            EngineState = s.EngineState,
            EngineCircuit = s.EngineCircuit,
            Connections = s.Connections,
            ConnectionLimit = s.ConnectionLimit,
            Topics = s.Topics,
            PublishedPerSecond = s.PublishedPerSecond.Total,
            DispatchedPerSecond = s.DeliveredPerSecond.Total,
            DeliveriesPerSecond = s.DeliveriesPerSecond,
        };
    }
}
