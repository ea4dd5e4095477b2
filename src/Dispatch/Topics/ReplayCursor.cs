using Gateway.Protocol;

namespace Gateway.Dispatch;

/// <summary>Where a <see cref="ReplayCursor"/> reads from.</summary>
internal enum ReplaySource : byte
{
    /// <summary>Topic history: a Subscribe with Recover.</summary>
    History,

    /// <summary>The user's pending notifications: redelivery at Connect.</summary>
    Pending,
}

/// <summary>
/// One replay in progress for one (session, topic): recovery from history or redelivery of pending
/// notifications. The replay is paged out as the connection's outbound queue drains (never pushed into it
/// whole, never shed); the session joins the topic's live subscribers, on the owning worker, only once the
/// cursor has reached the stream's current position, so live messages published meanwhile are read from
/// the stream itself (which is the bounded hold-back buffer) and the seam has no gap and no duplicate.
/// Every field except <see cref="Scheduled"/> is touched only by the topic's owning worker.
/// </summary>
internal sealed class ReplayCursor
{
    /// <summary>1 while queued on the owner's replay queue (set by the session's drain signal).</summary>
    public int Scheduled;

    public ReplayCursor(Session session, TopicState topic, ReplaySource source, uint correlationId, StreamPosition after, ulong liveAfter)
    {
        Session = session;
        Topic = topic;
        Source = source;
        CorrelationId = correlationId;
        After = after;
        LiveAfter = liveAfter;
    }

    public Session Session { get; }

    public TopicState Topic { get; }

    public ReplaySource Source { get; }

    /// <summary>The Subscribe's correlation id (answers a failure mid-replay with <c>recovery_incomplete</c>).</summary>
    public uint CorrelationId { get; }

    /// <summary>The last position queued to the connection: the next page starts right after it.</summary>
    public StreamPosition After { get; set; }

    /// <summary>
    /// The stream's position when the replay began: messages up to it are flagged Replayed; later ones,
    /// published while the replay ran, are live messages to the client and go out unflagged.
    /// </summary>
    public ulong LiveAfter { get; }

    /// <summary>Set by Unsubscribe (or when finished): the next continuation does nothing.</summary>
    public bool Finished { get; set; }

    /// <summary>Remote engines: a page read from the store is in flight (its completion reschedules the cursor).</summary>
    public bool Fetching;

    /// <summary>Remote engines: the page read from the store, waiting for the owner.</summary>
    public ReplayPage? Prefetched { get; set; }

    /// <summary>Remote engines: the local position when the last page read was issued (pending replays end when it holds still).</summary>
    public ulong IssuedAt { get; set; }
}
