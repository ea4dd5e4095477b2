using Gateway.Protocol.Errors;

namespace Gateway.Dispatch;

/// <summary>
/// The node memory budget (<see cref="TopicBudgetOptions"/>) and the idle-topic sweep. Each worker keeps the
/// topics it owns in a least-recently-used <see cref="TopicList"/>; the sweep walks that list in batches with
/// a cursor, and eviction walks it from the least recently used end. Both run on the owning worker, so a
/// stream is never touched by two threads and nothing on the per-message path takes a lock.
/// </summary>
public sealed partial class Dispatcher
{
    /// <summary>Most topics one eviction call looks at (bounds the time a worker spends away from its rings).</summary>
    internal const int EvictionScanBudget = 256;

    /// <summary>The node budget (use, limits, eviction and refusal counts).</summary>
    internal NodeBudget Budget => _budget;

    /// <summary>
    /// Runs a complete idle-topic pass over <paramref name="worker"/>'s topics now, on the calling thread (tests
    /// on an unstarted dispatcher); the worker loop itself uses <see cref="SweepStep"/> in batches.
    /// </summary>
    /// <returns>The number of topics dropped.</returns>
    internal int SweepIdleTopics(DispatchWorker worker)
    {
        var dropped = 0;
        worker.Topics.BeginPass();
        while (worker.Topics.PassActive)
        {
            dropped += SweepBatch(worker, int.MaxValue).Dropped;
        }

        return dropped;
    }

    /// <summary>
    /// Visits at most <paramref name="batch"/> topics of the current pass (<see cref="TopicList.BeginPass"/>) on
    /// <paramref name="worker"/>'s thread, dropping idle ones: no subscribers, no replay, nothing pending in the
    /// engine's interest, an empty stream. Allocates nothing.
    /// </summary>
    /// <returns>The number of topics visited (0 when the pass is complete).</returns>
    internal int SweepStep(DispatchWorker worker, int batch) => SweepBatch(worker, batch).Visited;

    private (int Visited, int Dropped) SweepBatch(DispatchWorker worker, int batch)
    {
        var list = worker.Topics;
        var visited = 0;
        var dropped = 0;
        while (visited < batch && list.NextInPass() is { } topic)
        {
            visited++;
            EndInterestIfIdle(topic);
            if (IsIdle(topic) && topic.Stream.IsEmpty)
            {
                Retire(worker, topic);
                dropped++;
            }
        }

        Interlocked.Add(ref _sweepVisits, visited); // once per batch, not per topic
        return (visited, dropped);
    }

    /// <summary>
    /// Evicts on <paramref name="worker"/>'s thread, least recently used first, while the node is above an
    /// eviction threshold: an idle topic (no subscriber, no replay, no pending notification) is dropped whole
    /// (its history and retained state; it comes back with a new epoch, so an older position reports
    /// RecoveryFailed); an idle user topic with pending notifications and, while history alone is over its
    /// threshold, a busy topic lose their history only (a recovery from before the current offset fails
    /// explicitly). Each worker evicts its own topics, so the order is least-recently-used per worker.
    /// </summary>
    /// <returns>The number of evictions.</returns>
    internal int EnforceBudget(DispatchWorker worker)
    {
        var list = worker.Topics;
        var scanEnd = list.Stamp; // topics moved to the tail during this call are not looked at again
        var evicted = 0;
        var scanned = 0;
        while (scanned < EvictionScanBudget && _budget.WantsEviction && list.Head is { } topic && topic.LruStamp <= scanEnd)
        {
            scanned++;
            EndInterestIfIdle(topic);
            var idle = IsIdle(topic);
            if (idle && topic.Stream.PendingCount == 0)
            {
                Retire(worker, topic);
                _budget.CountTopicEvicted();
                evicted++;
                continue;
            }

            if (topic.Stream is InMemoryTopicStream stream && stream.HistoryBytes > 0 && topic.ActiveReplays == 0 &&
                (idle || _budget.HistoryOverThreshold))
            {
                stream.DropHistory();
                _budget.CountHistoryEvicted();
                evicted++;
            }

            list.Touch(topic); // live or nothing left to free: next time after every older topic
        }

        if (evicted == 0 && _budget.WantsEviction)
        {
            // Nothing evictable here: the other workers may hold the idle state (they may be parked).
            foreach (var other in _workers)
            {
                if (other != worker)
                {
                    other.RequestBudgetCheck();
                }
            }
        }

        return evicted;
    }

    /// <summary>Marks <paramref name="topic"/> as just used (owner thread): the last to be evicted.</summary>
    private static void Touch(DispatchWorker worker, TopicState topic)
    {
        if (!topic.Retired)
        {
            worker.Topics.Touch(topic);
        }
    }

    /// <summary>Asks every worker to look at the budget now (a topic or publish was refused).</summary>
    private void RequestEviction()
    {
        foreach (var worker in _workers)
        {
            worker.RequestBudgetCheck();
        }
    }

    /// <summary>
    /// Refuses (with <c>overloaded</c>) a publish that would grow state the node budget cannot hold: a
    /// notification while pending notifications are at their limit, or the first retained state of a workflow
    /// topic while retained state is at its limit (updates of existing state are accepted).
    /// </summary>
    private ErrorCode CheckStateBudget(TopicState topic)
    {
        var refused = topic.Kind switch
        {
            TopicKind.User => _remote is null && _options.MaxPendingPerUser > 0 && _budget.RefusePending(),
            // Redis engine: retained state lives in the store; the node's copy is a cache bounded by eviction only.
            TopicKind.Workflow => _remote is null && !topic.HasRetained && _budget.RefuseRetained(),
            _ => false,
        };
        if (!refused)
        {
            return ErrorCode.None;
        }

        RequestEviction();
        return ErrorCode.Overloaded;
    }

    private static bool IsIdle(TopicState topic) =>
        topic.Kind != TopicKind.Broadcast && topic.Subscribers.Count == 0 && topic.ActiveReplays == 0 &&
        !topic.Live && !topic.Initializing && !topic.Filling;

    /// <summary>Drops <paramref name="topic"/> from the registry (owner thread); items still carrying it are re-resolved.</summary>
    private void Retire(DispatchWorker worker, TopicState topic)
    {
        worker.Topics.Remove(topic);
        lock (_topicCreation)
        {
            if (_topics.TryRemove(KeyValuePair.Create(topic.Name, topic)))
            {
                topic.Retired = true;
                topic.Stream.Dispose();
                if (topic.Counted)
                {
                    _budget.RemoveTopic();
                }
            }
        }
    }
}
