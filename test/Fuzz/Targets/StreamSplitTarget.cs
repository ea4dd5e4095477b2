using System.Buffers;
using System.IO.Pipelines;
using Gateway.Protocol;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Fuzz.Targets;

/// <summary>
/// <c>tcp-stream</c>: the raw TCP input path. The input is a byte stream plus the points where the network
/// split it into reads; the reads go through a <see cref="Pipe"/> and the same parse loop the gateway runs on
/// every TCP connection (Transport/ClientConnection.Receive.cs, <c>ProcessInputAsync</c>: read whole frames from
/// the pipe's multi-segment buffer with <see cref="FrameReader"/>, then <c>AdvanceTo(consumed, examined)</c>).
/// Promises checked: the outcome (frames, then error or pending bytes) is exactly that of reading the whole
/// stream at once (docs/protocol.md §3.1: "the reader's result must not depend on how the bytes were split"),
/// "need more" consumes nothing, and the loop never stalls with a whole frame buffered.
/// Input layout: byte 0 = number of reads N (mod 32), then N u16 (big-endian) read sizes, then the stream.
/// </summary>
internal sealed class StreamSplitTarget : IFuzzTarget
{
    private static readonly PipeOptions Options = new(pauseWriterThreshold: 0, minimumSegmentSize: 64, useSynchronizationContext: false);

    private readonly ArrayBufferWriter<byte> _rewritten = new(256);

    /// <inheritdoc />
    public string Name => "tcp-stream";

    /// <inheritdoc />
    public void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }

        var reads = input[0] % 32;
        var header = 1 + (2 * reads);
        if (input.Length < header)
        {
            return;
        }

        var stream = input[header..].ToArray();
        var limits = ProtocolLimits.Default;
        var whole = FrameReaderTarget.ReadAll(new ReadOnlySequence<byte>(stream), limits, _rewritten);

        var pipe = new Pipe(Options);
        var offset = 0;
        var frames = 0;
        long pending = 0;
        var error = ErrorCode.None;
        for (var i = 0; i <= reads && error == ErrorCode.None; i++)
        {
            // The last "read" delivers whatever the listed sizes left over.
            var size = i < reads ? Math.Min(stream.Length - offset, (input[1 + (2 * i)] << 8) | input[2 + (2 * i)]) : stream.Length - offset;
            pipe.Writer.Write(stream.AsSpan(offset, size));
            offset += size;
            Complete(pipe.Writer.FlushAsync());
            if (!pipe.Reader.TryRead(out var result))
            {
                continue;
            }

            error = Parse(pipe.Reader, result, limits, ref frames, out pending);
        }

        pipe.Writer.Complete();
        pipe.Reader.Complete();

        // After an error the unconsumed count depends on what had arrived; frames and the error itself must not.
        var split = new ReadOutcome(frames, error, error == ErrorCode.None ? pending : whole.Pending);
        if (split != whole)
        {
            throw new FuzzFindingException($"Split reads gave {split}, one read gave {whole}.");
        }
    }

    /// <summary>One pass of the gateway's parse loop over what the pipe holds; returns the error that ends the stream, if any.</summary>
    private static ErrorCode Parse(PipeReader pipe, ReadResult result, ProtocolLimits limits, ref int frames, out long pending)
    {
        var buffer = result.Buffer;
        pending = 0;
        try
        {
            while (true)
            {
                var reader = new SequenceReader<byte>(buffer);
                if (!FrameReader.TryRead(ref reader, limits, out _))
                {
                    if (reader.Consumed != 0)
                    {
                        throw new FuzzFindingException($"TryRead returned false after consuming {reader.Consumed} bytes of a segmented buffer.");
                    }

                    break;
                }

                frames++;
                buffer = buffer.Slice(reader.Position);
            }
        }
        catch (ProtocolException e)
        {
            pipe.AdvanceTo(buffer.Start, buffer.End);
            return e.Code;
        }

        pending = buffer.Length;
        pipe.AdvanceTo(buffer.Start, buffer.End);
        return ErrorCode.None;
    }

    private static void Complete(ValueTask<FlushResult> flush)
    {
        // pauseWriterThreshold 0: a flush never waits, so the loop stays synchronous (fuzzers need that).
        if (!flush.IsCompletedSuccessfully)
        {
            throw new FuzzFindingException("Pipe flush did not complete synchronously.");
        }

        _ = flush.Result;
    }
}
