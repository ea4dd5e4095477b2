namespace Gateway.Dispatch;

/// <summary>
/// The default, single-node engine: every topic stream lives in this process. A restarted node creates
/// streams with new random epochs, so positions from before the restart report "cannot recover".
/// </summary>
public sealed class InMemoryDispatchEngine : IDispatchEngine
{
    private readonly HistoryOptions _history;
    private readonly int _maxPendingPerUser;
    private readonly TimeSpan _pendingTtl;
    private readonly TimeProvider _time;

    /// <summary>Creates the engine with the history and pending-notification bounds.</summary>
    public InMemoryDispatchEngine(HistoryOptions history, int maxPendingPerUser, TimeSpan pendingTtl, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(history);
        _history = history;
        _maxPendingPerUser = maxPendingPerUser;
        _pendingTtl = pendingTtl;
        _time = time ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public string Name => "in-memory";

    /// <inheritdoc />
    public bool IsAvailable => true;

    /// <inheritdoc />
    public string State => "local";

    /// <inheritdoc />
    public EngineCircuitState Circuit => EngineCircuitState.Closed;

    /// <inheritdoc />
    public IRemoteStreams? Remote => null;

    /// <inheritdoc />
    public ITopicStream CreateStream(string topic, TopicKind kind) =>
        new InMemoryTopicStream(topic, kind, NewEpoch(), _history, _maxPendingPerUser, _pendingTtl, _time);

    /// <inheritdoc />
    public void Attach(IDispatchEngineSink sink)
    {
        // Single node: every message is published locally, nothing arrives from elsewhere.
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }

    /// <summary>A random non-zero epoch, so a recreated stream never accepts positions of a previous one.</summary>
    // 53 bits: epochs travel as JSON numbers in the HTTP API, and JavaScript reads integers exactly only up to 2^53.
    internal static ulong NewEpoch() => (ulong)Random.Shared.NextInt64(1, 1L << 53);
}
