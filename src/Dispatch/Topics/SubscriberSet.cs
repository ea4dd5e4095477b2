namespace Gateway.Dispatch;

/// <summary>
/// The subscribers of one topic. Touched only by the topic's owning worker thread (subscribe,
/// unsubscribe and fan-out are all items on that worker's rings), so it needs no lock and fan-out
/// iterates a plain array. O(1) add and remove (swap with the last).
/// </summary>
internal sealed class SubscriberSet
{
    private readonly Dictionary<Session, int> _index = new(ReferenceEqualityComparer.Instance);
    private Session[] _items = [];
    private OutboundQueue[] _queues = [];
    private int _count;

    public int Count => _count;

    public ReadOnlySpan<Session> Items => _items.AsSpan(0, _count);

    /// <summary>The subscribers' queues, parallel to <see cref="Items"/>: fan-out reads only these (fewer cache misses).</summary>
    public ReadOnlySpan<OutboundQueue> Queues => _queues.AsSpan(0, _count);

    public bool Add(Session session)
    {
        if (!_index.TryAdd(session, _count))
        {
            return false;
        }

        if (_count == _items.Length)
        {
            var size = Math.Max(4, _items.Length * 2);
            Array.Resize(ref _items, size);
            Array.Resize(ref _queues, size);
        }

        _queues[_count] = session.Outbound;
        _items[_count++] = session;
        return true;
    }

    public bool Remove(Session session)
    {
        if (!_index.Remove(session, out var at))
        {
            return false;
        }

        RemoveAtCore(at);
        return true;
    }

    /// <summary>Removes the session at <paramref name="at"/>; the last one moves there.</summary>
    public void RemoveAt(int at)
    {
        _index.Remove(_items[at]);
        RemoveAtCore(at);
    }

    private void RemoveAtCore(int at)
    {
        var last = --_count;
        if (at != last)
        {
            _items[at] = _items[last];
            _queues[at] = _queues[last];
            _index[_items[at]] = at;
        }

        _items[last] = null!;
        _queues[last] = null!;
    }
}
