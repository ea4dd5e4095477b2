using System.Buffers;
using CsCheck;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Protocol.Tests;

/// <summary>A pipe may hand the reader any split of the byte stream; the result must not depend on it.</summary>
public sealed class SegmentationTests
{
    // Exhaustive splits are quadratic; the 64 KiB vector gets the random splits only.
    private const int ExhaustiveLimit = 2048;

    public static IEnumerable<object[]> ValidNames => Vectors.ValidNames;

    [Theory]
    [MemberData(nameof(ValidNames))]
    public void One_byte_segments_decode_identically(string name)
    {
        var v = Vectors.GetValid(name);
        var result = Decoding.ReadAll(Segments.OneBytePerSegment(v.Bytes));

        Assert.Null(result.Error);
        Assert.Equal(v.Bytes.Length, result.Consumed);
        Decoding.AssertSameFrames(v.Frames, result.Frames);
    }

    [Theory]
    [MemberData(nameof(ValidNames))]
    public void Every_two_way_split_decodes_identically(string name)
    {
        var v = Vectors.GetValid(name);
        var step = v.Bytes.Length <= ExhaustiveLimit ? 1 : 997;
        for (var cut = 1; cut < v.Bytes.Length; cut += step)
        {
            var result = Decoding.ReadAll(Segments.Split(v.Bytes, [cut]));
            Assert.Null(result.Error);
            Assert.Equal(v.Bytes.Length, result.Consumed);
            Decoding.AssertSameFrames(v.Frames, result.Frames);
        }
    }

    [Fact]
    public void Random_multi_splits_decode_identically()
    {
        var gen = Gen.Int[0, Vectors.Valid.Count - 1].SelectMany(i =>
            Gen.Int[1, Math.Max(1, Vectors.Valid[i].Bytes.Length - 1)].Array[1, 12].Select(cuts => (i, cuts)));

        gen.Sample(
            (index, cuts) =>
            {
                var v = Vectors.Valid[index];
                var result = Decoding.ReadAll(Segments.Split(v.Bytes, cuts));
                Assert.Null(result.Error);
                Assert.Equal(v.Bytes.Length, result.Consumed);
                Decoding.AssertSameFrames(v.Frames, result.Frames);
            },
            iter: 2000);
    }

    [Theory]
    [MemberData(nameof(ValidNames))]
    public void Every_strict_prefix_of_a_frame_needs_more_and_consumes_nothing(string name)
    {
        var v = Vectors.GetValid(name);
        var frameStart = 0;
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(v.Bytes));
        while (FrameReader.TryRead(ref reader, ProtocolLimits.Default, out _))
        {
            var frameEnd = (int)reader.Consumed;
            var frame = v.Bytes.AsSpan(frameStart, frameEnd - frameStart).ToArray();
            for (var length = 0; length < frame.Length; length++)
            {
                var prefix = new ReadOnlySequence<byte>(frame, 0, length);
                Assert.False(FrameReader.TryRead(prefix, ProtocolLimits.Default, out _, out var consumed), $"prefix of {length} bytes");
                Assert.Equal(prefix.Start, consumed);
            }

            frameStart = frameEnd;
        }

        Assert.Equal(v.Bytes.Length, frameStart);
    }

    [Fact]
    public void Several_frames_in_one_buffer_are_read_one_by_one_with_exact_positions()
    {
        var w = new ArrayBufferWriter<byte>();
        var sizes = new List<int>
        {
            FrameWriter.WritePing(w, 1),
            FrameWriter.WriteMessage(w, "team:1", Priority.High, 1, 2, 3, "abc"u8),
            FrameWriter.WritePublishAck(w, 4, 5, 6),
            FrameWriter.WriteMessage(w, "team:1", Priority.Low, 1, 3, 4, ReadOnlySpan<byte>.Empty),
            FrameWriter.WriteGoAway(w, 10, "bye"),
        };
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(w.WrittenMemory));
        var kinds = new List<FrameKind>();
        long expected = 0;
        foreach (var size in sizes)
        {
            Assert.True(FrameReader.TryRead(ref reader, ProtocolLimits.Default, out var frame));
            expected += size;
            Assert.Equal(expected, reader.Consumed);
            kinds.Add(frame.Kind);
        }

        Assert.True(reader.End);
        Assert.False(FrameReader.TryRead(ref reader, ProtocolLimits.Default, out _));
        Assert.Equal([FrameKind.Ping, FrameKind.Message, FrameKind.PublishAck, FrameKind.Message, FrameKind.GoAway], kinds);
    }

    [Fact]
    public void Too_large_declared_length_is_refused_with_only_the_four_length_bytes()
    {
        var limits = new ProtocolLimits { MaxFrameLength = 1000 };
        byte[] justOver = [0x00, 0x00, 0x03, 0xE9];
        byte[] atLimit = [0x00, 0x00, 0x03, 0xE8];

        var e = Assert.Throws<ProtocolException>(() => FrameReader.TryRead(new ReadOnlySequence<byte>(justOver), limits, out _, out _));
        Assert.Equal(ErrorCode.FrameTooLarge, e.Code);
        Assert.False(FrameReader.TryRead(new ReadOnlySequence<byte>(atLimit), limits, out _, out _));

        // Three bytes cannot prove anything yet.
        Assert.False(FrameReader.TryRead(new ReadOnlySequence<byte>(justOver, 0, 3), limits, out _, out _));

        // Also when the length bytes are split across segments.
        var split = Segments.OneBytePerSegment(justOver);
        Assert.Equal(ErrorCode.FrameTooLarge, Assert.Throws<ProtocolException>(() => FrameReader.TryRead(split, limits, out _, out _)).Code);
    }

    [Fact]
    public void Configured_limit_applies_exactly_at_the_boundary()
    {
        var limits = new ProtocolLimits { MaxFrameLength = 100 };
        var w = new ArrayBufferWriter<byte>();
        FrameWriter.WriteMessage(w, "t", Priority.Normal, 1, 1, 1, new byte[100 - 27]);
        Assert.Equal(ProtocolLimits.HeaderSize + 100, w.WrittenCount);
        Assert.True(FrameReader.TryRead(new ReadOnlySequence<byte>(w.WrittenMemory), limits, out _, out _));

        w.Clear();
        FrameWriter.WriteMessage(w, "t", Priority.Normal, 1, 1, 1, new byte[101 - 27]);
        Assert.Equal(ErrorCode.FrameTooLarge, Assert.Throws<ProtocolException>(() => FrameReader.TryRead(new ReadOnlySequence<byte>(w.WrittenMemory), limits, out _, out _)).Code);
    }

    [Fact]
    public void Limits_outside_the_documented_range_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ProtocolLimits { MaxFrameLength = 63 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new ProtocolLimits { MaxFrameLength = (16 * 1024 * 1024) + 1 });
        Assert.Equal(64, new ProtocolLimits { MaxFrameLength = 64 }.MaxFrameLength);
        Assert.Equal(65_536, ProtocolLimits.Default.MaxFrameLength);
    }
}
