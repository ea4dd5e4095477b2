using Gateway.Protocol;
using Gateway.Protocol.Buffers;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch;

/// <summary>
/// One topic's stream as stored by an <see cref="IDispatchEngine"/>. Every member is called from the
/// topic's owning worker thread only (single-threaded by construction). Buffers are encoded Message
/// frames; a stream that keeps one takes its own reference and releases it when it lets go.
/// </summary>
public interface ITopicStream : IDisposable
{
    /// <summary>The topic.</summary>
    string Topic { get; }

    /// <summary>The current position: the epoch and the last assigned offset (0 before the first message).</summary>
    StreamPosition Position { get; }

    /// <summary>
    /// Assigns the next offset to <paramref name="message"/> and stores it (history; retained state for
    /// workflow topics; pending for user topics). The caller patches the position into the frame.
    /// </summary>
    StreamPosition Append(FrameBuffer message, Priority priority);

    /// <summary>
    /// Adds (with one reference each, in offset order) every message after <paramref name="from"/> to
    /// <paramref name="replay"/>; false, adding nothing, when that cannot be done completely (other epoch,
    /// trimmed history, or a position in the future).
    /// </summary>
    bool TryRecover(StreamPosition from, List<FrameBuffer> replay);

    /// <summary>The retained latest message (workflow topics), without a new reference; null when none.</summary>
    FrameBuffer? Retained { get; }

    /// <summary>Adds (with one reference each, in offset order) the unexpired unacknowledged notifications.</summary>
    void CollectPending(List<FrameBuffer> pending);

    /// <summary>Acknowledges the notification at <paramref name="offset"/>; false when it was not pending.</summary>
    bool Acknowledge(ulong offset);

    /// <summary>Number of pending notifications (user topics).</summary>
    int PendingCount { get; }

    /// <summary>
    /// True when the stream holds nothing worth keeping (history empty after trimming by age, no
    /// retained message, no pending notification): the dispatcher may then drop an unsubscribed topic.
    /// </summary>
    bool IsEmpty { get; }
}
