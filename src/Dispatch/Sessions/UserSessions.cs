namespace Gateway.Dispatch;

/// <summary>
/// The connections of one user. Add and remove are O(1) amortised: a growable array with each session's
/// position stored in <see cref="Session.UserIndex"/>, removal swapping the last one in (the order of a
/// user's connections means nothing). A per-user lock guards it, so connects and disconnects of one user
/// never contend with other users, and the per-user cap is checked and applied atomically.
/// Fan-out to a user's connections does not read this (it goes through the <c>user:{id}</c> topic's
/// <see cref="SubscriberSet"/> on its owning worker); this registry serves the cap and lookups.
/// </summary>
internal sealed class UserSessions
{
    private readonly Lock _lock = new();
    private Session[] _items = new Session[2];
    private int _count;
    private bool _retired;

    /// <summary>Outcome of <see cref="TryAdd"/>.</summary>
    public enum AddResult
    {
        /// <summary>Added.</summary>
        Added,

        /// <summary>The user already has the maximum number of connections.</summary>
        AtLimit,

        /// <summary>This entry was emptied and dropped from the registry: get a fresh one and retry.</summary>
        Retired,
    }

    /// <summary>Connections of the user at this moment.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Adds <paramref name="session"/> unless the user already has <paramref name="max"/> connections.</summary>
    public AddResult TryAdd(Session session, int max)
    {
        lock (_lock)
        {
            if (_retired)
            {
                return AddResult.Retired;
            }

            if (_count >= max)
            {
                return AddResult.AtLimit;
            }

            if (_count == _items.Length)
            {
                Array.Resize(ref _items, _items.Length * 2);
            }

            session.UserIndex = _count;
            _items[_count] = session;
            Volatile.Write(ref _count, _count + 1);
            return AddResult.Added;
        }
    }

    /// <summary>
    /// Removes <paramref name="session"/> (no-op when absent). Returns true when the entry became empty: it
    /// is then retired (later adds are told to retry), and the caller drops it from the registry.
    /// </summary>
    public bool Remove(Session session)
    {
        lock (_lock)
        {
            var at = session.UserIndex;
            if (at < 0 || at >= _count || !ReferenceEquals(_items[at], session))
            {
                return false;
            }

            var last = _count - 1;
            if (at != last)
            {
                _items[at] = _items[last];
                _items[at].UserIndex = at;
            }

            _items[last] = null!;
            session.UserIndex = -1;
            Volatile.Write(ref _count, last);

            // Shrink after a burst so 10,000 closed connections do not pin a large array for good.
            if (last > 0 && last <= _items.Length / 4 && _items.Length > 16)
            {
                Array.Resize(ref _items, _items.Length / 2);
            }

            if (last == 0)
            {
                _retired = true;
                return true;
            }

            return false;
        }
    }

    /// <summary>A copy of the user's connections (lookups, tests; not a hot path).</summary>
    public Session[] Snapshot()
    {
        lock (_lock)
        {
            return _items.AsSpan(0, _count).ToArray();
        }
    }
}
