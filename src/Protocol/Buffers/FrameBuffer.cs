using System.Buffers;

namespace Gateway.Protocol.Buffers;

/// <summary>
/// A pooled, reference-counted byte buffer holding one or more encoded frames. Ownership is explicit:
/// <see cref="FrameBufferPool.Rent"/> hands out a buffer with one reference; every additional holder
/// (e.g. each recipient of a fan-out) takes one with <see cref="AddReference"/>; every holder calls
/// <see cref="Release"/> exactly once, and the last release returns the memory to its pool.
/// A release past zero throws, so a double return is caught instead of corrupting a reused buffer.
/// Writing happens only while the renter is the single owner (through <see cref="IBufferWriter{T}"/>).
/// </summary>
public sealed class FrameBuffer : IBufferWriter<byte>
{
    private readonly FrameBufferPool _pool;
    private byte[]? _array;
    private int _length;
    private int _references;

    internal FrameBuffer(FrameBufferPool pool)
    {
        _pool = pool;
    }

    /// <summary>Bytes written so far.</summary>
    public int Length => _length;

    /// <summary>Capacity of the underlying array.</summary>
    public int Capacity => Array.Length;

    /// <summary>Current number of references (0 once returned).</summary>
    public int References => Volatile.Read(ref _references);

    /// <summary>
    /// Identifies the stream whose order a connection's outbound queue must keep for this frame (the dispatcher
    /// sets its topic on a Message): the queue lets a more urgent frame overtake queued ones only of other streams.
    /// Null (the default) = unknown: the frame is kept in order with every message queued around it.
    /// Set once by the frame's maker before the frame is shared; reset when the buffer returns to its pool.
    /// </summary>
    public object? OrderingKey { get; set; }

    /// <summary>The written bytes.</summary>
    public ReadOnlySpan<byte> Span => new(Array, 0, _length);

    /// <summary>The written bytes as memory (valid until the last <see cref="Release"/>).</summary>
    public ReadOnlyMemory<byte> Memory => new(Array, 0, _length);

    private byte[] Array => _array ?? throw new ObjectDisposedException(nameof(FrameBuffer), "The frame buffer was already returned to its pool.");

    /// <summary>Adds <paramref name="count"/> references (one per additional holder).</summary>
    /// <exception cref="InvalidOperationException">The buffer was already released.</exception>
    public void AddReference(int count = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        var after = Interlocked.Add(ref _references, count);
        if (after <= count)
        {
            // It was 0 (or below): the buffer is back in its pool and may belong to someone else now.
            Interlocked.Add(ref _references, -count);
            throw new InvalidOperationException("AddReference on a frame buffer that was already returned.");
        }
    }

    /// <summary>Drops one reference; the last one returns the buffer to its pool.</summary>
    /// <exception cref="InvalidOperationException">More releases than references (double return).</exception>
    public void Release()
    {
        var after = Interlocked.Decrement(ref _references);
        if (after == 0)
        {
            _pool.ReturnBuffer(this);
        }
        else if (after < 0)
        {
            Interlocked.Increment(ref _references);
            _pool.ReportDoubleRelease(this);
            throw new InvalidOperationException("Frame buffer released more times than it was referenced (double return).");
        }
    }

    /// <inheritdoc />
    public void Advance(int count)
    {
        if ((uint)count > (uint)(Array.Length - _length))
        {
            throw new ArgumentOutOfRangeException(nameof(count), "Advanced past the end of the buffer.");
        }

        _length += count;
    }

    /// <inheritdoc />
    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        EnsureFree(sizeHint);
        return Array.AsMemory(_length);
    }

    /// <inheritdoc />
    public Span<byte> GetSpan(int sizeHint = 0)
    {
        EnsureFree(sizeHint);
        return Array.AsSpan(_length);
    }

    /// <summary>Appends bytes.</summary>
    public void Write(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(GetSpan(bytes.Length));
        _length += bytes.Length;
    }

    internal void Initialize(byte[] array)
    {
        _array = array;
        _length = 0;
        OrderingKey = null;
        Volatile.Write(ref _references, 1);
    }

    internal byte[] Detach()
    {
        var array = _array!;
        _array = null;
        _length = 0;
        OrderingKey = null; // do not keep a topic alive from the pool
        return array;
    }

    private void EnsureFree(int sizeHint)
    {
        var needed = Math.Max(sizeHint, 1);
        var array = Array;
        if (array.Length - _length >= needed)
        {
            return;
        }

        // Rare: writers size frames exactly up front. Grow by swapping in a larger pooled array.
        var bigger = _pool.RentArray(checked(Math.Max(array.Length * 2, _length + needed)));
        array.AsSpan(0, _length).CopyTo(bigger);
        _pool.ReturnArray(array);
        _array = bigger;
    }
}
