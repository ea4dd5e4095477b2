namespace Gateway.Dispatch;

/// <summary>
/// The scale-out seam: where a topic's stream lives (epoch, offsets, history, retained state, pending
/// notifications). The dispatcher creates one <see cref="ITopicStream"/> per topic and calls it only
/// from the topic's owning worker thread, so an implementation needs no locking per topic.
/// The default <see cref="InMemoryDispatchEngine"/> keeps everything in process. A remote engine
/// (<see cref="Engines.Redis.RedisDispatchEngine"/>) exposes <see cref="Remote"/>: offsets come from the
/// shared store, and messages published on other nodes come back through <see cref="IDispatchEngineSink"/>
/// with their positions, so local fan-out happens exactly as for local publishes.
/// </summary>
public interface IDispatchEngine : IDisposable
{
    /// <summary>A short name for health and metrics (e.g. "in-memory", "redis").</summary>
    string Name { get; }

    /// <summary>False while the engine cannot guarantee delivery (the dispatcher then rejects with EngineUnavailable).</summary>
    bool IsAvailable { get; }

    /// <summary>The engine's circuit breaker (always <see cref="EngineCircuitState.Closed"/> for a local engine).</summary>
    EngineCircuitState Circuit { get; }

    /// <summary>A short state for health and the dashboard (e.g. "local", "connected", "unreachable since 12:01:02Z").</summary>
    string State { get; }

    /// <summary>
    /// Null for engines whose streams live in this process and assign positions on the owning worker
    /// (<see cref="ITopicStream.Append"/>). Otherwise the store's asynchronous operations: the dispatcher
    /// then uses streams from <see cref="CreateStream"/> only as a local cache of what this node delivered.
    /// </summary>
    IRemoteStreams? Remote { get; }

    /// <summary>Creates the stream of <paramref name="topic"/>; called once per topic per node.</summary>
    ITopicStream CreateStream(string topic, TopicKind kind);

    /// <summary>Connects the engine to the local dispatcher, to which it hands messages published elsewhere.</summary>
    void Attach(IDispatchEngineSink sink);
}

/// <summary>Where an engine delivers messages published on other nodes (implemented by <see cref="Dispatcher"/>).</summary>
public interface IDispatchEngineSink
{
    /// <summary>
    /// Queues a message published on another node, with the position the store assigned, for local fan-out
    /// (never appended again). Delivered in offset order per topic; a duplicate (offset already delivered)
    /// is dropped. Ignored when this node has no local interest in the topic.
    /// </summary>
    void DeliverRemote(string topic, Gateway.Protocol.StreamPosition position, long timestampMs, Gateway.Protocol.Frames.Priority priority, ReadOnlySpan<byte> payload);

    /// <summary>
    /// The engine's connection was restored: every topic with local interest catches up from the stream,
    /// from the last offset it delivered (the live feed alone is never trusted to have carried everything).
    /// </summary>
    void OnEngineRestored();
}

/// <summary>State of an engine's circuit breaker (exported as a metric: the numeric value).</summary>
public enum EngineCircuitState
{
    /// <summary>Calls flow.</summary>
    Closed = 0,

    /// <summary>Too many recent failures: calls fail fast until the break ends.</summary>
    Open = 1,

    /// <summary>Trial calls after a break.</summary>
    HalfOpen = 2,
}
