using System.Collections.Concurrent;
using Gateway.Protocol;
using Gateway.Protocol.Buffers;
using Gateway.Protocol.Frames;
using Gateway.Protocol.Topics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.ObjectPool;

namespace Gateway.Dispatch;

/// <summary>
/// The dispatch core: accepts publishes into per-worker priority rings, assigns offsets on each
/// topic's owning worker, keeps history/retained/pending state through the <see cref="IDispatchEngine"/>,
/// and fans the once-serialized Message frame out to every subscriber's <see cref="OutboundQueue"/>.
/// See docs/dispatch.md for the design.
/// </summary>
public sealed partial class Dispatcher : IAsyncDisposable, IDispatchEngineSink
{
    private const int PublishAckSize = ProtocolLimits.HeaderSize + 4 + 8 + 8;

    private readonly DispatcherOptions _options;
    private readonly IDispatchEngine _engine;
    private readonly IRemoteStreams? _remote;
    private readonly bool _ownsEngine;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly DispatchWorker[] _workers;
    private readonly SessionSlice[] _slices;
    private readonly ConcurrentDictionary<string, TopicState> _topics;
    private readonly ConcurrentDictionary<string, TopicState>.AlternateLookup<ReadOnlySpan<char>> _topicsBySpan;
    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, UserSessions> _users = new(StringComparer.Ordinal);
    private readonly Lock _topicCreation = new();
    private readonly DispatchMetrics _metrics;
    private readonly ObjectPool<PublishCompletion> _completions = new DefaultObjectPool<PublishCompletion>(new DefaultPooledObjectPolicy<PublishCompletion>(), 1024);
    private readonly TopicState _broadcast;
    private readonly NodeBudget _budget;
    private long _sweepVisits;
    private int _state; // 0 created, 1 started, 2 stopping/disposed
    private int _nextSlice;
    private int _connectionCount;

    /// <summary>Creates a dispatcher; call <see cref="Start"/> to run its workers.</summary>
    /// <param name="options">Settings (validated here).</param>
    /// <param name="engine">The scale-out engine; null = <see cref="InMemoryDispatchEngine"/> owned by this dispatcher.</param>
    /// <param name="pool">Frame buffer pool; null = <see cref="FrameBufferPool.Shared"/>.</param>
    /// <param name="loggerFactory">Logging; null = none.</param>
    /// <param name="time">Clock for timestamps, history age and pending expiry; null = system.</param>
    /// <param name="meterScope">Scope of this dispatcher's meter (the host's <c>IMeterFactory</c>), so that exporters of other
    /// hosts in the same process ignore it; null = unscoped.</param>
    public Dispatcher(DispatcherOptions options, IDispatchEngine? engine = null, FrameBufferPool? pool = null, ILoggerFactory? loggerFactory = null, TimeProvider? time = null, object? meterScope = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _time = time ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Gateway.Dispatch");
        Pool = pool ?? FrameBufferPool.Shared;
        _ownsEngine = engine is null;
        _engine = engine ?? new InMemoryDispatchEngine(options.History, options.MaxPendingPerUser, options.PendingTtl, _time);
        _remote = _engine.Remote;

        var workerCount = options.WorkerCount > 0 ? options.WorkerCount : Environment.ProcessorCount;
        _workers = new DispatchWorker[workerCount];
        _slices = new SessionSlice[workerCount];
        for (var i = 0; i < workerCount; i++)
        {
            _workers[i] = new DispatchWorker(this, i, options.RingCapacity, options.ControlRingCapacity, options.IdleTopicSweepInterval, options.IdleTopicSweepBatch);
            _slices[i] = new SessionSlice();
        }

        _budget = new NodeBudget(options.Budget, workerCount);
        _topics = new ConcurrentDictionary<string, TopicState>(StringComparer.Ordinal);
        _topicsBySpan = _topics.GetAlternateLookup<ReadOnlySpan<char>>();
        _broadcast = GetOrCreateTopicCore(TopicRules.Broadcast, force: true)!;
        Counters = new DispatchCounters();
        _metrics = new DispatchMetrics(this, meterScope);
        _engine.Attach(this);
    }

    /// <summary>Registered connections.</summary>
    public int ConnectionCount => Volatile.Read(ref _connectionCount);

    /// <summary>Known topics.</summary>
    public int TopicCount => _topics.Count;

    /// <summary>Topics visited by idle-topic sweeps so far (tests, metrics).</summary>
    internal long SweepVisits => Volatile.Read(ref _sweepVisits);

    /// <summary>The pool every frame of this dispatcher comes from (the host rents its control frames here too).</summary>
    public FrameBufferPool Pool { get; }

    /// <summary>This node's id.</summary>
    public string NodeId => _options.NodeId;

    /// <summary>Whether woken write loops run on the worker thread (<see cref="DispatcherOptions.WakeInline"/>).</summary>
    internal bool WakeInline => _options.WakeInline;

    /// <summary>Number of worker threads.</summary>
    public int WorkerCount => _workers.Length;

    /// <summary>The engine in use.</summary>
    public IDispatchEngine Engine => _engine;

    internal DispatchCounters Counters { get; }

    /// <summary>This instance's <c>Gateway.Dispatch</c> meter.</summary>
    internal System.Diagnostics.Metrics.Meter Meter => _metrics.Meter;

    /// <summary>The workers (tests drive <see cref="DispatchWorker.RunCycle"/> on an unstarted dispatcher).</summary>
    internal IReadOnlyList<DispatchWorker> Workers => _workers;

    /// <summary>Starts the named worker threads.</summary>
    public void Start()
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("The dispatcher was already started or disposed.");
        }

        foreach (var worker in _workers)
        {
            worker.Start();
        }

        StartRemote();
        Log.Started(_logger, _options.NodeId, _workers.Length, _engine.Name);
    }

    /// <summary>
    /// Stops accepting publishes, lets the workers drain their rings, stops them, and completes every
    /// session's outbound queue (frames already queued stay readable). Releases history and retained state.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _state, 2) == 2)
        {
            return;
        }

        foreach (var worker in _workers)
        {
            worker.RequestStop();
        }

        await Task.Run(() =>
        {
            foreach (var worker in _workers)
            {
                worker.Join();
            }
        }).ConfigureAwait(false);

        // Anything enqueued after its worker exited (or before Start) runs here: now single-threaded.
        long processed = 0;
        int round;
        do
        {
            round = 0;
            foreach (var worker in _workers)
            {
                round += worker.RunCycle();
            }

            processed += round;
        }
        while (round > 0);

        foreach (var session in _sessions.Values)
        {
            session.Outbound.Complete(discard: false);
        }

        foreach (var topic in _topics.Values)
        {
            topic.Stream.Dispose();
        }

        if (_ownsEngine)
        {
            _engine.Dispose();
        }

        _metrics.Dispose();
        Log.Stopped(_logger, processed);
    }

    /// <summary>Handles one ring item on <paramref name="worker"/>'s thread. Never throws.</summary>
    internal void Process(DispatchWorker worker, ref DispatchItem item)
    {
        try
        {
            if (item.Topic is { Retired: true } retired)
            {
                // Queued before its idle topic was dropped: the current state (same owner) takes it.
                // Forced: the topic was counted when the item was accepted; the budget never loses a queued item.
                item.Topic = GetOrCreateTopicCore(retired.Name, force: true)!;
            }

            switch (item.Kind)
            {
                case DispatchItemKind.Publish:
                    ProcessPublish(worker, ref item);
                    break;
                case DispatchItemKind.BroadcastSlice:
                    try
                    {
                        DeliverSlice(worker, item.Buffer!, item.Priority);
                    }
                    finally
                    {
                        item.Buffer!.Release();
                    }

                    break;
                case DispatchItemKind.Subscribe:
                    ProcessSubscribe(worker, ref item);
                    break;
                case DispatchItemKind.Unsubscribe:
                    Touch(worker, item.Topic!);
                    CancelReplay(item.Session!, item.Topic!);
                    item.Topic!.Subscribers.Remove(item.Session!);
                    if (!item.Session!.IsClosed)
                    {
                        var frame = Pool.Rent(ProtocolLimits.HeaderSize + 4 + 1 + item.Topic.Utf8.Length);
                        FrameWriter.WriteUnsubscribed(frame, item.CorrelationId, item.Topic.Name);
                        item.Session.TryEnqueueControl(frame);
                    }

                    break;
                case DispatchItemKind.RemoveSubscriber:
                    Touch(worker, item.Topic!);
                    CancelReplay(item.Session!, item.Topic!);
                    item.Topic!.Subscribers.Remove(item.Session!);
                    break;
                case DispatchItemKind.AttachUser:
                    ProcessAttachUser(worker, ref item);
                    break;
                case DispatchItemKind.Ack:
                    if (_remote is not null)
                    {
                        AckRemote(_remote, item.Topic!, item.Offset);
                    }
                    else
                    {
                        item.Topic!.Stream.Acknowledge(item.Offset);
                    }

                    break;
                case DispatchItemKind.Positioned:
                    ProcessPositioned(worker, ref item);
                    break;
                case DispatchItemKind.Initialized:
                    ProcessInitialized(worker, ref item);
                    break;
                case DispatchItemKind.Filled:
                    ProcessFilled(worker, ref item);
                    break;
                case DispatchItemKind.Retry:
                    if (ReferenceEquals(item.State, GapCheck))
                    {
                        item.Topic!.Filling = false;
                        if (item.Topic.Live && item.Topic.Reorder is { Count: > 0 })
                        {
                            StartFill(item.Topic, TimeSpan.Zero); // the gap is still there: read the stream
                        }
                    }
                    else if (ReferenceEquals(item.State, CatchUp) && item.Topic!.Live)
                    {
                        if (item.Topic.Filling)
                        {
                            // A fill (or a gap check) is under way and may have started before what the catch-up
                            // must cover: read again once it is done, never skip the catch-up.
                            ScheduleCatchUp(item.Topic, GapGrace);
                        }
                        else
                        {
                            StartFill(item.Topic, TimeSpan.Zero);
                        }
                    }

                    break;
            }
        }
        catch (Exception ex)
        {
            Interlocked.Increment(ref Counters.WorkerFaults);
            Log.WorkerFault(_logger, ex, worker.Index, item.Kind, item.Topic?.Name);
        }
    }
}
