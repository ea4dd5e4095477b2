namespace Gateway.Dispatch;

/// <summary>
/// The node-wide budget for topic state (<see cref="TopicBudgetOptions"/>): use is the sum of the workers'
/// <see cref="BudgetLedger"/>s (bytes) and one topic counter changed only when a topic is created or dropped
/// (rare, off the per-message path). Evictions and refusals are counted here for the metrics.
/// </summary>
internal sealed class NodeBudget
{
    private readonly BudgetLedger[] _ledgers;
    private int _topics;
    private long _topicsEvicted;
    private long _historiesEvicted;
    private long _refusedTopics;
    private long _refusedRetained;
    private long _refusedPending;

    public NodeBudget(TopicBudgetOptions options, int workers)
    {
        Options = options;
        _ledgers = new BudgetLedger[workers];
        for (var i = 0; i < workers; i++)
        {
            _ledgers[i] = new BudgetLedger();
        }

        TopicsThreshold = Threshold(options.MaxTopics);
        HistoryThreshold = Threshold(options.MaxHistoryBytes);
        RetainedThreshold = Threshold(options.MaxRetainedBytes);
    }

    public TopicBudgetOptions Options { get; }

    /// <summary>Eviction starts above these (<see cref="TopicBudgetOptions.EvictAbovePercent"/> of each limit).</summary>
    public long TopicsThreshold { get; }

    public long HistoryThreshold { get; }

    public long RetainedThreshold { get; }

    /// <summary>Topics counted against <see cref="TopicBudgetOptions.MaxTopics"/>.</summary>
    public int Topics => Volatile.Read(ref _topics);

    public long TopicsEvicted => Volatile.Read(ref _topicsEvicted);

    public long HistoriesEvicted => Volatile.Read(ref _historiesEvicted);

    public long RefusedTopics => Volatile.Read(ref _refusedTopics);

    public long RefusedRetained => Volatile.Read(ref _refusedRetained);

    public long RefusedPending => Volatile.Read(ref _refusedPending);

    public long HistoryBytes
    {
        get
        {
            long sum = 0;
            foreach (var ledger in _ledgers)
            {
                sum += ledger.HistoryBytes;
            }

            return sum;
        }
    }

    public long RetainedBytes
    {
        get
        {
            long sum = 0;
            foreach (var ledger in _ledgers)
            {
                sum += ledger.RetainedBytes;
            }

            return sum;
        }
    }

    public long PendingBytes
    {
        get
        {
            long sum = 0;
            foreach (var ledger in _ledgers)
            {
                sum += ledger.PendingBytes;
            }

            return sum;
        }
    }

    /// <summary>True while a use is above its eviction threshold (the workers then evict idle state).</summary>
    public bool WantsEviction => Topics > TopicsThreshold || HistoryBytes > HistoryThreshold || RetainedBytes > RetainedThreshold;

    /// <summary>True while history is above its eviction threshold (the history of busy topics may then go too).</summary>
    public bool HistoryOverThreshold => HistoryBytes > HistoryThreshold;

    public BudgetLedger LedgerOf(int worker) => _ledgers[worker];

    /// <summary>Counts a new topic unless the limit is reached; <paramref name="force"/> counts it regardless.</summary>
    public bool TryAddTopic(bool force)
    {
        // Called under the dispatcher's topic-creation lock: check-then-increment cannot overshoot.
        if (!force && Volatile.Read(ref _topics) >= Options.MaxTopics)
        {
            Interlocked.Increment(ref _refusedTopics);
            return false;
        }

        Interlocked.Increment(ref _topics);
        return true;
    }

    public void RemoveTopic() => Interlocked.Decrement(ref _topics);

    /// <summary>Whether a publish that would add retained state (a workflow topic without any yet) must be refused.</summary>
    public bool RefuseRetained()
    {
        if (RetainedBytes < Options.MaxRetainedBytes)
        {
            return false;
        }

        Interlocked.Increment(ref _refusedRetained);
        return true;
    }

    /// <summary>Whether a new notification must be refused (pending notifications at the limit).</summary>
    public bool RefusePending()
    {
        if (PendingBytes < Options.MaxPendingBytes)
        {
            return false;
        }

        Interlocked.Increment(ref _refusedPending);
        return true;
    }

    public void CountTopicEvicted() => Interlocked.Increment(ref _topicsEvicted);

    public void CountHistoryEvicted() => Interlocked.Increment(ref _historiesEvicted);

    private long Threshold(long limit) => Math.Max(0, limit * Options.EvictAbovePercent / 100);
}
