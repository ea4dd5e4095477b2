using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;

namespace Gateway.Protocol.Buffers;

/// <summary>
/// Debug/test pool: never reuses buffer objects (so a stale double release always hits a count of
/// zero and throws), records every outstanding buffer with the stack that rented it (when
/// <see cref="CaptureStacks"/>), counts double releases, and lets a test assert that every rented
/// buffer came back.
/// </summary>
public sealed class TrackingFrameBufferPool : FrameBufferPool
{
    private readonly ConcurrentDictionary<FrameBuffer, string?> _outstanding = new(ReferenceEqualityComparer.Instance);
    private long _rented;
    private long _returned;
    private long _doubleReleases;

    /// <summary>Whether to record the renting stack trace (slow; for diagnosing leaks).</summary>
    public bool CaptureStacks { get; init; }

    /// <summary>Buffers rented so far.</summary>
    public long Rented => Interlocked.Read(ref _rented);

    /// <summary>Buffers whose last reference was released.</summary>
    public long Returned => Interlocked.Read(ref _returned);

    /// <summary>Releases past zero that were detected.</summary>
    public long DoubleReleases => Interlocked.Read(ref _doubleReleases);

    /// <summary>Buffers rented and not yet returned.</summary>
    public int Outstanding => _outstanding.Count;

    /// <summary>Throws when a buffer is still outstanding or a double release happened.</summary>
    public void AssertNoLeaks()
    {
        if (_outstanding.IsEmpty && DoubleReleases == 0)
        {
            return;
        }

        var message = new StringBuilder();
        message.Append("Frame buffer pool: ").Append(_outstanding.Count).Append(" outstanding, ")
            .Append(DoubleReleases).Append(" double releases (rented ").Append(Rented)
            .Append(", returned ").Append(Returned).Append(").");
        foreach (var (buffer, stack) in _outstanding.Take(5))
        {
            message.AppendLine().Append("- ").Append(buffer.Length).Append(" bytes, refs ").Append(buffer.References);
            if (stack is not null)
            {
                message.AppendLine().Append(stack);
            }
        }

        throw new InvalidOperationException(message.ToString());
    }

    /// <inheritdoc />
    protected override FrameBuffer RentBuffer() => CreateBuffer();

    /// <inheritdoc />
    protected override void ReturnBufferObject(FrameBuffer buffer)
    {
        // Never reused: see the type's remarks.
    }

    /// <inheritdoc />
    protected override void OnRented(FrameBuffer buffer)
    {
        Interlocked.Increment(ref _rented);
        _outstanding[buffer] = CaptureStacks ? new StackTrace(2, false).ToString() : null;
    }

    /// <inheritdoc />
    protected override void OnReturned(FrameBuffer buffer)
    {
        Interlocked.Increment(ref _returned);
        if (!_outstanding.TryRemove(buffer, out _))
        {
            Interlocked.Increment(ref _doubleReleases);
        }
    }

    /// <inheritdoc />
    protected internal override void ReportDoubleRelease(FrameBuffer buffer) => Interlocked.Increment(ref _doubleReleases);
}
