using System.Diagnostics.CodeAnalysis;
using System.Numerics;

namespace Gateway.Dispatch;

/// <summary>
/// A bounded, lock-free, multi-producer multi-consumer ring queue (Dmitry Vyukov's design): a
/// power-of-two array of slots, each carrying a sequence number that says whether the slot is free
/// for the producer at a given position or filled for the consumer at that position. Producers and
/// consumers claim positions with one compare-and-swap each; nothing is allocated after construction.
/// <see cref="TryEnqueue"/> returns false when full: the caller applies an explicit policy (the
/// dispatcher rejects the publish with a retryable <c>Overloaded</c>), so the queue never grows.
/// </summary>
/// <typeparam name="T">The item type (a struct in the dispatcher, so items are stored inline).</typeparam>
public sealed class RingQueue<T>
{
    private readonly Slot[] _slots;
    private readonly long _mask;

    // Head and tail live on their own cache lines (128 bytes apart, covering adjacent-line prefetch),
    // so producers bumping the tail do not invalidate the line the consumer reads the head from.
    private PaddedPositions _positions;

    /// <summary>Creates a ring with <paramref name="capacity"/> slots (a power of two, at least 2).</summary>
    public RingQueue(int capacity)
    {
        if (capacity < 2 || !BitOperations.IsPow2(capacity))
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "Ring capacity must be a power of two and at least 2.");
        }

        _slots = new Slot[capacity];
        for (var i = 0; i < capacity; i++)
        {
            _slots[i].Sequence = i;
        }

        _mask = capacity - 1;
    }

    /// <summary>Number of slots.</summary>
    public int Capacity => _slots.Length;

    /// <summary>Approximate number of queued items (exact when no operation is in flight).</summary>
    public int Count
    {
        get
        {
            var head = Volatile.Read(ref _positions.Head);
            var tail = Volatile.Read(ref _positions.Tail);
            return (int)Math.Clamp(tail - head, 0, _slots.Length);
        }
    }

    /// <summary>Total items ever enqueued (the tail position).</summary>
    public long TotalEnqueued => Volatile.Read(ref _positions.Tail);

    /// <summary>True when no item is visible to consumers.</summary>
    public bool IsEmpty
    {
        get
        {
            var head = Volatile.Read(ref _positions.Head);
            ref var slot = ref _slots[head & _mask];
            return Volatile.Read(ref slot.Sequence) != head + 1;
        }
    }

    /// <summary>Adds an item; false (nothing changed) when the ring is full.</summary>
    public bool TryEnqueue(in T item)
    {
        var slots = _slots;
        var pos = Volatile.Read(ref _positions.Tail);
        while (true)
        {
            ref var slot = ref slots[pos & _mask];
            var diff = Volatile.Read(ref slot.Sequence) - pos;
            if (diff == 0)
            {
                var observed = Interlocked.CompareExchange(ref _positions.Tail, pos + 1, pos);
                if (observed == pos)
                {
                    slot.Item = item;
                    Volatile.Write(ref slot.Sequence, pos + 1);
                    return true;
                }

                pos = observed;
            }
            else if (diff < 0)
            {
                // The slot still holds the item from one lap ago: full.
                return false;
            }
            else
            {
                pos = Volatile.Read(ref _positions.Tail);
            }
        }
    }

    /// <summary>Takes the oldest item; false when empty.</summary>
    public bool TryDequeue([MaybeNullWhen(false)] out T item)
    {
        var slots = _slots;
        var pos = Volatile.Read(ref _positions.Head);
        while (true)
        {
            ref var slot = ref slots[pos & _mask];
            var diff = Volatile.Read(ref slot.Sequence) - (pos + 1);
            if (diff == 0)
            {
                var observed = Interlocked.CompareExchange(ref _positions.Head, pos + 1, pos);
                if (observed == pos)
                {
                    item = slot.Item;
                    slot.Item = default!; // drop references so pooled objects are not kept alive
                    Volatile.Write(ref slot.Sequence, pos + _mask + 1);
                    return true;
                }

                pos = observed;
            }
            else if (diff < 0)
            {
                item = default;
                return false;
            }
            else
            {
                pos = Volatile.Read(ref _positions.Head);
            }
        }
    }

    private struct Slot
    {
        public long Sequence;
        public T Item;
    }
}
