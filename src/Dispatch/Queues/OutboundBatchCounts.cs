using Gateway.Protocol.Buffers;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch;

/// <summary>
/// What one <see cref="OutboundQueue.DrainTo(List{FrameBuffer}, long, OutboundBatchCounts?)"/> moved, by frame kind:
/// the queue classifies each frame once when it is queued (a message by its queue class, a control frame by its header
/// there), so the write path counts a batch's metrics from these totals instead of re-reading every header. One per
/// writer, reused (no allocation per batch); cleared by the writer after it reported them.
/// </summary>
public sealed class OutboundBatchCounts
{
    private const int KindSlots = (int)FrameKind.Refreshed + 1;

    private readonly int[] _frames = new int[KindSlots];
    private readonly long[] _bytes = new long[KindSlots];

    /// <summary>
    /// The live (not replayed) Message that waited longest among those drained (the first queued): the writer samples
    /// end-to-end latency from its timestamp once per batch. Valid until the batch's frames are released.
    /// </summary>
    public FrameBuffer? OldestLiveMessage { get; private set; }

    /// <summary>Frames of <paramref name="kind"/> in the batch.</summary>
    public int Frames(FrameKind kind) => (uint)kind < KindSlots ? _frames[(int)kind] : 0;

    /// <summary>Bytes of the frames of <paramref name="kind"/> in the batch.</summary>
    public long Bytes(FrameKind kind) => (uint)kind < KindSlots ? _bytes[(int)kind] : 0;

    /// <summary>Forgets the last batch.</summary>
    public void Clear()
    {
        Array.Clear(_frames);
        Array.Clear(_bytes);
        OldestLiveMessage = null;
    }

    internal void Add(FrameKind kind, FrameBuffer buffer)
    {
        if (kind == 0)
        {
            AddUnclassified(buffer);
            return;
        }

        if ((uint)kind < KindSlots)
        {
            _frames[(int)kind]++;
            _bytes[(int)kind] += buffer.Length;
        }
    }

    internal void SetOldestLiveMessage(FrameBuffer buffer) => OldestLiveMessage = buffer;

    // A buffer holding several frames (none of the server's makers produce one today): walk its headers.
    private void AddUnclassified(FrameBuffer buffer)
    {
        var span = buffer.Span;
        while (FrameHeader.TryPeek(span, out var size, out var kind))
        {
            if ((uint)kind < KindSlots)
            {
                _frames[(int)kind]++;
                _bytes[(int)kind] += Math.Min(size, span.Length);
            }

            span = span[Math.Min(size, span.Length)..];
        }
    }
}
