using System.Text;
using Gateway.Protocol.Topics;

namespace Gateway.Dispatch;

/// <summary>
/// A topic as the dispatcher knows it: its UTF-8 name (encoded once), its owning worker (all its
/// publishes, subscribes and unsubscribes run there, which orders them totally), its engine stream
/// and its subscribers (touched only by the owner).
/// </summary>
internal sealed class TopicState
{
    private volatile bool _hasRetained;

    public TopicState(string name, DispatchWorker owner, ITopicStream stream)
    {
        Name = name;
        Utf8 = Encoding.UTF8.GetBytes(name);
        Owner = owner;
        Stream = stream;
        Kind = KindOf(name);
    }

    public string Name { get; }

    public byte[] Utf8 { get; }

    public DispatchWorker Owner { get; }

    public ITopicStream Stream { get; }

    public TopicKind Kind { get; }

    public SubscriberSet Subscribers { get; } = new();

    /// <summary>
    /// Set by the owner when the idle topic was dropped from the registry. Items still carrying this
    /// state are re-resolved by name on the same owner (same hash), so nothing reaches a dead stream.
    /// </summary>
    public bool Retired { get; set; }

    /// <summary>
    /// Set (by the owner) once the topic holds retained state; read by publishers to refuse new retained state
    /// when the node's retained budget is exhausted (an update of existing state is always accepted).
    /// </summary>
    public bool HasRetained
    {
        get => _hasRetained;
        set => _hasRetained = value;
    }

    /// <summary>Whether the topic counts against the node's topic budget (every topic but <c>broadcast</c>).</summary>
    public bool Counted { get; set; }

    // The owner's TopicList (owner thread only).

    /// <summary>In the owner's <see cref="TopicList"/>.</summary>
    public bool Listed { get; set; }

    /// <summary>Previous (less recently used) topic in the owner's list.</summary>
    public TopicState? LruPrev { get; set; }

    /// <summary>Next (more recently used) topic in the owner's list.</summary>
    public TopicState? LruNext { get; set; }

    /// <summary>When the topic was last used, as the owner list's stamp.</summary>
    public long LruStamp { get; set; }

    /// <summary>Replays in progress on this topic (owner thread only): an idle-topic sweep must keep it.</summary>
    public int ActiveReplays { get; set; }

    // Remote engines only (owner thread unless noted): see Dispatcher.Remote.cs.

    /// <summary>This node receives the topic's live feed and delivers positioned messages in offset order.</summary>
    public bool Live { get; set; }

    /// <summary>Interest is starting: the live feed is being subscribed and the position read.</summary>
    public bool Initializing { get; set; }

    /// <summary>Requests (subscribe, attach) waiting for <see cref="Initializing"/> to finish.</summary>
    public List<DispatchItem>? Deferred { get; set; }

    /// <summary>Positioned messages that arrived ahead of a missing offset, by offset (each holds one buffer reference).</summary>
    public SortedList<ulong, DispatchItem>? Reorder { get; set; }

    /// <summary>A fill (gap repair or catch-up read from the store) is in flight.</summary>
    public bool Filling { get; set; }

    /// <summary>The local cache, when the engine is remote.</summary>
    public InMemoryTopicStream? Cache => Stream as InMemoryTopicStream;

    public static TopicKind KindOf(string topic)
    {
        if (topic.StartsWith(TopicRules.UserPrefix, StringComparison.Ordinal))
        {
            return TopicKind.User;
        }

        if (topic.StartsWith(TopicRules.WorkflowPrefix, StringComparison.Ordinal))
        {
            return TopicKind.Workflow;
        }

        return topic == TopicRules.Broadcast ? TopicKind.Broadcast : TopicKind.Plain;
    }
}
