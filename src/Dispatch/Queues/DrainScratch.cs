using System.Numerics;
using System.Runtime.CompilerServices;

namespace Gateway.Dispatch;

/// <summary>
/// Per-thread working memory of <see cref="OutboundQueue"/>'s priority drain: the rank of each queued entry and an
/// open-addressing table from ordering key (a topic, by reference) to the most urgent rank queued after it. Grown to
/// the largest batch the thread has drained and reused, so a drain allocates nothing in steady state; connections hold
/// none of it.
/// </summary>
internal sealed class DrainScratch
{
    private byte[] _ranks = new byte[64];
    private object?[] _keys = new object?[128];
    private int[] _values = new int[128]; // (segment << 8) | rank
    private int _used;

    /// <summary>An array of at least <paramref name="count"/> ranks (contents undefined).</summary>
    public byte[] Ranks(int count)
    {
        if (_ranks.Length < count)
        {
            _ranks = new byte[(int)BitOperations.RoundUpToPowerOf2((uint)count)];
        }

        return _ranks;
    }

    /// <summary>Makes room for <paramref name="count"/> distinct keys (the table is empty between drains).</summary>
    public DrainScratch Table(int count)
    {
        var needed = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, count * 2));
        if (_keys.Length < needed)
        {
            _keys = new object?[needed];
            _values = new int[needed];
        }

        return this;
    }

    /// <summary>
    /// Records <paramref name="rank"/> for <paramref name="key"/> in <paramref name="segment"/> unless a more urgent one
    /// is recorded there, and returns the recorded (most urgent) one. A value of another segment counts as absent.
    /// </summary>
    public byte LowerTo(object key, byte rank, int segment)
    {
        var mask = _keys.Length - 1;
        var slot = RuntimeHelpers.GetHashCode(key) & mask;
        var value = (segment << 8) | rank;
        while (true)
        {
            var current = _keys[slot];
            if (current is null)
            {
                _keys[slot] = key;
                _values[slot] = value;
                _used++;
                return rank;
            }

            if (ReferenceEquals(current, key))
            {
                var recorded = _values[slot];
                if (recorded >> 8 != segment || (byte)recorded > rank)
                {
                    _values[slot] = value;
                    return rank;
                }

                return (byte)recorded;
            }

            slot = (slot + 1) & mask;
        }
    }

    /// <summary>Empties the table (and drops its references to topics).</summary>
    public void Clear()
    {
        if (_used > 0)
        {
            Array.Clear(_keys);
            _used = 0;
        }
    }
}
