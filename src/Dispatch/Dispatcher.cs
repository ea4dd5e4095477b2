using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Gateway.Protocol;
using Gateway.Protocol.Buffers;
using Gateway.Protocol.Errors;
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
    private readonly bool _ownsEngine;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly DispatchWorker[] _workers;
    private readonly SessionSlice[] _slices;
    private readonly ConcurrentDictionary<string, TopicState> _topics;
    private readonly ConcurrentDictionary<string, TopicState>.AlternateLookup<ReadOnlySpan<char>> _topicsBySpan;
    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Session[]> _users = new(StringComparer.Ordinal);
    private readonly Lock _topicCreation = new();
    private readonly DispatchMetrics _metrics;
    private readonly ObjectPool<PublishCompletion> _completions = new DefaultObjectPool<PublishCompletion>(new DefaultPooledObjectPolicy<PublishCompletion>(), 1024);
    private readonly TopicState _broadcast;
    private int _state; // 0 created, 1 started, 2 stopping/disposed
    private int _nextSlice;
    private int _connectionCount;

    /// <summary>Creates a dispatcher; call <see cref="Start"/> to run its workers.</summary>
    /// <param name="options">Settings (validated here).</param>
    /// <param name="engine">The scale-out engine; null = <see cref="InMemoryDispatchEngine"/> owned by this dispatcher.</param>
    /// <param name="pool">Frame buffer pool; null = <see cref="FrameBufferPool.Shared"/>.</param>
    /// <param name="loggerFactory">Logging; null = none.</param>
    /// <param name="time">Clock for timestamps, history age and pending expiry; null = system.</param>
    public Dispatcher(DispatcherOptions options, IDispatchEngine? engine = null, FrameBufferPool? pool = null, ILoggerFactory? loggerFactory = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _time = time ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Gateway.Dispatch");
        Pool = pool ?? FrameBufferPool.Shared;
        _ownsEngine = engine is null;
        _engine = engine ?? new InMemoryDispatchEngine(options.History, options.MaxPendingPerUser, options.PendingTtl, _time);

        var workerCount = options.WorkerCount > 0 ? options.WorkerCount : Environment.ProcessorCount;
        _workers = new DispatchWorker[workerCount];
        _slices = new SessionSlice[workerCount];
        for (var i = 0; i < workerCount; i++)
        {
            _workers[i] = new DispatchWorker(this, i, options.RingCapacity, options.ControlRingCapacity, options.IdleTopicSweepInterval);
            _slices[i] = new SessionSlice();
        }

        _topics = new ConcurrentDictionary<string, TopicState>(StringComparer.Ordinal);
        _topicsBySpan = _topics.GetAlternateLookup<ReadOnlySpan<char>>();
        _broadcast = GetOrCreateTopicCore(TopicRules.Broadcast);
        Counters = new DispatchCounters();
        _metrics = new DispatchMetrics(this);
        _engine.Attach(this);
    }

    /// <summary>Registered connections.</summary>
    public int ConnectionCount => Volatile.Read(ref _connectionCount);

    /// <summary>Known topics.</summary>
    public int TopicCount => _topics.Count;

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

    /// <summary>
    /// Registers a connection. When <paramref name="userId"/> is given, subscribes it to <c>user:{userId}</c>
    /// and queues that user's pending notifications (flag Replayed) before any live notification.
    /// </summary>
    /// <param name="connectionId">Unique connection id.</param>
    /// <param name="userId">Authenticated user, or null.</param>
    /// <param name="connected">
    /// Optional first frame (the host's Connected frame; ownership is taken): queued before anything the
    /// dispatcher sends, which a later <see cref="Session.TryEnqueueControl"/> could not guarantee.
    /// </param>
    /// <exception cref="InvalidOperationException">The id is already registered, or the dispatcher is stopping.</exception>
    public Session Connect(string connectionId, string? userId, FrameBuffer? connected = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionId);
        if (Volatile.Read(ref _state) == 2)
        {
            connected?.Release();
            throw new InvalidOperationException("The dispatcher is shutting down.");
        }

        var slice = (int)((uint)Interlocked.Increment(ref _nextSlice) % (uint)_workers.Length);
        var session = new Session(connectionId, userId, new OutboundQueue(_options.Outbound, Counters), slice);
        if (connected is not null)
        {
            session.TryEnqueueControl(connected);
        }

        if (!_sessions.TryAdd(connectionId, session))
        {
            session.MarkClosed();
            session.Outbound.Complete(discard: true);
            throw new InvalidOperationException($"Connection id '{connectionId}' is already registered.");
        }

        Interlocked.Increment(ref _connectionCount);
        if (userId is not null)
        {
            _users.AddOrUpdate(userId, static (_, s) => [s], static (_, existing, s) => [.. existing, s], session);
        }

        _slices[slice].Add(session);

        if (userId is not null && TryGetOrCreateTopic(TopicRules.UserPrefix + userId, out var userTopic) == ErrorCode.None)
        {
            session.AddSubscriptionUnchecked(userTopic.Name);
            var item = new DispatchItem { Kind = DispatchItemKind.AttachUser, Topic = userTopic, Session = session };
            EnqueueControlOrWait(userTopic.Owner, item);
        }

        return session;
    }

    /// <summary>Unregisters a connection: idempotent; removes it from every registry and releases its queued frames.</summary>
    public void Disconnect(Session session)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (!session.MarkClosed())
        {
            return;
        }

        session.Outbound.Complete(discard: true);
        RemoveFromRegistries(session);
    }

    /// <summary>Every registered session at this moment (graceful drain: send GoAway to all).</summary>
    public IReadOnlyList<Session> SnapshotSessions() => [.. _sessions.Values];

    /// <summary>The session with this connection id, or null.</summary>
    public Session? FindSession(string connectionId) => _sessions.TryGetValue(connectionId, out var s) ? s : null;

    /// <summary>The connections of a user (empty when none).</summary>
    public IReadOnlyList<Session> GetUserSessions(string userId) => _users.TryGetValue(userId, out var list) ? list : [];

    /// <summary>
    /// Subscribes <paramref name="session"/> (permissions already checked by the host). On success the
    /// owning worker queues Subscribed (Recovered / RecoveryFailed when recovery was asked), then the
    /// replayed (Replayed) or retained (Retained) messages, then live ones, with no gap or duplicate.
    /// </summary>
    /// <returns>None, or AlreadySubscribed, TooManySubscriptions, InvalidTopic, Overloaded, ServerShuttingDown.</returns>
    public ErrorCode Subscribe(Session session, string topic, StreamPosition? recoverFrom, uint correlationId, int maxSubscriptions)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(topic);
        if (Volatile.Read(ref _state) == 2)
        {
            return ErrorCode.ServerShuttingDown;
        }

        if (topic == TopicRules.Broadcast)
        {
            return ErrorCode.AlreadySubscribed; // every connection receives broadcasts implicitly
        }

        var error = TryGetOrCreateTopic(topic, out var state);
        if (error != ErrorCode.None)
        {
            return error;
        }

        error = session.TryAddSubscription(state.Name, maxSubscriptions);
        if (error != ErrorCode.None)
        {
            return error;
        }

        var position = recoverFrom.GetValueOrDefault();
        var item = new DispatchItem
        {
            Kind = DispatchItemKind.Subscribe,
            Topic = state,
            Session = session,
            CorrelationId = correlationId,
            Recover = recoverFrom.HasValue,
            Epoch = position.Epoch,
            Offset = position.Offset,
        };
        if (!state.Owner.TryEnqueueControl(item))
        {
            session.RemoveSubscription(state.Name);
            return ErrorCode.Overloaded;
        }

        return ErrorCode.None;
    }

    /// <summary>Unsubscribes; the owning worker queues Unsubscribed after every message already fanned out.</summary>
    /// <returns>None, NotSubscribed or Overloaded.</returns>
    public ErrorCode Unsubscribe(Session session, string topic, uint correlationId)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(topic);
        if (!_topics.TryGetValue(topic, out var state) || !session.RemoveSubscription(topic))
        {
            return ErrorCode.NotSubscribed;
        }

        var item = new DispatchItem { Kind = DispatchItemKind.Unsubscribe, Topic = state, Session = session, CorrelationId = correlationId };
        if (!state.Owner.TryEnqueueControl(item))
        {
            session.AddSubscriptionUnchecked(topic);
            return ErrorCode.Overloaded;
        }

        return ErrorCode.None;
    }

    /// <summary>Acknowledges a notification of the session's own user topic: it is no longer pending.</summary>
    public void Ack(Session session, string topic, ulong offset)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(topic);
        if (session.UserId is null || !_topics.TryGetValue(topic, out var state) || state.Kind != TopicKind.User ||
            !topic.AsSpan(TopicRules.UserPrefix.Length).SequenceEqual(session.UserId))
        {
            return;
        }

        var item = new DispatchItem { Kind = DispatchItemKind.Ack, Topic = state, Session = session, Offset = offset };
        if (!state.Owner.TryEnqueueControl(item))
        {
            // At-least-once: the notification stays pending and is redelivered; counted.
            Interlocked.Increment(ref Counters.AcksDropped);
        }
    }

    /// <summary>
    /// Publishes without waiting. Returns None when accepted (a PublishAck is queued to
    /// <paramref name="ackTo"/> once the offset is assigned, when <paramref name="correlationId"/> != 0),
    /// Overloaded when the ring is full (retryable), PayloadTooLarge, InvalidTopic, InvalidPriority,
    /// ServerShuttingDown or EngineUnavailable. Allocates nothing for a known topic.
    /// </summary>
    public ErrorCode TryPublish(string topic, Priority priority, ReadOnlySpan<byte> payload, Session? ackTo = null, uint correlationId = 0)
    {
        ArgumentNullException.ThrowIfNull(topic);
        var error = CheckPublish(priority, payload.Length);
        if (error == ErrorCode.None)
        {
            error = TryGetOrCreateTopic(topic, out var state);
            if (error == ErrorCode.None)
            {
                return Enqueue(state, priority, payload, ackTo, correlationId, null);
            }
        }

        Counters.CountReject(error);
        return error;
    }

    /// <summary>Publishes with a UTF-8 topic (as decoded from a Publish frame); allocates nothing for a known topic.</summary>
    public ErrorCode TryPublish(ReadOnlySpan<byte> topicUtf8, Priority priority, ReadOnlySpan<byte> payload, Session? ackTo = null, uint correlationId = 0)
    {
        var error = CheckPublish(priority, payload.Length);
        if (error == ErrorCode.None)
        {
            error = TryGetOrCreateTopic(topicUtf8, out var state);
            if (error == ErrorCode.None)
            {
                return Enqueue(state, priority, payload, ackTo, correlationId, null);
            }
        }

        Counters.CountReject(error);
        return error;
    }

    /// <summary>Publishes a decoded Publish frame (topic, priority, payload, correlation id); allocates nothing for a known topic.</summary>
    public ErrorCode TryPublish(in Frame publish, Session? ackTo)
    {
        if (publish.Kind != FrameKind.Publish)
        {
            throw new ArgumentException("Not a Publish frame.", nameof(publish));
        }

        Span<byte> topic = stackalloc byte[ProtocolLimits.MaxTopicBytes];
        var topicLength = (int)Math.Min(publish.Topic.Length, ProtocolLimits.MaxTopicBytes);
        publish.Topic.Slice(0, topicLength).CopyTo(topic);
        var payload = publish.Payload;
        if (payload.IsSingleSegment)
        {
            return TryPublish(topic[..topicLength], publish.Priority, payload.FirstSpan, ackTo, publish.CorrelationId);
        }

        var length = (int)Math.Min(payload.Length, int.MaxValue);
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            payload.CopyTo(rented);
            return TryPublish(topic[..topicLength], publish.Priority, rented.AsSpan(0, length), ackTo, publish.CorrelationId);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Publishes and completes when the offset is assigned (HTTP API). Cancellation is observed only
    /// before the message is accepted; once accepted it is dispatched.
    /// </summary>
    public ValueTask<PublishResult> PublishAsync(string topic, Priority priority, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(topic);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<PublishResult>(cancellationToken);
        }

        var error = CheckPublish(priority, payload.Length);
        TopicState? state = null;
        if (error == ErrorCode.None)
        {
            error = TryGetOrCreateTopic(topic, out state);
        }

        if (error == ErrorCode.None)
        {
            var completion = _completions.Get();
            completion.Prepare(_completions);
            var task = completion.Task;
            error = Enqueue(state!, priority, payload.Span, null, 0, completion);
            if (error == ErrorCode.None)
            {
                return task;
            }

            completion.Complete(new PublishResult(error, 0, 0));
            return task;
        }

        Counters.CountReject(error);
        return new ValueTask<PublishResult>(new PublishResult(error, 0, 0));
    }

    /// <inheritdoc />
    public ErrorCode DeliverRemote(string topic, Priority priority, ReadOnlySpan<byte> payload) => TryPublish(topic, priority, payload);

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

    /// <summary>The worker owning <paramref name="topic"/> (tests).</summary>
    internal int OwnerOf(string topic) => TryGetOrCreateTopic(topic, out var state) == ErrorCode.None ? state.Owner.Index : -1;

    /// <summary>Handles one ring item on <paramref name="worker"/>'s thread. Never throws.</summary>
    internal void Process(DispatchWorker worker, ref DispatchItem item)
    {
        try
        {
            if (item.Topic is { Retired: true } retired)
            {
                // Queued before its idle topic was dropped: the current state (same owner) takes it.
                item.Topic = GetOrCreateTopicCore(retired.Name);
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
                    CancelReplay(item.Session!, item.Topic!);
                    item.Topic!.Subscribers.Remove(item.Session!);
                    break;
                case DispatchItemKind.AttachUser:
                    ProcessAttachUser(worker, ref item);
                    break;
                case DispatchItemKind.Ack:
                    item.Topic!.Stream.Acknowledge(item.Offset);
                    break;
            }
        }
        catch (Exception ex)
        {
            Interlocked.Increment(ref Counters.WorkerFaults);
            Log.WorkerFault(_logger, ex, worker.Index, item.Kind, item.Topic?.Name);
        }
    }

    /// <summary>
    /// Drops idle topics owned by <paramref name="worker"/> (on its thread): no subscribers and an empty
    /// stream. Keeps the registry bounded by live topics rather than by every topic ever used.
    /// </summary>
    /// <returns>The number of topics dropped.</returns>
    internal int SweepIdleTopics(DispatchWorker worker)
    {
        var dropped = 0;
        foreach (var (name, topic) in _topics)
        {
            if (topic.Owner != worker || topic.Kind == TopicKind.Broadcast || topic.Subscribers.Count > 0 || topic.ActiveReplays > 0 || !topic.Stream.IsEmpty)
            {
                continue;
            }

            lock (_topicCreation)
            {
                if (_topics.TryRemove(KeyValuePair.Create(name, topic)))
                {
                    topic.Retired = true;
                    topic.Stream.Dispose();
                    dropped++;
                }
            }
        }

        return dropped;
    }

    private static void PatchPosition(FrameBuffer frame, StreamPosition position)
    {
        // The frame was serialized once at publish with a zero position; the owning worker fills it in.
        MessageFrameLayout.WritePosition(MemoryMarshal.AsMemory(frame.Memory).Span, position.Epoch, position.Offset);
    }

    private ErrorCode CheckPublish(Priority priority, int payloadLength)
    {
        if (Volatile.Read(ref _state) == 2)
        {
            return ErrorCode.ServerShuttingDown;
        }

        if ((byte)priority > (byte)Priority.Low)
        {
            return ErrorCode.InvalidPriority;
        }

        if (payloadLength > _options.MaxPayloadBytes)
        {
            return ErrorCode.PayloadTooLarge;
        }

        return _engine.IsAvailable ? ErrorCode.None : ErrorCode.EngineUnavailable;
    }

    private ErrorCode Enqueue(TopicState topic, Priority priority, ReadOnlySpan<byte> payload, Session? ackTo, uint correlationId, PublishCompletion? completion)
    {
        // Serialize the outgoing frame once; the owner patches epoch and offset in place at dispatch.
        var buffer = Pool.Rent(FrameWriter.GetMessageSize(topic.Utf8.Length, payload.Length));
        FrameWriter.WriteMessage(buffer, topic.Utf8, priority, 0, 0, _time.GetUtcNow().ToUnixTimeMilliseconds(), payload);
        var item = new DispatchItem
        {
            Kind = DispatchItemKind.Publish,
            Priority = priority,
            Topic = topic,
            Buffer = buffer,
            Session = ackTo,
            CorrelationId = correlationId,
            Completion = completion,
            EnqueuedTimestamp = Stopwatch.GetTimestamp(),
            Cost = Math.Max(1, topic.Kind == TopicKind.Broadcast ? ConnectionCount : topic.Subscribers.Count),
        };
        if (topic.Owner.TryEnqueue(priority, item, _options.MaxPendingDeliveries))
        {
            return ErrorCode.None;
        }

        buffer.Release();
        Counters.CountReject(ErrorCode.Overloaded);
        return ErrorCode.Overloaded;
    }

    private void ProcessPublish(DispatchWorker worker, ref DispatchItem item)
    {
        var topic = item.Topic!;
        var buffer = item.Buffer!;
        var completion = item.Completion;
        try
        {
            var position = topic.Stream.Append(buffer, item.Priority);
            PatchPosition(buffer, position);
            _metrics.RecordLatency(item.EnqueuedTimestamp);
            if (completion is not null)
            {
                completion.Complete(new PublishResult(ErrorCode.None, position.Epoch, position.Offset));
                completion = null;
            }

            if (item.Session is { } ackTo && item.CorrelationId != 0)
            {
                var ack = Pool.Rent(PublishAckSize);
                FrameWriter.WritePublishAck(ack, item.CorrelationId, position.Epoch, position.Offset);
                ackTo.TryEnqueueControl(ack);
            }

            if (topic.Kind == TopicKind.Broadcast)
            {
                BroadcastFromOwner(worker, buffer, item.Priority, item.EnqueuedTimestamp);
            }
            else
            {
                FanOut(worker, topic.Subscribers, buffer, item.Priority);
            }
        }
        finally
        {
            completion?.Complete(new PublishResult(ErrorCode.InternalError, 0, 0));
            buffer.Release();
        }
    }

    private void FanOut(DispatchWorker worker, SubscriberSet subscribers, FrameBuffer buffer, Priority priority)
    {
        var count = subscribers.Count;
        if (count == 0)
        {
            return;
        }

        // One reference per recipient, taken at once; each queue consumes exactly one (queued or released).
        buffer.AddReference(count);
        var queues = subscribers.Queues;
        var delivered = 0;
        for (var i = count - 1; i >= 0; i--)
        {
            switch (queues[i].TryEnqueueMessage(buffer, priority, worker.DeferredWakes))
            {
                case EnqueueResult.Queued:
                    delivered++;
                    break;
                case EnqueueResult.ClosedSlowConsumer:
                    OnSlowConsumer(subscribers.Items[i]);
                    break;
                case EnqueueResult.Closed:
                    // Disconnected (its RemoveSubscriber item may still be queued): drop it now. Backwards
                    // iteration makes the swap-with-last removal safe.
                    subscribers.RemoveAt(i);
                    break;
            }
        }

        worker.AddDeliveries(delivered);
    }

    private void BroadcastFromOwner(DispatchWorker owner, FrameBuffer buffer, Priority priority, long enqueuedTimestamp)
    {
        // The broadcast owner assigned the offset; every other worker delivers to its own slice of the
        // session registry. Slices travel through each worker's FIFO lane, so every connection still
        // sees broadcast offsets in increasing order.
        foreach (var worker in _workers)
        {
            if (worker == owner || _slices[worker.Index].Count == 0)
            {
                continue;
            }

            buffer.AddReference();
            var slice = new DispatchItem { Kind = DispatchItemKind.BroadcastSlice, Buffer = buffer, Priority = priority, EnqueuedTimestamp = enqueuedTimestamp };
            var spin = default(SpinWait);
            while (!worker.TryEnqueueLane(slice))
            {
                if (worker.HasExited)
                {
                    // Shutting down and that worker is gone: deliver here (nobody else touches its slice now).
                    Process(worker, ref slice);
                    break;
                }

                // The lane is as deep as a priority ring; waiting here pushes back on broadcast publishers.
                spin.SpinOnce();
            }
        }

        DeliverSlice(owner, buffer, priority);
    }

    private void DeliverSlice(DispatchWorker worker, FrameBuffer buffer, Priority priority)
    {
        var slice = _slices[worker.Index];
        var delivered = 0;
        lock (slice.SyncRoot)
        {
            var items = slice.ItemsUnderLock;
            if (items.Length == 0)
            {
                return;
            }

            buffer.AddReference(items.Length);
            for (var i = items.Length - 1; i >= 0; i--)
            {
                // Backwards: a slow-consumer close removes index i by moving an already-visited session into it.
                delivered += Deliver(items[i], buffer, priority, worker.DeferredWakes);
            }
        }

        worker.CountBroadcastSlice();
        worker.AddDeliveries(delivered);
    }

    private int Deliver(Session session, FrameBuffer buffer, Priority priority, List<OutboundQueue>? deferredWakes)
    {
        switch (session.Outbound.TryEnqueueMessage(buffer, priority, deferredWakes))
        {
            case EnqueueResult.Queued:
                return 1;
            case EnqueueResult.ClosedSlowConsumer:
                OnSlowConsumer(session);
                return 0;
            default:
                return 0;
        }
    }

    private void OnSlowConsumer(Session session)
    {
        if (!session.MarkClosed())
        {
            return;
        }

        Interlocked.Increment(ref Counters.SlowConsumerCloses);
        Log.SlowConsumer(_logger, session.ConnectionId);
        RemoveFromRegistries(session);
    }

    private void RemoveFromRegistries(Session session)
    {
        if (_sessions.TryRemove(KeyValuePair.Create(session.ConnectionId, session)))
        {
            Interlocked.Decrement(ref _connectionCount);
        }

        if (session.UserId is { } userId)
        {
            while (_users.TryGetValue(userId, out var list))
            {
                var without = Array.FindAll(list, s => !ReferenceEquals(s, session));
                var done = without.Length == 0
                    ? _users.TryRemove(KeyValuePair.Create(userId, list))
                    : _users.TryUpdate(userId, without, list);
                if (done)
                {
                    break;
                }
            }
        }

        _slices[session.Slice].Remove(session);
        foreach (var name in session.TakeSubscriptions())
        {
            if (!_topics.TryGetValue(name, out var topic))
            {
                continue;
            }

            var item = new DispatchItem { Kind = DispatchItemKind.RemoveSubscriber, Topic = topic, Session = session };
            if (!topic.Owner.TryEnqueueControl(item))
            {
                // Fan-out skips and drops closed sessions, so nothing is lost by not queueing this.
                Log.ControlRingFull(_logger, topic.Owner.Index, "unsubscribe", session.ConnectionId);
            }
        }
    }

    private void EnqueueControlOrWait(DispatchWorker worker, in DispatchItem item)
    {
        // Connect must not fail because a control ring is momentarily full: wait briefly (rare).
        var spin = default(SpinWait);
        while (!worker.TryEnqueueControl(item))
        {
            if (worker.HasExited)
            {
                return;
            }

            spin.SpinOnce();
        }
    }

    private ErrorCode TryGetOrCreateTopic(string name, out TopicState state)
    {
        if (_topics.TryGetValue(name, out state!))
        {
            return ErrorCode.None;
        }

        var error = TopicRules.Validate(name);
        if (error != ErrorCode.None)
        {
            return ErrorCode.InvalidTopic;
        }

        state = GetOrCreateTopicCore(name);
        return ErrorCode.None;
    }

    private ErrorCode TryGetOrCreateTopic(ReadOnlySpan<byte> utf8, out TopicState state)
    {
        state = null!;
        if (utf8.Length is 0 or > ProtocolLimits.MaxTopicBytes)
        {
            return ErrorCode.InvalidTopic;
        }

        Span<char> chars = stackalloc char[ProtocolLimits.MaxTopicBytes];
        if (Encoding.UTF8.TryGetChars(utf8, chars, out var written) && _topicsBySpan.TryGetValue(chars[..written], out state!))
        {
            return ErrorCode.None;
        }

        if (TopicRules.Validate(utf8) != ErrorCode.None)
        {
            return ErrorCode.InvalidTopic;
        }

        state = GetOrCreateTopicCore(Encoding.UTF8.GetString(utf8));
        return ErrorCode.None;
    }

    private TopicState GetOrCreateTopicCore(string name)
    {
        // Creation is rare; one lock keeps a single stream (and epoch) per topic.
        lock (_topicCreation)
        {
            if (_topics.TryGetValue(name, out var existing))
            {
                return existing;
            }

            var owner = _workers[(int)((uint)StringComparer.Ordinal.GetHashCode(name) % (uint)_workers.Length)];
            var state = new TopicState(name, owner, _engine.CreateStream(name, TopicState.KindOf(name)));
            _topics[name] = state;
            return state;
        }
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
