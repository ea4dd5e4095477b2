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
}
