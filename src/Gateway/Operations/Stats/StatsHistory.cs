namespace Gateway.Operations.Stats;

/// <summary>A bounded ring of snapshots, oldest first. Thread-safe; readers get a copy.</summary>
internal sealed class StatsHistory
{
    private readonly StatsSnapshot?[] _items;
    private readonly Lock _lock = new();
    private int _next;
    private int _count;

    public StatsHistory(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _items = new StatsSnapshot?[capacity];
    }

    /// <summary>Maximum number of snapshots kept.</summary>
    public int Capacity => _items.Length;

    /// <summary>Number of snapshots kept now.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <summary>Adds a snapshot, dropping the oldest when full.</summary>
    public void Add(StatsSnapshot snapshot)
    {
        lock (_lock)
        {
            _items[_next] = snapshot;
            _next = (_next + 1) % _items.Length;
            _count = Math.Min(_count + 1, _items.Length);
        }
    }

    /// <summary>The snapshots, oldest first, optionally only those after <paramref name="since"/>.</summary>
    public IReadOnlyList<StatsSnapshot> ToList(DateTimeOffset? since = null)
    {
        lock (_lock)
        {
            var result = new List<StatsSnapshot>(_count);
            var start = (_next - _count + _items.Length) % _items.Length;
            for (var i = 0; i < _count; i++)
            {
                var item = _items[(start + i) % _items.Length]!;
                if (since is null || item.Timestamp > since)
                {
                    result.Add(item);
                }
            }

            return result;
        }
    }
}
