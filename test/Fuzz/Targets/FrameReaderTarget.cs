using System.Buffers;
using Gateway.Protocol;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Fuzz.Targets;

/// <summary>
/// <c>frame-reader</c>: <see cref="FrameReader"/> over arbitrary bytes (one contiguous buffer). Promises checked:
/// only <see cref="ProtocolException"/> with a defined fatal code; "need more" consumes nothing; every decoded
/// frame re-encodes (<see cref="FrameWriter"/>) to exactly the bytes it was read from (docs/protocol.md, test/vectors).
/// The first input byte picks the frame limit so small limits (where length checks bite) are explored too.
/// </summary>
internal sealed class FrameReaderTarget : IFuzzTarget
{
    private static readonly ProtocolLimits[] Limits =
    [
        ProtocolLimits.Default,
        new() { MaxFrameLength = 64 },
        new() { MaxFrameLength = 300 },
        new() { MaxFrameLength = 16 * 1024 * 1024 },
    ];

    private readonly ArrayBufferWriter<byte> _rewritten = new(256);

    /// <inheritdoc />
    public string Name => "frame-reader";

    /// <inheritdoc />
    public void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }

        var limits = Limits[input[0] % Limits.Length];
        var data = input[1..].ToArray();
        ReadAll(new ReadOnlySequence<byte>(data), limits, _rewritten);
    }

    /// <summary>Reads every frame of <paramref name="input"/>; returns the outcome (frames then need-more or an error).</summary>
    internal static ReadOutcome ReadAll(ReadOnlySequence<byte> input, ProtocolLimits limits, ArrayBufferWriter<byte> rewritten)
    {
        var reader = new SequenceReader<byte>(input);
        var frames = 0;
        try
        {
            while (!reader.End)
            {
                var start = reader.Consumed;
                if (!FrameReader.TryRead(ref reader, limits, out var frame))
                {
                    if (reader.Consumed != start)
                    {
                        throw new FuzzFindingException($"TryRead returned false after consuming {reader.Consumed - start} bytes.");
                    }

                    return new ReadOutcome(frames, ErrorCode.None, reader.Remaining);
                }

                frames++;
                rewritten.ResetWrittenCount();
                FrameWriter.Write(rewritten, frame);
                var original = input.Slice(start, reader.Consumed - start);
                if (!original.ToArray().AsSpan().SequenceEqual(rewritten.WrittenSpan))
                {
                    throw new FuzzFindingException(
                        $"{frame.Kind} frame at offset {start} re-encodes differently: read {Convert.ToHexStringLower(original.ToArray())}, wrote {Convert.ToHexStringLower(rewritten.WrittenSpan)}.");
                }
            }

            return new ReadOutcome(frames, ErrorCode.None, 0);
        }
        catch (ProtocolException e)
        {
            if (!ErrorCatalog.IsDefined(e.Code) || !ErrorCatalog.Get(e.Code).Fatal)
            {
                throw new FuzzFindingException($"Reader threw ProtocolException with code {e.Code}, which is not a defined fatal code.");
            }

            return new ReadOutcome(frames, e.Code, reader.Remaining);
        }
    }
}
