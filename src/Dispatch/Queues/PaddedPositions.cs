using System.Runtime.InteropServices;

namespace Gateway.Dispatch;

/// <summary>
/// The head and tail counters of a <see cref="RingQueue{T}"/>, each on its own cache line (128 bytes
/// apart, covering adjacent-line prefetch) so producers bumping the tail do not invalidate the line
/// consumers read the head from. Non-generic because generic types cannot have explicit layout.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 384)]
internal struct PaddedPositions
{
    /// <summary>Next position to enqueue at.</summary>
    [FieldOffset(128)]
    public long Tail;

    /// <summary>Next position to dequeue from.</summary>
    [FieldOffset(256)]
    public long Head;
}
