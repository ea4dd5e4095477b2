using Gateway.Protocol.Buffers;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch;

/// <summary>What a ring slot asks a worker to do.</summary>
internal enum DispatchItemKind : byte
{
    Publish,
    Subscribe,
    Unsubscribe,
    RemoveSubscriber,
    AttachUser,
    Ack,
    BroadcastSlice,

    /// <summary>A message whose position a remote store assigned (own append completed, or another node's).</summary>
    Positioned,

    /// <summary>Remote interest started: the live feed is subscribed and the position (and retained state) read.</summary>
    Initialized,

    /// <summary>Run a deferred request again (remote probe finished, or initialization must be retried).</summary>
    Retry,

    /// <summary>Messages read from the store to fill a gap or catch up after a reconnect.</summary>
    Filled,
}

/// <summary>
/// One unit of work, stored inline in a ring slot (a struct: enqueueing allocates nothing). The
/// buffer, when present, carries one reference owned by the item.
/// </summary>
internal struct DispatchItem
{
    public DispatchItemKind Kind;
    public Priority Priority;
    public bool Recover;
    public uint CorrelationId;
    public TopicState? Topic;
    public FrameBuffer? Buffer;
    public Session? Session;
    public PublishCompletion? Completion;
    public long EnqueuedTimestamp;

    /// <summary>Deliveries this publish was admitted for (its share of the worker's pending deliveries).</summary>
    public int Cost;
    public ulong Epoch;
    public ulong Offset;

    /// <summary>Remote engines: the result of an asynchronous step (probe, initialization, fill) for the owner.</summary>
    public object? State;
}
