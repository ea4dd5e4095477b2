namespace Gateway.Hosting;

/// <summary>
/// A set that one sweeper walks a slice at a time: a dense slot array (swap-remove keeps it dense), an item-to-slot
/// index for O(1) add and remove under one short lock, and a cursor. <see cref="Sweep{TVisitor}"/> takes no lock and
/// allocates nothing: it reads the slots directly, downwards from the cursor, at most <c>budget</c> items per call.
/// <para>
/// Bound: a round starts at the top slot and ends at slot 0, so with N items and a budget B it takes ceil(N / B) calls.
/// Every item present for a whole round is visited at least once in it: an item only ever moves down (a swap-remove
/// moves the last item into the freed slot) and the cursor only moves down, so an item below the cursor stays below
/// it until visited. Two visits of one item are therefore at most 2 * ceil(N / B) - 1 calls apart (exactly
/// ceil(N / B) when nothing moved it). An item added during a round may wait for the next; an item moved from above
/// the cursor to below it can be visited twice in a round; a removed item can be visited once more by a sweep already
/// reading its slot (the visitor must tolerate that, as it had to with a snapshot).
/// </para>
/// Only one thread may call <see cref="Sweep{TVisitor}"/> (the cursor is the sweeper's); add and remove may race with it.
/// </summary>
/// <typeparam name="T">The item type (compared by reference).</typeparam>
public sealed class SweepTable<T>
    where T : class
{
    private readonly Lock _gate = new();
    private readonly Dictionary<T, int> _slotOf = new(ReferenceEqualityComparer.Instance);
    private T?[] _slots = new T?[64];
    private int _count;
    private int _cursor;

    /// <summary>Number of items.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Adds <paramref name="item"/> in the last slot; false when it is already there.</summary>
    public bool Add(T item)
    {
        ArgumentNullException.ThrowIfNull(item);
        lock (_gate)
        {
            if (!_slotOf.TryAdd(item, _count))
            {
                return false;
            }

            if (_count == _slots.Length)
            {
                var grown = new T?[_slots.Length * 2];
                Array.Copy(_slots, grown, _count);
                Volatile.Write(ref _slots, grown);
            }

            Volatile.Write(ref _slots[_count], item);
            Volatile.Write(ref _count, _count + 1);
            return true;
        }
    }

    /// <summary>Removes <paramref name="item"/>: the last item moves into its slot. False when it was not there.</summary>
    public bool Remove(T item)
    {
        ArgumentNullException.ThrowIfNull(item);
        lock (_gate)
        {
            if (!_slotOf.Remove(item, out var slot))
            {
                return false;
            }

            var last = _count - 1;
            var slots = _slots;
            if (slot != last)
            {
                var moved = slots[last]!;
                Volatile.Write(ref slots[slot], moved);
                _slotOf[moved] = slot;
            }

            Volatile.Write(ref slots[last], null);
            Volatile.Write(ref _count, last);
            return true;
        }
    }

    /// <summary>A copy of the items (allocates: for rare whole-set operations such as a drain, not for the sweep).</summary>
    public T[] ToArray()
    {
        lock (_gate)
        {
            return _slots.AsSpan(0, _count).ToArray()!;
        }
    }

    /// <summary>
    /// Visits at most <paramref name="budget"/> items from the cursor downwards, without locking or allocating. Returns
    /// true when this call finished a round (reached slot 0); the next call starts a new round at the top.
    /// </summary>
    public bool Sweep<TVisitor>(int budget, ref TVisitor visitor)
        where TVisitor : struct, ISweepVisitor<T>
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(budget, 1);
        var cursor = _cursor;
        if (cursor <= 0)
        {
            cursor = Count;
        }

        var visited = 0;
        while (cursor > 0 && visited < budget)
        {
            cursor--;
            // Re-read the array each time: a concurrent growth publishes a new one, and removals write only to it.
            var item = Volatile.Read(ref Volatile.Read(ref _slots)[cursor]);
            if (item is not null)
            {
                visitor.Visit(item);
                visited++;
            }
        }

        _cursor = cursor;
        return cursor == 0;
    }
}
