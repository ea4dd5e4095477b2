namespace Gateway.Dispatch;

/// <summary>
/// One worker's share of the session registry for broadcasts. Sessions are assigned round-robin at
/// connect, and a broadcast is delivered to each slice by the slice's own worker, so a broadcast to
/// 10,000 connections is split across all workers. A per-slice lock guards mutation and the slice's
/// own fan-out (never a global lock): connects contend only with one worker's broadcast pass.
/// </summary>
internal sealed class SessionSlice
{
    private readonly Lock _lock = new();
    private Session[] _items = new Session[16];
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public Lock SyncRoot => _lock;

    /// <summary>The sessions; only valid while holding <see cref="SyncRoot"/>.</summary>
    public ReadOnlySpan<Session> ItemsUnderLock => _items.AsSpan(0, _count);

    public void Add(Session session)
    {
        lock (_lock)
        {
            if (_count == _items.Length)
            {
                Array.Resize(ref _items, _items.Length * 2);
            }

            session.SliceIndex = _count;
            _items[_count++] = session;
        }
    }

    public void Remove(Session session)
    {
        lock (_lock)
        {
            var at = session.SliceIndex;
            if (at < 0 || at >= _count || !ReferenceEquals(_items[at], session))
            {
                return;
            }

            var last = --_count;
            if (at != last)
            {
                _items[at] = _items[last];
                _items[at].SliceIndex = at;
            }

            _items[last] = null!;
            session.SliceIndex = -1;
        }
    }
}
