using Gateway.Protocol;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch;

/// <summary>
/// The asynchronous half of the engine seam, for engines whose streams live in a shared store (Redis):
/// positions are assigned by the store, so the dispatcher appends <b>before</b> a message enters its owner's
/// ring and fans out by position. Calls never block a worker: every member returns a task, and calls of one
/// topic issued in order are executed in order (pipelined on one connection), so offsets follow issue order.
/// See docs/scale-out.md.
/// </summary>
public interface IRemoteStreams
{
    /// <summary>Appends a publish; completes with the assigned (epoch, offset). Faults when the store is unreachable.</summary>
    Task<StreamPosition> AppendAsync(string topic, TopicKind kind, Priority priority, long timestampMs, ReadOnlyMemory<byte> payload);

    /// <summary>The topic's current position (epoch created on first use).</summary>
    Task<StreamPosition> GetPositionAsync(string topic);

    /// <summary>Paged, contiguous range read of history after <paramref name="after"/> (as <see cref="ITopicStream.ReadHistory"/>).</summary>
    Task<RemotePage> ReadHistoryAsync(string topic, StreamPosition after, int maxMessages, long maxBytes);

    /// <summary>Paged read of a user's pending notifications after <paramref name="afterOffset"/>.</summary>
    Task<RemotePage> ReadPendingAsync(string userTopic, ulong afterOffset, int maxMessages);

    /// <summary>Acknowledges a notification for every node.</summary>
    Task<bool> AcknowledgeAsync(string userTopic, ulong offset);

    /// <summary>The retained latest message of a workflow topic, or null.</summary>
    Task<RemoteMessageData?> GetRetainedAsync(string workflowTopic);

    /// <summary>
    /// Starts (or stops) receiving the topic's live feed: called when this node gains its first local
    /// subscriber of the topic, or loses its last. Completes once the subscription is active, so a position
    /// read afterwards covers everything the feed will not deliver.
    /// </summary>
    Task SetInterestAsync(string topic, bool interested);
}

/// <summary>A message as stored by a remote engine.</summary>
public readonly record struct RemoteMessageData(StreamPosition Position, Priority Priority, long TimestampMs, ReadOnlyMemory<byte> Payload);

/// <summary>One page of a remote read: the status (for history) and the messages in offset order.</summary>
public sealed record RemotePage(HistoryReadStatus Status, ulong Epoch, IReadOnlyList<RemoteMessageData> Messages);
