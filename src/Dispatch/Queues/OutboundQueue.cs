using System.Threading.Tasks.Sources;
using Gateway.Protocol.Buffers;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch;

/// <summary>
/// One connection's outbound queue, bounded by frames and bytes, many writers (dispatch
/// workers, the host) and one reader (the connection's write loop). The reader waits with
/// <see cref="WaitToReadAsync"/> (a reusable <see cref="IValueTaskSource{TResult}"/>: no allocation per
/// wait) and takes a batch at once with <see cref="DrainTo(List{FrameBuffer}, long, OutboundBatchCounts?)"/>, so one
/// wake-up and one socket write carry the frames queued meanwhile.
/// Drain order (protocol §8.6): control frames that answer requests (PublishAck, Pong, Subscribed, Connected, Refreshed,
/// GoAway, Ping) first, then messages by priority (critical, high, normal, low), each class in queue order, with two
/// ordering rules no priority may break: a message never overtakes an earlier message of the same topic (the earlier
/// one is taken with it, so a connection sees each topic's offsets increasing), and an Unsubscribed or Error frame is
/// never overtaken by anything queued after it nor overtakes anything queued before it. Messages whose topic the
/// queue does not know (<see cref="FrameBuffer.OrderingKey"/> null: replays, remote deliveries) keep their place
/// among all messages. A drain bounded in bytes takes the head of that order and leaves the rest queued, where a
/// more urgent frame that arrives meanwhile can still overtake it.
/// Overflow policy (§3): an incoming <c>low</c> message that does not fit is shed; an incoming
/// <c>normal</c> first evicts queued <c>low</c> messages (oldest first), else is shed; an incoming
/// <c>critical</c>/<c>high</c> evicts queued <c>low</c>, then queued <c>normal</c>, and if it still does not
/// fit even within the burst allowance (<see cref="OutboundQueueOptions.BurstFrames"/>/<see cref="OutboundQueueOptions.BurstBytes"/>,
/// which only they may use) the queue is closed with <see cref="ErrorCode.SlowConsumer"/>. Control frames are
/// never shed and do not count against the message bounds, but have bounds of their own
/// (<see cref="OutboundQueueOptions.MaxControlFrames"/>/<see cref="OutboundQueueOptions.MaxControlBytes"/>): a client
/// that sends requests and never reads the answers is closed as <see cref="ErrorCode.SlowConsumer"/> too.
/// Replayed frames (recovery, pending notifications) are flow-controlled instead of shed: they are admitted
/// only while the queue is under half its bounds (<see cref="TryEnqueueReplay"/>), are never evicted, and
/// when refused the queue signals its drain (<see cref="Drained"/>) so the dispatcher queues the next page.
/// </summary>
public sealed class OutboundQueue : IValueTaskSource<bool>
{
    private const byte ControlClass = 4;       // answers and host frames that may overtake messages
    private const byte ReplayClass = 5;
    private const byte OrderedControlClass = 6; // Unsubscribed, Error: kept in queue order with everything

    // Drain ranks (lower goes first). Taken entries are marked with TakenRank.
    private const byte TakenRank = byte.MaxValue;
    private const byte NoRank = byte.MaxValue - 1;
    private const byte BarrierRank = 2 + (byte)Priority.Low; // after every message of its segment

    [ThreadStatic]
    private static DrainScratch? _scratch;

    private readonly int _maxFrames;
    private readonly long _maxBytes;
    private readonly int _burstFrames;
    private readonly long _burstBytes;
    private readonly int _maxControlFrames;
    private readonly long _maxControlBytes;
    private readonly DispatchCounters? _counters;

    private Entry[] _entries = [];
    private int _head;
    private int _count;
    private long _bytes;
    private int _controlCount;
    private long _controlBytes;
    private bool _completed;
    private bool _messagesClosed; // slow-consumer close: no more messages, control frames (acks, errors) still flow
    private ErrorCode _closeReason;
    private long _shedLow;
    private long _shedNormal;

    private ManualResetValueTaskSourceCore<bool> _core;
    private bool _waiting;
    private bool _wakeDeferred;
    private bool _drainSignalArmed;
    private CancellationTokenRegistration _cancellation;

    /// <summary>Creates a queue with the given bounds (standalone; the dispatcher creates its own).</summary>
    public OutboundQueue(OutboundQueueOptions options)
        : this(options, null)
    {
    }

    internal OutboundQueue(OutboundQueueOptions options, DispatchCounters? counters)
    {
        ArgumentNullException.ThrowIfNull(options);
        _maxFrames = options.MaxFrames;
        _maxBytes = options.MaxBytes;
        _burstFrames = options.BurstFrames;
        _burstBytes = options.BurstBytes;
        _maxControlFrames = options.MaxControlFrames;
        _maxControlBytes = options.MaxControlBytes;
        _counters = counters;
        // Continuations (the host's write loop) run on the thread pool, except when a dispatch worker wakes
        // the reader deliberately at a safe point (WakeDeferred with inline = true).
        _core.RunContinuationsAsynchronously = true;
    }

    // The queue object itself is the monitor: fan-out to 10,000 connections touches one object less per
    // recipient than with a separate lock object (a measurable cache-miss saving). The type is sealed
    // and the lock is never held across a call out of this class.
    private object Gate => this;

    /// <summary>Why the queue was closed by the dispatcher: <see cref="ErrorCode.SlowConsumer"/>, or None.</summary>
    public ErrorCode CloseReason
    {
        get
        {
            lock (Gate)
            {
                return _closeReason;
            }
        }
    }

    /// <summary>
    /// Called (outside the queue's lock, on the reader's thread) by the first <see cref="DrainTo(List{FrameBuffer})"/> after a
    /// <see cref="TryEnqueueReplay"/> was refused for lack of room: the next replay page can be queued now.
    /// </summary>
    internal Action? Drained { get; set; }

    /// <summary>Queued frames.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Queued bytes.</summary>
    public long Bytes => Volatile.Read(ref _bytes);

    /// <summary>Queued control frames (counted in <see cref="Count"/> too).</summary>
    public int ControlCount => Volatile.Read(ref _controlCount);

    /// <summary>Queued control-frame bytes (counted in <see cref="Bytes"/> too).</summary>
    public long ControlBytes => Volatile.Read(ref _controlBytes);

    /// <summary>True once completed (by disconnect, shutdown or slow-consumer close).</summary>
    public bool IsCompleted => Volatile.Read(ref _completed) || Volatile.Read(ref _messagesClosed);

    /// <summary>Low-priority messages shed on this connection.</summary>
    public long ShedLow => Volatile.Read(ref _shedLow);

    /// <summary>Normal-priority messages shed on this connection.</summary>
    public long ShedNormal => Volatile.Read(ref _shedNormal);

    /// <summary>
    /// Waits until frames are queued (true) or the queue is completed and empty (false). Single reader:
    /// do not call again before the previous wait completed.
    /// </summary>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(cancellationToken);
        }

        lock (Gate)
        {
            if (_count > 0)
            {
                return new ValueTask<bool>(true);
            }

            if (_completed || _messagesClosed)
            {
                return new ValueTask<bool>(false);
            }

            _core.Reset();
            _waiting = true;
        }

        if (cancellationToken.CanBeCanceled)
        {
            // Registration nodes are recycled by the token source: no allocation in steady state.
            _cancellation = cancellationToken.UnsafeRegister(static (state, token) => ((OutboundQueue)state!).CancelWait(token), this);
        }

        return new ValueTask<bool>(this, _core.Version);
    }

    /// <summary>
    /// Moves every queued frame to <paramref name="destination"/> in drain order (see the type); the caller owns one
    /// reference of each and must <see cref="FrameBuffer.Release"/> it after writing.
    /// </summary>
    /// <returns>The number of frames moved.</returns>
    public int DrainTo(List<FrameBuffer> destination) => DrainTo(destination, long.MaxValue, null);

    /// <summary>
    /// Moves the head of the drain order (see the type), at most <paramref name="maxBytes"/> (at least one frame), to
    /// <paramref name="destination"/>; what does not fit stays queued. The caller owns one reference of each frame moved
    /// and must <see cref="FrameBuffer.Release"/> it after writing. With <paramref name="counts"/>, the frames moved are
    /// added to it by kind (metrics without re-reading headers).
    /// </summary>
    /// <returns>The number of frames moved.</returns>
    public int DrainTo(List<FrameBuffer> destination, long maxBytes, OutboundBatchCounts? counts)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var moved = DrainCore(destination, maxBytes, counts, out var signal);
        if (signal)
        {
            Drained?.Invoke();
        }

        return moved;
    }

    private int DrainCore(List<FrameBuffer> destination, long maxBytes, OutboundBatchCounts? counts, out bool signal)
    {
        lock (Gate)
        {
            signal = _drainSignalArmed && _count > 0;
            if (signal)
            {
                _drainSignalArmed = false;
            }

            var count = _count;
            if (count == 0)
            {
                return 0;
            }

            // Already in drain order (one class, or classes only getting less urgent): take a FIFO prefix.
            var entries = _entries;
            var mask = entries.Length - 1;
            var inOrder = true;
            byte worst = 0;
            for (var i = 0; i < count; i++)
            {
                var cls = entries[(_head + i) & mask].Class;
                if (cls == OrderedControlClass)
                {
                    worst = 0; // nothing crosses it: what follows is ordered on its own
                    continue;
                }

                var rank = Rank(cls);
                if (rank < worst)
                {
                    inOrder = false;
                    break;
                }

                worst = rank;
            }

            var taken = inOrder ? TakeFifoPrefix(destination, maxBytes, counts) : TakeByRank(destination, maxBytes, counts);
            if (_count == 0)
            {
                _head = 0;
                if (entries.Length > 256 && count < entries.Length / 8)
                {
                    // A burst grew the array: give it back once the connection is quiet again (idle memory).
                    _entries = [];
                }
            }

            return taken;
        }
    }

    private int TakeFifoPrefix(List<FrameBuffer> destination, long maxBytes, OutboundBatchCounts? counts)
    {
        var entries = _entries;
        var mask = entries.Length - 1;
        var count = _count;
        long takenBytes = 0;
        var taken = 0;
        while (taken < count)
        {
            ref var entry = ref entries[(_head + taken) & mask];
            var length = entry.Buffer!.Length;
            if (taken > 0 && takenBytes + length > maxBytes)
            {
                break;
            }

            takenBytes += length;
            Take(destination, ref entry, counts, oldestLive: true);
            taken++;
        }

        _head = (_head + taken) & mask;
        _count -= taken;
        return taken;
    }

    private int TakeByRank(List<FrameBuffer> destination, long maxBytes, OutboundBatchCounts? counts)
    {
        var entries = _entries;
        var mask = entries.Length - 1;
        var count = _count;
        var scratch = _scratch ??= new DrainScratch();
        var ranks = scratch.Ranks(count);
        EffectiveRanks(entries, _head, count, ranks, scratch);

        // Segment by segment (an Unsubscribed/Error ends one), a stable selection by effective rank, stopping at the first
        // frame that does not fit: what is taken is a prefix of the drain order, so every topic's taken frames are a
        // prefix of its queued frames and nothing crosses a segment boundary.
        long takenBytes = 0;
        var taken = 0;
        var oldestLive = int.MaxValue;
        FrameBuffer? oldest = null;
        var start = 0;
        while (start < count)
        {
            var last = start;
            while (last < count - 1 && entries[(_head + last) & mask].Class != OrderedControlClass)
            {
                last++;
            }

            for (byte rank = 0; rank <= BarrierRank; rank++)
            {
                for (var i = start; i <= last; i++)
                {
                    if (ranks[i] != rank)
                    {
                        continue;
                    }

                    ref var entry = ref entries[(_head + i) & mask];
                    var length = entry.Buffer!.Length;
                    if (taken > 0 && takenBytes + length > maxBytes)
                    {
                        goto Compact;
                    }

                    if (entry.Class < ControlClass && i < oldestLive)
                    {
                        oldestLive = i;
                        oldest = entry.Buffer;
                    }

                    takenBytes += length;
                    Take(destination, ref entry, counts, oldestLive: false);
                    ranks[i] = TakenRank;
                    taken++;
                }
            }

            start = last + 1;
        }

    Compact:
        if (oldest is not null)
        {
            counts?.SetOldestLiveMessage(oldest);
        }

        // Keep what was not taken, in queue order, at the front.
        var write = 0;
        for (var read = 0; read < count; read++)
        {
            if (ranks[read] == TakenRank)
            {
                continue;
            }

            if (read != write)
            {
                entries[(_head + write) & mask] = entries[(_head + read) & mask];
                entries[(_head + read) & mask] = default;
            }

            write++;
        }

        _count = write;
        return taken;
    }

    /// <summary>
    /// The rank each entry is drained at within its segment (entries up to and including the next Unsubscribed/Error,
    /// which is ranked last in it): its own, raised (made more urgent) to that of any later frame of the segment it must
    /// not be overtaken by: a later message of the same topic, or, for any message, a later message of unknown topic.
    /// One backward pass; topics are looked up in a per-thread table.
    /// </summary>
    private static void EffectiveRanks(Entry[] entries, int head, int count, byte[] ranks, DrainScratch scratch)
    {
        var mask = entries.Length - 1;
        var table = scratch.Table(count);
        var segment = 0;
        byte unknownLater = NoRank; // min rank of later unknown-topic messages: every earlier message precedes them
        byte anyLater = NoRank;     // min rank of every later message: an unknown-topic message precedes them all
        for (var i = count - 1; i >= 0; i--)
        {
            var entry = entries[(head + i) & mask];
            byte rank;
            switch (entry.Class)
            {
                case ControlClass:
                    rank = 0;
                    break;
                case OrderedControlClass:
                    rank = BarrierRank;
                    segment++;
                    unknownLater = NoRank;
                    anyLater = NoRank;
                    break;
                default:
                    rank = Math.Min(Rank(entry.Class), unknownLater);
                    var key = entry.Class == ReplayClass ? null : entry.Buffer!.OrderingKey;
                    if (key is null)
                    {
                        rank = Math.Min(rank, anyLater);
                        unknownLater = rank;
                    }
                    else
                    {
                        rank = table.LowerTo(key, rank, segment);
                    }

                    anyLater = Math.Min(anyLater, rank);
                    break;
            }

            ranks[i] = rank;
        }

        table.Clear();
    }

    private static byte Rank(byte cls) => cls switch
    {
        ControlClass => 0,
        OrderedControlClass => BarrierRank,
        ReplayClass => 1 + (byte)Priority.Normal,
        _ => (byte)(1 + cls),
    };

    private void Take(List<FrameBuffer> destination, ref Entry entry, OutboundBatchCounts? counts, bool oldestLive)
    {
        var buffer = entry.Buffer!;
        destination.Add(buffer);
        _bytes -= buffer.Length;
        if (entry.Class is ControlClass or OrderedControlClass)
        {
            _controlCount--;
            _controlBytes -= buffer.Length;
        }

        if (counts is not null)
        {
            counts.Add(entry.Kind, buffer);
            if (oldestLive && entry.Class < ControlClass && counts.OldestLiveMessage is null)
            {
                counts.SetOldestLiveMessage(buffer);
            }
        }

        entry = default;
    }

    /// <summary>
    /// Queues a control frame (an answer or a host frame: never shed); takes ownership. False (and released) when
    /// completed, or when the connection already holds <see cref="OutboundQueueOptions.MaxControlFrames"/> /
    /// <see cref="OutboundQueueOptions.MaxControlBytes"/> of them: the client sends requests without reading the
    /// answers, so the queue is closed as <see cref="ErrorCode.SlowConsumer"/> (queued messages released, the control
    /// frames already queued kept for the host's close).
    /// </summary>
    public bool TryEnqueueControl(FrameBuffer frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        var kind = FrameHeader.KindOfSingle(frame.Span);
        var cls = kind is FrameKind.Unsubscribed or FrameKind.Error or 0 ? OrderedControlClass : ControlClass;
        bool wake;
        bool refused = false;
        bool overflow = false;
        lock (Gate)
        {
            if (_completed)
            {
                frame.Release();
                return false;
            }

            if (_controlCount >= _maxControlFrames || _controlBytes + frame.Length > _maxControlBytes)
            {
                refused = true;
                overflow = !_messagesClosed;
                wake = overflow && CloseMessagesLocked();
            }
            else
            {
                Append(frame, cls, kind);
                wake = TakeWaiter();
            }
        }

        if (refused)
        {
            frame.Release();
            if (overflow && _counters is not null)
            {
                Interlocked.Increment(ref _counters.SlowConsumerCloses);
            }

            if (wake)
            {
                _core.SetResult(false);
            }

            return false;
        }

        if (wake)
        {
            _core.SetResult(true);
        }

        return true;
    }

    /// <summary>
    /// Closes the queue as <see cref="ErrorCode.SlowConsumer"/> on the host's behalf (its socket accepted nothing for too
    /// long while frames waited): queued messages are released at once, no more are accepted.
    /// </summary>
    /// <returns>True if this call closed it (false: already closed).</returns>
    public bool CloseAsSlowConsumer()
    {
        bool wake;
        lock (Gate)
        {
            if (_completed || _messagesClosed)
            {
                return false;
            }

            wake = CloseMessagesLocked();
        }

        if (_counters is not null)
        {
            Interlocked.Increment(ref _counters.SlowConsumerCloses);
        }

        if (wake)
        {
            _core.SetResult(false);
        }

        return true;
    }

    /// <summary>
    /// Queues a replayed frame (recovery page, pending notification, retained state), taking ownership, when
    /// the queue is under half its bounds (or empty, so a replay always progresses), or unconditionally with
    /// <paramref name="force"/>. Replayed frames are never shed nor evicted: the dispatcher pages them in as
    /// the reader drains. When refused (false: the frame is NOT consumed), the drain signal is armed under
    /// the same lock, so the next <see cref="DrainTo(List{FrameBuffer})"/> calls <see cref="Drained"/> — no lost wake-up.
    /// Also false (not consumed, not armed) when the queue is completed.
    /// </summary>
    internal bool TryEnqueueReplay(FrameBuffer frame, bool force, List<OutboundQueue>? deferredWakes)
    {
        bool wake = false;
        lock (Gate)
        {
            if (_completed || _messagesClosed)
            {
                return false;
            }

            if (!force && _count > 0 && (_count >= _maxFrames / 2 || _bytes + frame.Length > _maxBytes / 2))
            {
                _drainSignalArmed = true;
                return false;
            }

            Append(frame, ReplayClass, FrameKind.Message);
            if (deferredWakes is null)
            {
                wake = TakeWaiter();
            }
            else if (_waiting && !_wakeDeferred)
            {
                _wakeDeferred = true;
                deferredWakes.Add(this);
            }
        }

        if (wake)
        {
            _core.SetResult(true);
        }

        return true;
    }

    /// <summary>
    /// Queues a message frame of <paramref name="priority"/>, taking ownership of one reference, and applies
    /// the overflow policy. Called by dispatch workers.
    /// </summary>
    internal EnqueueResult TryEnqueueMessage(FrameBuffer frame, Priority priority) => TryEnqueueMessage(frame, priority, null);

    /// <summary>
    /// As <see cref="TryEnqueueMessage(FrameBuffer, Priority)"/>, but a waiting reader is not woken now: the
    /// queue is added (once) to <paramref name="deferredWakes"/> and the worker wakes it with
    /// <see cref="WakeDeferred"/> after its batch, so a reader that gets several messages in one batch
    /// wakes (and writes) once.
    /// </summary>
    internal EnqueueResult TryEnqueueMessage(FrameBuffer frame, Priority priority, List<OutboundQueue>? deferredWakes)
    {
        var cls = (byte)((int)priority & 3);
        EnqueueResult result;
        bool wake = false;
        lock (Gate)
        {
            if (_completed || _messagesClosed)
            {
                result = EnqueueResult.Closed;
            }
            else if (Fits(frame.Length) || MakeRoom(frame.Length, cls) || (cls < (byte)Priority.Normal && FitsBurst(frame.Length)))
            {
                Append(frame, cls, FrameKind.Message);
                if (deferredWakes is null)
                {
                    wake = TakeWaiter();
                }
                else if (_waiting && !_wakeDeferred)
                {
                    _wakeDeferred = true;
                    deferredWakes.Add(this);
                }

                result = EnqueueResult.Queued;
            }
            else if (cls >= (byte)Priority.Normal)
            {
                CountShed(cls);
                result = EnqueueResult.Shed;
            }
            else
            {
                // critical/high never shed: give up on this connection (the client reconnects and recovers).
                // Queued messages go at once; control frames (acks owed to the publisher, errors) stay and
                // more may still come, so the host can flush them before its Error frame (protocol §8.4).
                wake = CloseMessagesLocked();
                result = EnqueueResult.ClosedSlowConsumer;
            }
        }

        if (result != EnqueueResult.Queued)
        {
            frame.Release();
        }

        if (wake)
        {
            _core.SetResult(result == EnqueueResult.Queued);
        }

        return result;
    }

    /// <summary>
    /// Wakes a reader left waiting by a deferred enqueue. With <paramref name="inline"/> the reader's
    /// continuation (the host's write loop) runs on the calling thread before this returns: the caller
    /// must hold no lock and be at a point where re-entrant calls into the dispatcher are safe.
    /// </summary>
    internal void WakeDeferred(bool inline)
    {
        lock (Gate)
        {
            _wakeDeferred = false;
            if (!_waiting)
            {
                return; // already woken (control frame, completion, cancellation)
            }

            _waiting = false;
            _core.RunContinuationsAsynchronously = !inline;
        }

        _core.SetResult(true);
    }

    /// <summary>Completes the queue: no more frames are accepted; with <paramref name="discard"/> queued frames are released.</summary>
    internal void Complete(bool discard)
    {
        bool wake;
        bool any;
        lock (Gate)
        {
            if (discard)
            {
                ReleaseAllLocked();
            }

            _completed = true;
            wake = TakeWaiter();
            any = _count > 0;
        }

        if (wake)
        {
            _core.SetResult(any);
        }
    }

    bool IValueTaskSource<bool>.GetResult(short token)
    {
        _cancellation.Dispose();
        _cancellation = default;
        return _core.GetResult(token);
    }

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    private void CancelWait(CancellationToken token)
    {
        lock (Gate)
        {
            if (!_waiting)
            {
                return;
            }

            _waiting = false;
            _core.RunContinuationsAsynchronously = true;
        }

        _core.SetException(new OperationCanceledException(token));
    }

    private bool CloseMessagesLocked()
    {
        _closeReason = ErrorCode.SlowConsumer;
        ReleaseMessagesLocked();
        _messagesClosed = true;
        return TakeWaiter();
    }

    private bool TakeWaiter()
    {
        if (!_waiting)
        {
            return false;
        }

        _waiting = false;
        _core.RunContinuationsAsynchronously = true;
        return true;
    }

    private bool Fits(int size) => _count < _maxFrames && _bytes + size <= _maxBytes;

    // critical/high only: one burst (e.g. the largest HTTP batch) must not close a reader that keeps up.
    private bool FitsBurst(int size) => _count < _maxFrames + _burstFrames && _bytes + size <= _maxBytes + _burstBytes;

    /// <summary>Evicts queued messages of lower importance than <paramref name="cls"/> (low first, then normal), oldest first.</summary>
    private bool MakeRoom(int size, byte cls)
    {
        if (cls >= (byte)Priority.Low)
        {
            return false;
        }

        if (EvictClass((byte)Priority.Low, size))
        {
            return true;
        }

        return cls < (byte)Priority.Normal && EvictClass((byte)Priority.Normal, size);
    }

    private bool EvictClass(byte victim, int size)
    {
        // One compaction pass: drop the oldest victims until the frame fits, keep everything else in order.
        var entries = _entries;
        var mask = entries.Length - 1;
        var total = _count;
        var write = 0;
        for (var read = 0; read < total; read++)
        {
            var entry = entries[(_head + read) & mask];
            if (entry.Class == victim && !Fits(size))
            {
                _bytes -= entry.Buffer!.Length;
                _count--;
                entry.Buffer.Release();
                CountShed(victim);
                continue;
            }

            entries[(_head + write) & mask] = entry;
            write++;
        }

        for (var i = write; i < total; i++)
        {
            entries[(_head + i) & mask] = default;
        }

        return Fits(size);
    }

    private void CountShed(byte cls)
    {
        if (cls == (byte)Priority.Low)
        {
            _shedLow++;
        }
        else
        {
            _shedNormal++;
        }

        _counters?.CountShed((Priority)cls);
    }

    private void Append(FrameBuffer frame, byte cls, FrameKind kind)
    {
        if (_count == _entries.Length)
        {
            Grow();
        }

        _entries[(_head + _count) & (_entries.Length - 1)] = new Entry(frame, cls, kind);
        _count++;
        _bytes += frame.Length;
        if (cls is ControlClass or OrderedControlClass)
        {
            _controlCount++;
            _controlBytes += frame.Length;
        }
    }

    private void Grow()
    {
        // Power-of-two sizes starting small: an idle connection holds no array at all.
        var bigger = new Entry[Math.Max(8, _entries.Length * 2)];
        for (var i = 0; i < _count; i++)
        {
            bigger[i] = _entries[(_head + i) & (_entries.Length - 1)];
        }

        _entries = bigger;
        _head = 0;
    }

    private void ReleaseMessagesLocked()
    {
        var entries = _entries;
        var mask = entries.Length - 1;
        var total = _count;
        var write = 0;
        for (var read = 0; read < total; read++)
        {
            var entry = entries[(_head + read) & mask];
            if (entry.Class is not (ControlClass or OrderedControlClass))
            {
                _bytes -= entry.Buffer!.Length;
                _count--;
                entry.Buffer.Release();
                continue;
            }

            entries[(_head + write) & mask] = entry;
            write++;
        }

        for (var i = write; i < total; i++)
        {
            entries[(_head + i) & mask] = default;
        }
    }

    private void ReleaseAllLocked()
    {
        var mask = _entries.Length - 1;
        for (var i = 0; i < _count; i++)
        {
            ref var entry = ref _entries[(_head + i) & mask];
            entry.Buffer!.Release();
            entry = default;
        }

        _head = 0;
        _count = 0;
        _bytes = 0;
        _controlCount = 0;
        _controlBytes = 0;
    }

    private record struct Entry(FrameBuffer? Buffer, byte Class, FrameKind Kind);
}

/// <summary>Outcome of queueing a message on an <see cref="OutboundQueue"/>.</summary>
internal enum EnqueueResult
{
    Queued,
    Shed,
    Closed,
    ClosedSlowConsumer,
}
