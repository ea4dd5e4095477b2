using System.Threading.Tasks.Sources;
using Gateway.Protocol.Buffers;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch;

/// <summary>
/// One connection's outbound queue: FIFO, bounded by frames and bytes, many writers (dispatch
/// workers, the host) and one reader (the connection's write loop). The reader waits with
/// <see cref="WaitToReadAsync"/> (a reusable <see cref="IValueTaskSource{TResult}"/>: no allocation per
/// wait) and takes everything at once with <see cref="DrainTo"/>, so one wake-up and one socket write
/// carry every frame queued meanwhile.
/// Overflow policy (§3): an incoming <c>low</c> message that does not fit is shed; an incoming
/// <c>normal</c> first evicts queued <c>low</c> messages (oldest first), else is shed; an incoming
/// <c>critical</c>/<c>high</c> evicts queued <c>low</c>, then queued <c>normal</c>, and if it still does not
/// fit even within the burst allowance (<see cref="OutboundQueueOptions.BurstFrames"/>/<see cref="OutboundQueueOptions.BurstBytes"/>,
/// which only they may use) the queue is closed with <see cref="ErrorCode.SlowConsumer"/>. Control frames are
/// never shed and may exceed the bounds (they are few and small: their rate is limited by the host).
/// Replayed frames (recovery, pending notifications) are flow-controlled instead of shed: they are admitted
/// only while the queue is under half its bounds (<see cref="TryEnqueueReplay"/>), are never evicted, and
/// when refused the queue signals its drain (<see cref="Drained"/>) so the dispatcher queues the next page.
/// </summary>
public sealed class OutboundQueue : IValueTaskSource<bool>
{
    private const byte ControlClass = 4;
    private const byte ReplayClass = 5;

    private readonly int _maxFrames;
    private readonly long _maxBytes;
    private readonly int _burstFrames;
    private readonly long _burstBytes;
    private readonly DispatchCounters? _counters;

    private Entry[] _entries = [];
    private int _head;
    private int _count;
    private long _bytes;
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
    /// Called (outside the queue's lock, on the reader's thread) by the first <see cref="DrainTo"/> after a
    /// <see cref="TryEnqueueReplay"/> was refused for lack of room: the next replay page can be queued now.
    /// </summary>
    internal Action? Drained { get; set; }

    /// <summary>Queued frames.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Queued bytes.</summary>
    public long Bytes => Volatile.Read(ref _bytes);

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
    /// Moves every queued frame, in order, to <paramref name="destination"/>; the caller owns one
    /// reference of each and must <see cref="FrameBuffer.Release"/> it after writing.
    /// </summary>
    /// <returns>The number of frames moved.</returns>
    public int DrainTo(List<FrameBuffer> destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var moved = DrainCore(destination, out var signal);
        if (signal)
        {
            Drained?.Invoke();
        }

        return moved;
    }

    private int DrainCore(List<FrameBuffer> destination, out bool signal)
    {
        lock (Gate)
        {
            signal = _drainSignalArmed && _count > 0;
            if (signal)
            {
                _drainSignalArmed = false;
            }

            var count = _count;
            var entries = _entries;
            for (var i = 0; i < count; i++)
            {
                ref var entry = ref entries[(_head + i) & (entries.Length - 1)];
                destination.Add(entry.Buffer!);
                entry = default;
            }

            _head = 0;
            _count = 0;
            _bytes = 0;
            if (entries.Length > 256 && count < entries.Length / 8)
            {
                // A burst grew the array: give it back once the connection is quiet again (idle memory).
                _entries = [];
            }

            return count;
        }
    }

    /// <summary>Queues a host frame (never shed); takes ownership. False (and released) when completed.</summary>
    public bool TryEnqueueControl(FrameBuffer frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        bool wake;
        lock (Gate)
        {
            if (_completed)
            {
                frame.Release();
                return false;
            }

            Append(frame, ControlClass);
            wake = TakeWaiter();
        }

        if (wake)
        {
            _core.SetResult(true);
        }

        return true;
    }

    /// <summary>
    /// Queues a replayed frame (recovery page, pending notification, retained state), taking ownership, when
    /// the queue is under half its bounds (or empty, so a replay always progresses), or unconditionally with
    /// <paramref name="force"/>. Replayed frames are never shed nor evicted: the dispatcher pages them in as
    /// the reader drains. When refused (false: the frame is NOT consumed), the drain signal is armed under
    /// the same lock, so the next <see cref="DrainTo"/> calls <see cref="Drained"/> — no lost wake-up.
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

            Append(frame, ReplayClass);
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
                Append(frame, cls);
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
                _closeReason = ErrorCode.SlowConsumer;
                ReleaseMessagesLocked();
                _messagesClosed = true;
                wake = TakeWaiter();
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

    private void Append(FrameBuffer frame, byte cls)
    {
        if (_count == _entries.Length)
        {
            Grow();
        }

        _entries[(_head + _count) & (_entries.Length - 1)] = new Entry(frame, cls);
        _count++;
        _bytes += frame.Length;
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
            if (entry.Class != ControlClass)
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
    }

    private record struct Entry(FrameBuffer? Buffer, byte Class);
}

/// <summary>Outcome of queueing a message on an <see cref="OutboundQueue"/>.</summary>
internal enum EnqueueResult
{
    Queued,
    Shed,
    Closed,
    ClosedSlowConsumer,
}
