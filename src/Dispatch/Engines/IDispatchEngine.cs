namespace Gateway.Dispatch;

/// <summary>
/// The scale-out seam: where a topic's stream lives (epoch, offsets, history, retained state, pending
/// notifications). The dispatcher creates one <see cref="ITopicStream"/> per topic and calls it only
/// from the topic's owning worker thread, so an implementation needs no locking per topic.
/// The default <see cref="InMemoryDispatchEngine"/> keeps everything in process. A Redis engine would
/// assign offsets from a shared counter, keep history in a stream, and feed messages published on
/// other nodes back through <see cref="IDispatchEngineSink"/> so local fan-out happens exactly as for
/// local publishes.
/// </summary>
public interface IDispatchEngine : IDisposable
{
    /// <summary>A short name for health and metrics (e.g. "in-memory", "redis").</summary>
    string Name { get; }

    /// <summary>False while the engine cannot guarantee delivery (the dispatcher then rejects with EngineUnavailable).</summary>
    bool IsAvailable { get; }

    /// <summary>Creates the stream of <paramref name="topic"/>; called once per topic per node.</summary>
    ITopicStream CreateStream(string topic, TopicKind kind);

    /// <summary>Connects the engine to the local dispatcher, to which it hands messages published elsewhere.</summary>
    void Attach(IDispatchEngineSink sink);
}

/// <summary>Where an engine delivers messages published on other nodes (implemented by <see cref="Dispatcher"/>).</summary>
public interface IDispatchEngineSink
{
    /// <summary>Queues a remote message for local fan-out. Returns Overloaded when the ring is full.</summary>
    Gateway.Protocol.Errors.ErrorCode DeliverRemote(string topic, Gateway.Protocol.Frames.Priority priority, ReadOnlySpan<byte> payload);
}
