using System.Buffers;
using Microsoft.Extensions.ObjectPool;

namespace Gateway.Protocol.Buffers;

/// <summary>
/// Source of <see cref="FrameBuffer"/>s. The default pool reuses both the byte arrays
/// (<see cref="ArrayPool{T}.Shared"/>) and the buffer objects (<see cref="ObjectPool{T}"/>), so renting
/// and returning allocates nothing in steady state. <see cref="TrackingFrameBufferPool"/> is the
/// debug/test variant that detects leaks and double returns.
/// </summary>
public abstract class FrameBufferPool
{
    /// <summary>The process-wide default pool.</summary>
    public static FrameBufferPool Shared { get; } = new DefaultFrameBufferPool();

    /// <summary>Rents a buffer with at least <paramref name="minimumCapacity"/> bytes and one reference.</summary>
    public FrameBuffer Rent(int minimumCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(minimumCapacity);
        var buffer = RentBuffer();
        buffer.Initialize(RentArray(Math.Max(minimumCapacity, 16)));
        OnRented(buffer);
        return buffer;
    }

    /// <summary>Gets an empty buffer object owned by this pool.</summary>
    protected abstract FrameBuffer RentBuffer();

    /// <summary>Takes back a buffer object whose array was already returned.</summary>
    protected abstract void ReturnBufferObject(FrameBuffer buffer);

    /// <summary>Called after a buffer was rented (tracking hook).</summary>
    protected virtual void OnRented(FrameBuffer buffer)
    {
    }

    /// <summary>Called when the last reference was released, before the memory is reused (tracking hook).</summary>
    protected virtual void OnReturned(FrameBuffer buffer)
    {
    }

    /// <summary>Called when a buffer is released more often than referenced (tracking hook).</summary>
    protected internal virtual void ReportDoubleRelease(FrameBuffer buffer)
    {
    }

    /// <summary>Creates a buffer object bound to this pool.</summary>
    protected FrameBuffer CreateBuffer() => new(this);

    internal virtual byte[] RentArray(int minimumLength) => ArrayPool<byte>.Shared.Rent(minimumLength);

    internal virtual void ReturnArray(byte[] array) => ArrayPool<byte>.Shared.Return(array);

    internal void ReturnBuffer(FrameBuffer buffer)
    {
        OnReturned(buffer);
        ReturnArray(buffer.Detach());
        ReturnBufferObject(buffer);
    }
}

/// <summary>The production pool: arrays from <see cref="ArrayPool{T}.Shared"/>, buffer objects from an object pool.</summary>
public sealed class DefaultFrameBufferPool : FrameBufferPool
{
    private readonly ObjectPool<FrameBuffer> _objects;

    /// <summary>Creates a pool retaining up to <paramref name="maximumRetained"/> idle buffer objects.</summary>
    public DefaultFrameBufferPool(int maximumRetained = 16 * 1024)
    {
        _objects = new DefaultObjectPool<FrameBuffer>(new Policy(this), maximumRetained);
    }

    /// <inheritdoc />
    protected override FrameBuffer RentBuffer() => _objects.Get();

    /// <inheritdoc />
    protected override void ReturnBufferObject(FrameBuffer buffer) => _objects.Return(buffer);

    private sealed class Policy(DefaultFrameBufferPool owner) : IPooledObjectPolicy<FrameBuffer>
    {
        public FrameBuffer Create() => owner.CreateBuffer();

        public bool Return(FrameBuffer obj) => true;
    }
}
