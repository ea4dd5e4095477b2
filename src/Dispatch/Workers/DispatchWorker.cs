using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using Gateway.Protocol.Buffers;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch;

/// <summary>
/// One dedicated, named worker thread and the rings it owns: a control ring (subscribe, unsubscribe,
/// ack, disconnect cleanup), a broadcast lane (slices of broadcasts assigned by the broadcast topic's
/// owner, FIFO so per-connection order holds) and four priority rings.
/// Each cycle takes at most <see cref="Budgets"/> items from each priority ring, critical first
/// (8:4:2:1 = 1024:512:256:128): critical waits behind at most one batch of lower items, and low keeps at
/// least 128 of every 1,920 dispatch slots (≈6.7 %) under sustained critical load. Many items are handled
/// per wake-up; the thread parks on an event only after a full pass found every ring empty. After each
/// ring's batch the worker wakes every connection that received messages, once (see DeferredWakes):
/// the batch size is also the coalescing factor under backlog, which is why the budgets are this large
/// (at 64 normal items per batch, 1,000 publishes/s to 2,000 connections could not be sustained).
/// </summary>
[SuppressMessage("Design", "CA1001", Justification = "_wake (spinCount 0) never creates its kernel event (WaitHandle is never read); publishers may still Set it while the dispatcher shuts down, so it is left to the GC rather than disposed under them.")]
internal sealed class DispatchWorker
{
    /// <summary>Items taken per cycle from the critical, high, normal and low rings.</summary>
    internal static readonly int[] Budgets = [1024, 512, 256, 128];

    /// <summary>Items taken per cycle from the control ring and from the broadcast lane.</summary>
    internal const int ControlBudget = 256;

    /// <summary>Pause after a budget eviction pass that freed nothing (everything was live) before the next.</summary>
    private static readonly TimeSpan BudgetRetry = TimeSpan.FromMilliseconds(100);

    private readonly Dispatcher _dispatcher;
    private readonly ManualResetEventSlim _wake = new(false, spinCount: 0);
    private readonly ConcurrentQueue<ReplayCursor> _replays = new();
    private readonly long[] _enqueued = new long[4];
    private readonly long[] _dispatched = new long[4];
    private readonly long[] _pending = new long[4];
    private int _parked;
    private volatile bool _stopping;
    private volatile bool _exited;
    private Thread? _thread;
    private long _deliveries;
    private long _broadcastSlices;
    private long _wakeups;

    private readonly ConcurrentQueue<TopicState> _created = new();
    private readonly TimeSpan _sweepInterval;
    private readonly int _sweepBatch;
    private long _lastSweep = Stopwatch.GetTimestamp();
    private long _nextBudgetCheck; // worker thread only

    public DispatchWorker(Dispatcher dispatcher, int index, int ringCapacity, int controlCapacity, TimeSpan sweepInterval, int sweepBatch)
    {
        _dispatcher = dispatcher;
        _sweepInterval = sweepInterval;
        _sweepBatch = sweepBatch;
        Index = index;
        Rings = new RingQueue<DispatchItem>[4];
        for (var p = 0; p < 4; p++)
        {
            Rings[p] = new RingQueue<DispatchItem>(ringCapacity);
        }

        Control = new RingQueue<DispatchItem>(controlCapacity);
        Lane = new RingQueue<DispatchItem>(ringCapacity);
    }

    public int Index { get; }

    /// <summary>The topics this worker owns, least recently used first (worker thread only).</summary>
    public TopicList Topics { get; } = new();

    public RingQueue<DispatchItem>[] Rings { get; }

    public RingQueue<DispatchItem> Control { get; }

    public RingQueue<DispatchItem> Lane { get; }

    /// <summary>
    /// Outbound queues that received messages in the current drain and whose reader still has to be woken
    /// (worker thread only). Woken once per drain: one wake-up and one write per connection per batch.
    /// </summary>
    public List<OutboundQueue> DeferredWakes { get; } = [];

    /// <summary>Reusable scratch list (worker thread only): replay and pending collections.</summary>
    public List<FrameBuffer> Scratch { get; } = [];

    public bool HasExited => _exited;

    public long Enqueued(int priority) => Volatile.Read(ref _enqueued[priority]);

    public long Dispatched(int priority) => Volatile.Read(ref _dispatched[priority]);

    public long Deliveries => Volatile.Read(ref _deliveries);

    public long BroadcastSlices => Volatile.Read(ref _broadcastSlices);

    public long Wakeups => Volatile.Read(ref _wakeups);

    public void AddDeliveries(int count) => Volatile.Write(ref _deliveries, _deliveries + count);

    public void CountBroadcastSlice() => Volatile.Write(ref _broadcastSlices, _broadcastSlices + 1);

    /// <summary>Deliveries admitted at <paramref name="priority"/> and not yet fanned out.</summary>
    public long PendingDeliveries(int priority) => Volatile.Read(ref _pending[priority]);

    public bool TryEnqueue(Priority priority, in DispatchItem item, int maxPendingDeliveries)
    {
        var p = (int)priority & 3;
        var cost = item.Cost;
        var pending = Interlocked.Add(ref _pending[p], cost);
        if (pending - cost > 0 && pending > maxPendingDeliveries)
        {
            // Over the bound and not the only item: refuse (the caller reports overloaded).
            Interlocked.Add(ref _pending[p], -cost);
            return false;
        }

        if (!Rings[p].TryEnqueue(item))
        {
            Interlocked.Add(ref _pending[p], -cost);
            return false;
        }

        Interlocked.Increment(ref _enqueued[p]);
        Signal();
        return true;
    }

    public bool TryEnqueueControl(in DispatchItem item)
    {
        if (!Control.TryEnqueue(item))
        {
            return false;
        }

        Signal();
        return true;
    }

    /// <summary>
    /// Queues the continuation of a paged replay (from a connection's drain signal). Never refused: at most one
    /// entry per replay in progress is queued at a time (<see cref="ReplayCursor.Scheduled"/>).
    /// </summary>
    public void ScheduleReplay(ReplayCursor cursor)
    {
        _replays.Enqueue(cursor);
        Signal();
    }

    public bool TryEnqueueLane(in DispatchItem item)
    {
        if (!Lane.TryEnqueue(item))
        {
            return false;
        }

        Signal();
        return true;
    }

    /// <summary>
    /// Wakes the worker if it is parked. The producer's enqueue (an interlocked CAS, a full fence) comes
    /// before this read, and the worker's interlocked write of <c>_parked</c> comes before its final
    /// emptiness check: either the worker sees the item or the producer sees the flag, never neither.
    /// </summary>
    public void Signal()
    {
        if (Volatile.Read(ref _parked) != 0)
        {
            _wake.Set();
        }
    }

    public void Start()
    {
        _thread = new Thread(Run)
        {
            Name = $"dispatch-worker-{Index}",
            IsBackground = true,
        };
        _thread.Start();
    }

    public void RequestStop()
    {
        _stopping = true;
        _wake.Set();
    }

    public void Join() => _thread?.Join();

    public bool HasWork()
    {
        if (!Control.IsEmpty || !Lane.IsEmpty || !_replays.IsEmpty || !_created.IsEmpty)
        {
            return true;
        }

        foreach (var ring in Rings)
        {
            if (!ring.IsEmpty)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Hands a topic just created (on any thread, under the dispatcher's creation lock) to this worker, which
    /// lists it at its next cycle: every topic is then in exactly one worker's <see cref="Topics"/>, so the
    /// idle sweep and budget eviction never need the registry.
    /// </summary>
    public void AddCreated(TopicState topic)
    {
        _created.Enqueue(topic);
        Signal();
    }

    /// <summary>
    /// Wakes this worker if parked so it looks at the node budget. It does not lift the 100 ms pause after a pass
    /// that freed nothing: a flood of refused requests costs a wake-up, not a scan each.
    /// </summary>
    public void RequestBudgetCheck() => Signal();

    /// <summary>Runs one full cycle on the calling thread; returns the number of items handled.</summary>
    public int RunCycle()
    {
        while (_created.TryDequeue(out var topic))
        {
            if (!topic.Retired && !topic.Listed)
            {
                Topics.Touch(topic);
            }
        }

        var done = Drain(Control, ControlBudget, -1);
        done += DrainReplays();
        done += Drain(Lane, ControlBudget, -1);
        for (var p = 0; p < 4; p++)
        {
            done += Drain(Rings[p], Budgets[p], p);
        }

        return done;
    }

    private void Run()
    {
        while (true)
        {
            // The idle-topic sweep runs in batches of IdleTopicSweepBatch topics between ring drains, so a
            // worker with many topics never stalls its rings for a whole pass.
            if (!Topics.PassActive && Stopwatch.GetElapsedTime(_lastSweep) >= _sweepInterval)
            {
                _lastSweep = Stopwatch.GetTimestamp();
                Topics.BeginPass();
            }

            var sweeping = Topics.PassActive && _dispatcher.SweepStep(this, _sweepBatch) > 0 && Topics.PassActive;
            CheckBudget();

            if (RunCycle() > 0 || sweeping)
            {
                continue;
            }

            if (_stopping)
            {
                if (!HasWork())
                {
                    break;
                }

                continue;
            }

            _wake.Reset();
            Interlocked.Exchange(ref _parked, 1);
            if (!HasWork() && !_stopping)
            {
                Volatile.Write(ref _wakeups, _wakeups + 1);
                // Bounded so an idle worker still sweeps idle topics now and then, and, while the node is over a
                // budget threshold, retries eviction after its pause (idle state may appear without any item here).
                _wake.Wait(_dispatcher.Budget.WantsEviction ? BudgetRetry : _sweepInterval);
            }

            Interlocked.Exchange(ref _parked, 0);
        }

        _exited = true;
    }

    /// <summary>
    /// Evicts idle state while the node is over a budget threshold (a few volatile reads when it is not). A
    /// pass that frees nothing (everything is live) waits 100 ms before the next.
    /// </summary>
    private void CheckBudget()
    {
        var now = Stopwatch.GetTimestamp();
        if (now < _nextBudgetCheck || !_dispatcher.Budget.WantsEviction)
        {
            return;
        }

        if (_dispatcher.EnforceBudget(this) == 0)
        {
            _nextBudgetCheck = now + (long)(BudgetRetry.TotalSeconds * Stopwatch.Frequency);
        }
    }

    private void WakeDeferred()
    {
        var queues = DeferredWakes;
        if (queues.Count == 0)
        {
            return;
        }

        // Outside every dispatcher lock and between items: the connections' write loops may run right here
        // (inline), which is what saves a thread hop per delivery.
        var inline = _dispatcher.WakeInline;
        for (var i = 0; i < queues.Count; i++)
        {
            queues[i].WakeDeferred(inline);
        }

        queues.Clear();
    }

    private int DrainReplays()
    {
        var done = 0;
        while (done < ControlBudget && _replays.TryDequeue(out var cursor))
        {
            Volatile.Write(ref cursor.Scheduled, 0); // before paging: a refusal re-arms the drain signal
            _dispatcher.ContinueReplay(this, cursor);
            done++;
        }

        WakeDeferred();
        return done;
    }

    private int Drain(RingQueue<DispatchItem> ring, int budget, int priority)
    {
        var done = 0;
        while (done < budget && ring.TryDequeue(out var item))
        {
            // Process never throws: a fault is caught, logged and counted there.
            var cost = item.Cost;
            _dispatcher.Process(this, ref item);
            if (cost != 0)
            {
                Interlocked.Add(ref _pending[priority], -cost); // only publishes (priority rings) carry a cost
            }

            done++;
        }

        if (priority >= 0 && done > 0)
        {
            Volatile.Write(ref _dispatched[priority], _dispatched[priority] + done);
        }

        // Counters first: a reader woken (inline) below already sees them including this batch.
        WakeDeferred();
        return done;
    }
}
