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
    /// Paged range read of history for recovery: adds (with one reference each, in offset order) the
    /// messages right after <paramref name="after"/> to <paramref name="page"/>, at most
    /// <paramref name="maxMessages"/> and, beyond the first, at most <paramref name="maxBytes"/>. The caller
    /// pages on from the last offset returned. The page is contiguous: it starts at <c>after.Offset + 1</c>
    /// and has no hole; when that cannot be guaranteed the read is <see cref="HistoryReadStatus.Gone"/>.
    /// </summary>
    /// <returns>
    /// <see cref="HistoryReadStatus.More"/> (more may follow), <see cref="HistoryReadStatus.End"/> (the page
    /// reaches the current position; possibly empty), or <see cref="HistoryReadStatus.Gone"/> (other epoch,
    /// a position in the future, or the next offset is no longer held: nothing added).
    /// </returns>
    HistoryReadStatus ReadHistory(StreamPosition after, int maxMessages, long maxBytes, List<FrameBuffer> page);

    /// <summary>The retained latest message (workflow topics), without a new reference; null when none.</summary>
    FrameBuffer? Retained { get; }

    /// <summary>
    /// Paged read of the unexpired, unacknowledged notifications (user topics) with an offset greater than
    /// <paramref name="afterOffset"/>: adds them (one reference each, in offset order) to
    /// <paramref name="page"/>, at most <paramref name="maxMessages"/> and, beyond the first, at most
    /// <paramref name="maxBytes"/>.
    /// </summary>
    /// <returns>True when the page reaches the last pending notification (possibly empty).</returns>
    bool ReadPending(ulong afterOffset, int maxMessages, long maxBytes, List<FrameBuffer> page);

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

/// <summary>Outcome of <see cref="ITopicStream.ReadHistory"/>.</summary>
public enum HistoryReadStatus
{
    /// <summary>A page was read; more messages follow.</summary>
    More,

    /// <summary>The page reaches the stream's current position.</summary>
    End,

    /// <summary>The range cannot be read completely (epoch changed, trimmed, or in the future): recovery fails.</summary>
    Gone,
}
