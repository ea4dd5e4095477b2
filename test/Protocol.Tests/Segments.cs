using System.Buffers;

namespace Gateway.Protocol.Tests;

/// <summary>Builds multi-segment <see cref="ReadOnlySequence{T}"/>s, as a pipe hands them out.</summary>
internal static class Segments
{
    /// <summary>Splits <paramref name="data"/> at the given (ascending, distinct) cut points.</summary>
    public static ReadOnlySequence<byte> Split(byte[] data, IEnumerable<int> cuts)
    {
        var points = cuts.Where(c => c > 0 && c < data.Length).Distinct().Order().Append(data.Length).ToList();
        if (points.Count == 1)
        {
            // One segment, but still a segment-backed sequence rather than an array one.
            var only = new Segment(data.AsMemory(), 0);
            return new ReadOnlySequence<byte>(only, 0, only, data.Length);
        }

        Segment? first = null;
        Segment? last = null;
        var start = 0;
        foreach (var end in points)
        {
            // Copy each piece so a reader bug that runs past a segment end cannot see the next bytes.
            var piece = data.AsSpan(start, end - start).ToArray();
            last = last is null ? first = new Segment(piece, 0) : last.Append(piece);
            start = end;
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    /// <summary>Every byte in its own segment.</summary>
    public static ReadOnlySequence<byte> OneBytePerSegment(byte[] data) => Split(data, Enumerable.Range(1, Math.Max(0, data.Length - 1)));

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
