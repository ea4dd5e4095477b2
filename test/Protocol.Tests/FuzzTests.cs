using System.Buffers;
using CsCheck;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Protocol.Tests;

/// <summary>Hostile input: the reader only ever answers a frame, need-more (consuming nothing) or a ProtocolException.</summary>
public sealed class FuzzTests
{
    private static readonly ProtocolLimits SmallLimits = new() { MaxFrameLength = 512 };

    private static void ReadEverything(ReadOnlySequence<byte> input, ProtocolLimits limits)
    {
        var reader = new SequenceReader<byte>(input);
        try
        {
            while (!reader.End)
            {
                var before = reader.Position;
                var consumedBefore = reader.Consumed;
                if (!FrameReader.TryRead(ref reader, limits, out var frame))
                {
                    Assert.Equal(consumedBefore, reader.Consumed);
                    Assert.Equal(before, reader.Position);
                    return;
                }

                // A decoded frame is well-formed enough to be written back.
                FrameWriter.Write(new ArrayBufferWriter<byte>(), frame);
            }
        }
        catch (ProtocolException e)
        {
            Assert.True(ErrorCatalog.IsDefined(e.Code), $"undefined code {e.Code}");
            Assert.True(ErrorCatalog.Get(e.Code).Fatal);
        }
    }

    [Fact]
    public void Random_bytes_never_throw_anything_but_ProtocolException()
    {
        // Small length prefixes make it likely that random bodies are actually parsed.
        var gen = Gen.Select(Gen.Byte[0, 0x12], Gen.Byte[0, 4], Gen.Byte.Array[0, 80], Gen.Int[0, 8].Array[0, 4], (kind, flags, body, cuts) =>
        {
            var input = new byte[6 + body.Length];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(input, (uint)body.Length);
            input[4] = kind;
            input[5] = flags;
            body.CopyTo(input, 6);
            return (input, cuts);
        });

        gen.Sample((input, cuts) => ReadEverything(Segments.Split(input, cuts.Select(c => c * 7)), SmallLimits), iter: 5000);
    }

    [Fact]
    public void Entirely_random_bytes_never_throw_anything_but_ProtocolException()
    {
        Gen.Byte.Array[0, 300].Sample(input => ReadEverything(new ReadOnlySequence<byte>(input), ProtocolLimits.Default), iter: 5000);
    }

    [Fact]
    public void Mutated_golden_vectors_never_throw_anything_but_ProtocolException()
    {
        var small = Vectors.Valid.Where(v => v.Bytes.Length <= 2048).ToArray();
        var gen = Gen.Int[0, small.Length - 1].SelectMany(i =>
            Gen.Select(Gen.Int[0, small[i].Bytes.Length - 1].Array[1, 4], Gen.Byte.Array[4], Gen.Int[0, small[i].Bytes.Length], (positions, values, cut) =>
            {
                var bytes = (byte[])small[i].Bytes.Clone();
                for (var k = 0; k < positions.Length; k++)
                {
                    bytes[positions[k]] = values[k];
                }

                return (bytes, cut);
            }));

        gen.Sample((bytes, cut) => ReadEverything(Segments.Split(bytes, [cut]), ProtocolLimits.Default), iter: 5000);
    }
}
