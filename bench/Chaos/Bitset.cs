namespace Chaos;

/// <summary>
/// Growable bitset indexed by sequence number: which sequence numbers of one publisher's stream were seen.
/// <see cref="Set"/> is single-writer (the reader loop of one client); <see cref="SetAtomic"/> tolerates
/// concurrent writers on a bitset created with enough capacity (it never grows).
/// </summary>
public sealed class Bitset
{
    private long[] _words;

    public Bitset(int capacityBits = 256) => _words = new long[Math.Max(1, (capacityBits + 63) / 64)];

    public int CapacityBits => _words.Length * 64;

    public bool Get(long index) => index >= 0 && (index >> 6) < _words.Length && (Volatile.Read(ref _words[index >> 6]) & (1L << (int)(index & 63))) != 0;

    /// <summary>Sets the bit; returns false when it was set already.</summary>
    public bool Set(long index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        var word = (int)(index >> 6);
        if (word >= _words.Length)
        {
            Array.Resize(ref _words, Math.Max(word + 1, _words.Length * 2));
        }

        var mask = 1L << (int)(index & 63);
        var old = _words[word];
        _words[word] = old | mask;
        return (old & mask) == 0;
    }

    /// <summary>Sets the bit with an atomic OR (no growth: the index must be below <see cref="CapacityBits"/>).</summary>
    public bool SetAtomic(long index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, CapacityBits);
        var mask = 1L << (int)(index & 63);
        return (Interlocked.Or(ref _words[index >> 6], mask) & mask) == 0;
    }

    /// <summary>Bits set here and not in <paramref name="other"/> (other may be null = empty).</summary>
    public long CountMissingFrom(Bitset? other)
    {
        long n = 0;
        for (var i = 0; i < _words.Length; i++)
        {
            var theirs = other is not null && i < other._words.Length ? other._words[i] : 0;
            n += long.PopCount(_words[i] & ~theirs);
        }

        return n;
    }

    /// <summary>ORs into <paramref name="target"/> the bits set here and not in <paramref name="other"/>.</summary>
    public void AddMissingTo(Bitset? other, Bitset target)
    {
        for (var i = 0; i < _words.Length; i++)
        {
            var theirs = other is not null && i < other._words.Length ? other._words[i] : 0;
            var missing = _words[i] & ~theirs;
            if (missing != 0)
            {
                if (i >= target._words.Length)
                {
                    Array.Resize(ref target._words, Math.Max(i + 1, target._words.Length * 2));
                }

                target._words[i] |= missing;
            }
        }
    }

    public long Count()
    {
        long n = 0;
        foreach (var w in _words)
        {
            n += long.PopCount(w);
        }

        return n;
    }

    /// <summary>The first few set indices (for reproduction details in reports).</summary>
    public List<long> FirstSet(int max)
    {
        var list = new List<long>();
        for (var i = 0; i < _words.Length && list.Count < max; i++)
        {
            var w = _words[i];
            while (w != 0 && list.Count < max)
            {
                var bit = long.TrailingZeroCount(w);
                list.Add((i * 64L) + bit);
                w &= w - 1;
            }
        }

        return list;
    }
}
