using Gateway.Protocol.Buffers;

namespace Gateway.Dispatch;

/// <summary>One client connection as the dispatch core sees it: identity, subscriptions and its outbound queue.</summary>
public sealed class Session
{
    private readonly Lock _lock = new();
    private readonly HashSet<string> _subscriptions = new(StringComparer.Ordinal);
    private List<ReplayCursor>? _replays;
    private int _closed;

    internal Session(string connectionId, string? userId, OutboundQueue outbound, int slice)
    {
        ConnectionId = connectionId;
        UserId = userId;
        Outbound = outbound;
        Slice = slice;
        outbound.Drained = ResumeReplays;
    }

    /// <summary>The host's connection id.</summary>
    public string ConnectionId { get; }

    /// <summary>The authenticated user, or null (service connections).</summary>
    public string? UserId { get; }

    /// <summary>Frames waiting to be written to this connection.</summary>
    public OutboundQueue Outbound { get; }

    /// <summary>Current subscriptions (including the automatic <c>user:{id}</c> one).</summary>
    public int SubscriptionCount
    {
        get
        {
            lock (_lock)
            {
                return _subscriptions.Count;
            }
        }
    }

    /// <summary>True after <see cref="Dispatcher.Disconnect"/> or a slow-consumer close.</summary>
    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>The broadcast slice (= worker index) that delivers broadcasts to this session.</summary>
    internal int Slice { get; }

    /// <summary>Position in its broadcast slice's array (maintained under the slice's lock).</summary>
    internal int SliceIndex { get; set; } = -1;

    /// <summary>Position in its user's <see cref="UserSessions"/> array (maintained under that entry's lock).</summary>
    internal int UserIndex { get; set; } = -1;

    /// <summary>
    /// Queues a frame of the host's own (Connected, Pong, Error, Refreshed, GoAway). Takes ownership;
    /// never shed; false (and the buffer released) when the session is closed.
    /// </summary>
    public bool TryEnqueueControl(FrameBuffer frame) => Outbound.TryEnqueueControl(frame);

    /// <summary>A snapshot of the topics the session is subscribed to (e.g. to re-check them against a refreshed token).</summary>
    public string[] SubscribedTopics()
    {
        lock (_lock)
        {
            return [.. _subscriptions];
        }
    }

    /// <summary>Whether the session is subscribed to <paramref name="topic"/>.</summary>
    public bool IsSubscribed(string topic)
    {
        lock (_lock)
        {
            return _subscriptions.Contains(topic);
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"Session({ConnectionId}, user {UserId ?? "-"})";

    internal bool MarkClosed() => Interlocked.Exchange(ref _closed, 1) == 0;

    internal Gateway.Protocol.Errors.ErrorCode TryAddSubscription(string topic, int maxSubscriptions)
    {
        lock (_lock)
        {
            if (_subscriptions.Contains(topic))
            {
                return Gateway.Protocol.Errors.ErrorCode.AlreadySubscribed;
            }

            if (_subscriptions.Count >= maxSubscriptions)
            {
                return Gateway.Protocol.Errors.ErrorCode.TooManySubscriptions;
            }

            _subscriptions.Add(topic);
            return Gateway.Protocol.Errors.ErrorCode.None;
        }
    }

    internal void AddSubscriptionUnchecked(string topic)
    {
        lock (_lock)
        {
            _subscriptions.Add(topic);
        }
    }

    internal bool RemoveSubscription(string topic)
    {
        lock (_lock)
        {
            return _subscriptions.Remove(topic);
        }
    }

    /// <summary>Replays in progress (tests, stats).</summary>
    internal int ReplayCount
    {
        get
        {
            lock (_lock)
            {
                return _replays?.Count ?? 0;
            }
        }
    }

    internal void AddReplay(ReplayCursor cursor)
    {
        lock (_lock)
        {
            (_replays ??= []).Add(cursor);
        }
    }

    internal void RemoveReplay(ReplayCursor cursor)
    {
        lock (_lock)
        {
            _replays?.Remove(cursor);
        }
    }

    /// <summary>The replay in progress for <paramref name="topic"/>, or null.</summary>
    internal ReplayCursor? FindReplay(TopicState topic)
    {
        lock (_lock)
        {
            if (_replays is null)
            {
                return null;
            }

            foreach (var cursor in _replays)
            {
                if (ReferenceEquals(cursor.Topic, topic) || cursor.Topic.Name == topic.Name)
                {
                    return cursor;
                }
            }

            return null;
        }
    }

    /// <summary>
    /// The outbound queue drained after refusing a replay page: schedule every replay of this session on its
    /// owning worker (once each). Runs on the writer's thread; only enqueues.
    /// </summary>
    private void ResumeReplays()
    {
        lock (_lock)
        {
            if (_replays is null)
            {
                return;
            }

            foreach (var cursor in _replays)
            {
                if (Interlocked.Exchange(ref cursor.Scheduled, 1) == 0)
                {
                    cursor.Topic.Owner.ScheduleReplay(cursor);
                }
            }
        }
    }

    internal string[] TakeSubscriptions()
    {
        lock (_lock)
        {
            var all = _subscriptions.ToArray();
            _subscriptions.Clear();
            return all;
        }
    }
}
