
namespace Gateway.Dispatch;

/// <summary>
/// Figures: <see cref="GetStats"/> and the allocation-free readers behind the metrics.
/// </summary>
public sealed partial class Dispatcher
{
    /// <summary>A snapshot of every figure (ring depths, counters, connection and topic counts).</summary>
    public DispatcherStats GetStats()
    {
        var deliveries = new long[_workers.Length];
        var slices = new long[_workers.Length];
        var wakeups = new long[_workers.Length];
        for (var i = 0; i < _workers.Length; i++)
        {
            deliveries[i] = _workers[i].Deliveries;
            slices[i] = _workers[i].BroadcastSlices;
            wakeups[i] = _workers[i].Wakeups;
        }

        var c = Counters;
        return new DispatcherStats
        {
            RingDepth = RingDepths(),
            Enqueued = EnqueuedCounts(),
            Dispatched = DispatchedCounts(),
            Shed = ShedCounts(),
            ControlDepth = ControlDepth(),
            Deliveries = deliveries.Sum(),
            DeliveriesByWorker = deliveries,
            BroadcastSlicesByWorker = slices,
            WakeupsByWorker = wakeups,
            SlowConsumerCloses = Volatile.Read(ref c.SlowConsumerCloses),
            RejectedOverloaded = Volatile.Read(ref c.RejectedOverloaded),
            RejectedPayloadTooLarge = Volatile.Read(ref c.RejectedPayloadTooLarge),
            RejectedInvalid = Volatile.Read(ref c.RejectedInvalidTopic),
            RejectedShuttingDown = Volatile.Read(ref c.RejectedShuttingDown),
            RejectedEngineUnavailable = Volatile.Read(ref c.RejectedEngineUnavailable),
            WorkerFaults = Volatile.Read(ref c.WorkerFaults),
            AcksDropped = Volatile.Read(ref c.AcksDropped),
            ReplaysIncomplete = Volatile.Read(ref c.ReplaysIncomplete),
            Connections = ConnectionCount,
            Topics = TopicCount,
            Workers = _workers.Length,
        };
    }

    internal long[] RingDepths() => SumPerPriority(static (w, p) => w.Rings[p].Count);

    internal long[] EnqueuedCounts() => SumPerPriority(static (w, p) => w.Enqueued(p));

    internal long[] DispatchedCounts() => SumPerPriority(static (w, p) => w.Dispatched(p));

    internal long[] ShedCounts() => [.. Counters.Shed.Select(v => Volatile.Read(ref v))];

    internal long ControlDepth()
    {
        long depth = 0;
        foreach (var worker in _workers)
        {
            depth += worker.Control.Count + worker.Lane.Count;
        }

        return depth;
    }

    /// <summary>Message frames queued to connections so far (allocation-free; benchmarks poll it).</summary>
    internal long TotalDeliveries()
    {
        long total = 0;
        foreach (var worker in _workers)
        {
            total += worker.Deliveries;
        }

        return total;
    }

    private long[] SumPerPriority(Func<DispatchWorker, int, long> read)
    {
        var sums = new long[4];
        foreach (var worker in _workers)
        {
            for (var p = 0; p < 4; p++)
            {
                sums[p] += read(worker, p);
            }
        }

        return sums;
    }
}
