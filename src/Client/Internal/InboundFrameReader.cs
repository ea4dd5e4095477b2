using System.Buffers;
using System.IO.Pipelines;
using Gateway.Protocol;
using Gateway.Protocol.Frames;

namespace Gateway.Client.Internal;

/// <summary>
/// The client's receive path: drains a <see cref="PipeReader"/> with the shared
/// <see cref="FrameReader"/> and hands every whole frame, copied out of the buffer, to a callback.
/// Used by live connections and by the golden-vector tests, so both exercise the same code.
/// </summary>
internal static class InboundFrameReader
{
    /// <summary>
    /// Reads frames until the pipe completes. Returns the number of bytes left over that do not form
    /// a whole frame (0 on a clean end). Throws <see cref="Protocol.Errors.ProtocolException"/> on
    /// malformed input, after every frame before it has been handed over.
    /// </summary>
    public static async Task<long> RunAsync(PipeReader input, ProtocolLimits limits, Func<InboundFrame, ValueTask> onFrame, CancellationToken cancellationToken)
    {
        var batch = new List<InboundFrame>();
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            SequencePosition consumed;
            try
            {
                consumed = ParseAll(buffer, limits, batch);
            }
            catch
            {
                // Frames before the malformed one are valid and delivered, then the error surfaces.
                await DeliverAsync(batch, onFrame).ConfigureAwait(false);
                input.AdvanceTo(buffer.Start, buffer.End);
                throw;
            }

            var leftover = buffer.Slice(consumed).Length;
            input.AdvanceTo(consumed, buffer.End);

            // Handing frames over after AdvanceTo lets the transport keep filling the pipe meanwhile.
            await DeliverAsync(batch, onFrame).ConfigureAwait(false);

            if (result.IsCompleted || result.IsCanceled)
            {
                return leftover;
            }
        }
    }

    /// <summary>Decodes every whole frame of <paramref name="buffer"/> into <paramref name="batch"/>.</summary>
    public static SequencePosition ParseAll(in ReadOnlySequence<byte> buffer, ProtocolLimits limits, List<InboundFrame> batch)
    {
        var reader = new SequenceReader<byte>(buffer);
        while (FrameReader.TryRead(ref reader, limits, out var frame))
        {
            batch.Add(InboundFrame.From(frame));
        }

        return reader.Position;
    }

    private static async ValueTask DeliverAsync(List<InboundFrame> batch, Func<InboundFrame, ValueTask> onFrame)
    {
        foreach (var frame in batch)
        {
            await onFrame(frame).ConfigureAwait(false);
        }

        batch.Clear();
    }
}
