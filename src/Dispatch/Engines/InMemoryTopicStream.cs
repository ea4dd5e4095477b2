using Gateway.Protocol;
using Gateway.Protocol.Buffers;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch;

/// <summary>
/// A topic stream kept in memory: bounded history (count, bytes, age) as a circular array of
/// references to the very frames that were fanned out (no copy), the retained latest message for
/// workflow topics, and pending notifications for user topics. Single-threaded (the owning worker).
/// </summary>
internal sealed class InMemoryTopicStream : ITopicStream
{
    private readonly HistoryOptions _options;
    private readonly int _maxPending;
    private readonly long _pendingTtlMs;
    private readonly TimeProvider _time;
    private readonly TopicKind _kind;
    private ulong _epoch;
    private ulong _lastOffset;

    private Entry[] _history = [];
    private int _head;
    private int _count;
    private long _historyBytes;

    private FrameBuffer? _retained;
    private readonly List<Entry> _pending = [];

    public InMemoryTopicStream(string topic, TopicKind kind, ulong epoch, HistoryOptions options, int maxPending, TimeSpan pendingTtl, TimeProvider time)
    {
        Topic = topic;
        _kind = kind;
        _epoch = epoch;
        _options = options;
        _maxPending = maxPending;
        _pendingTtlMs = (long)pendingTtl.TotalMilliseconds;
        _time = time;
    }

    public string Topic { get; }

    /// <summary>
    /// The owning worker's share of the node budget, charged with this stream's history, retained and pending
    /// bytes (set by the dispatcher before the stream is used; null = not accounted).
    /// </summary>
    public BudgetLedger? Ledger { get; set; }

    /// <summary>Bytes of history held.</summary>
    public long HistoryBytes => _historyBytes;

    public StreamPosition Position => new(_epoch, _lastOffset);

    public FrameBuffer? Retained => _retained;

    public int PendingCount => _pending.Count;

    public bool IsEmpty
    {
        get
        {
            var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
            TrimHistory(now);
            ExpirePending(now);
            return _count == 0 && _retained is null && _pending.Count == 0;
        }
    }

    /// <summary>Messages currently in history (tests, stats).</summary>
    public int HistoryCount => _count;

    /// <summary>Notifications dropped because the per-user bound was reached.</summary>
    public long PendingDropped { get; private set; }

    public StreamPosition Append(FrameBuffer message, Priority priority)
    {
        var offset = ++_lastOffset;
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        if (_options.MaxMessages > 0 && message.Length <= _options.MaxBytes)
        {
            message.AddReference();
            Push(new Entry(offset, message, now));
        }

        TrimHistory(now);

        if (_kind == TopicKind.Workflow)
        {
            SetRetained(message);
        }
        else if (_kind == TopicKind.User && _maxPending > 0)
        {
            ExpirePending(now);
            if (_pending.Count >= _maxPending)
            {
                // Bounded per user: the oldest notification gives way (counted).
                Ledger?.AddPending(-_pending[0].Buffer.Length);
                _pending[0].Buffer.Release();
                _pending.RemoveAt(0);
                PendingDropped++;
            }

            message.AddReference();
            _pending.Add(new Entry(offset, message, now + _pendingTtlMs));
            Ledger?.AddPending(message.Length);
        }

        return new StreamPosition(_epoch, offset);
    }

    /// <summary>
    /// Records a message whose position a remote store assigned (this stream is then the node's local cache
    /// of what it delivered). Positions arrive in order; the dispatcher resets the cache on a new epoch.
    /// </summary>
    public void Record(FrameBuffer message, StreamPosition position)
    {
        if (position.Epoch != _epoch || position.Offset != _lastOffset + 1)
        {
            Reset(new StreamPosition(position.Epoch, position.Offset - 1));
        }

        _lastOffset = position.Offset;
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        if (_options.MaxMessages > 0 && message.Length <= _options.MaxBytes)
        {
            message.AddReference();
            Push(new Entry(position.Offset, message, now));
        }

        TrimHistory(now);
        if (_kind == TopicKind.Workflow)
        {
            SetRetained(message);
        }
    }

    /// <summary>Replaces the retained message (cache of a remote engine: the store's retained state at interest start).</summary>
    public void SetRetained(FrameBuffer? message)
    {
        message?.AddReference();
        Ledger?.AddRetained((message?.Length ?? 0) - (_retained?.Length ?? 0));
        _retained?.Release();
        _retained = message;
    }

    /// <summary>
    /// Drops the whole history (node budget eviction) but keeps the epoch and position: a recovery from before
    /// the current position then reads <see cref="HistoryReadStatus.Gone"/> (RecoveryFailed / recovery_incomplete).
    /// </summary>
    /// <returns>The bytes freed.</returns>
    public long DropHistory()
    {
        var bytes = _historyBytes;
        while (_count > 0)
        {
            PopOldest();
        }

        _history = []; // the ring array goes too: an evicted topic keeps no history memory
        _head = 0;
        return bytes;
    }

    /// <summary>Forgets the cached history and continues at <paramref name="position"/> (remote engines: interest start, new epoch).</summary>
    public void Reset(StreamPosition position)
    {
        while (_count > 0)
        {
            PopOldest();
        }

        if (position.Epoch != _epoch)
        {
            SetRetained(null);
        }

        _epoch = position.Epoch;
        _lastOffset = position.Offset;
    }

    public HistoryReadStatus ReadHistory(StreamPosition after, int maxMessages, long maxBytes, List<FrameBuffer> page)
    {
        if (after.Epoch != _epoch || after.Offset > _lastOffset)
        {
            return HistoryReadStatus.Gone;
        }

        if (after.Offset == _lastOffset)
        {
            return HistoryReadStatus.End; // nothing missed
        }

        TrimHistory(_time.GetUtcNow().ToUnixTimeMilliseconds());
        if (_count == 0 || _history[_head].Offset > after.Offset + 1)
        {
            return HistoryReadStatus.Gone; // the message right after the position was trimmed
        }

        // Offsets in history increase but may skip one too large to keep: find the next by binary search,
        // and treat any hole in the range as Gone (a replay is complete or fails, never partial).
        int lo = 0, hi = _count - 1;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (_history[(_head + mid) % _history.Length].Offset <= after.Offset)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        var expected = after.Offset + 1;
        long bytes = 0;
        var added = 0;
        for (var i = lo; i < _count && added < maxMessages; i++)
        {
            ref var entry = ref _history[(_head + i) % _history.Length];
            if (entry.Offset != expected)
            {
                break;
            }

            if (added > 0 && bytes + entry.Buffer.Length > maxBytes)
            {
                break;
            }

            entry.Buffer.AddReference();
            page.Add(entry.Buffer);
            bytes += entry.Buffer.Length;
            added++;
            expected++;
        }

        if (added == 0)
        {
            return HistoryReadStatus.Gone; // a hole right at the start (a message too large for history)
        }

        return expected - 1 == _lastOffset ? HistoryReadStatus.End : HistoryReadStatus.More;
    }

    public bool ReadPending(ulong afterOffset, int maxMessages, long maxBytes, List<FrameBuffer> page)
    {
        ExpirePending(_time.GetUtcNow().ToUnixTimeMilliseconds());
        int lo = 0, hi = _pending.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (_pending[mid].Offset <= afterOffset)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        long bytes = 0;
        var i = lo;
        for (; i < _pending.Count && i - lo < maxMessages; i++)
        {
            var buffer = _pending[i].Buffer;
            if (i > lo && bytes + buffer.Length > maxBytes)
            {
                break;
            }

            buffer.AddReference();
            page.Add(buffer);
            bytes += buffer.Length;
        }

        return i == _pending.Count;
    }

    public bool Acknowledge(ulong offset)
    {
        // Offsets are increasing: binary search.
        int lo = 0, hi = _pending.Count - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var value = _pending[mid].Offset;
            if (value == offset)
            {
                Ledger?.AddPending(-_pending[mid].Buffer.Length);
                _pending[mid].Buffer.Release();
                _pending.RemoveAt(mid);
                return true;
            }

            if (value < offset)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return false;
    }

    public void Dispose()
    {
        while (_count > 0)
        {
            PopOldest();
        }

        SetRetained(null);
        foreach (var entry in _pending)
        {
            Ledger?.AddPending(-entry.Buffer.Length);
            entry.Buffer.Release();
        }

        _pending.Clear();
    }

    private void Push(in Entry entry)
    {
        if (_count == _options.MaxMessages)
        {
            PopOldest();
        }

        if (_count == _history.Length)
        {
            // Grows by doubling up to MaxMessages, then stays: no allocation in steady state.
            var bigger = new Entry[Math.Min(Math.Max(8, _history.Length * 2), _options.MaxMessages)];
            for (var i = 0; i < _count; i++)
            {
                bigger[i] = _history[(_head + i) % _history.Length];
            }

            _history = bigger;
            _head = 0;
        }

        _history[(_head + _count) % _history.Length] = entry;
        _count++;
        _historyBytes += entry.Buffer.Length;
        Ledger?.AddHistory(entry.Buffer.Length);
    }

    private void TrimHistory(long nowMs)
    {
        var oldest = nowMs - (long)_options.MaxAge.TotalMilliseconds;
        while (_count > 0 && (_historyBytes > _options.MaxBytes || _history[_head].Stamp < oldest))
        {
            PopOldest();
        }
    }

    private void PopOldest()
    {
        ref var entry = ref _history[_head];
        _historyBytes -= entry.Buffer.Length;
        Ledger?.AddHistory(-entry.Buffer.Length);
        entry.Buffer.Release();
        entry = default;
        _head = (_head + 1) % _history.Length;
        _count--;
    }

    private void ExpirePending(long nowMs)
    {
        var expired = 0;
        while (expired < _pending.Count && _pending[expired].Stamp <= nowMs)
        {
            Ledger?.AddPending(-_pending[expired].Buffer.Length);
            _pending[expired].Buffer.Release();
            expired++;
        }

        if (expired > 0)
        {
            _pending.RemoveRange(0, expired);
        }
    }

    private readonly record struct Entry(ulong Offset, FrameBuffer Buffer, long Stamp);
}
