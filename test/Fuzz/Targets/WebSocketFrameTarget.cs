using System.Buffers;
using Gateway.Protocol.WebSockets;

namespace Gateway.Fuzz.Targets;

/// <summary>
/// <c>websocket-frames</c>: the raw WebSocket transport's receive path over arbitrary client bytes
/// (src/Protocol/WebSockets, as RawWebSocketConnection drives it): frame headers read from a multi-segment buffer,
/// payloads unmasked in place, data frames followed across a message (<see cref="WebSocketMessageTracker"/>), close
/// payloads parsed. Promises checked: only <see cref="WebSocketProtocolException"/> escapes, with a close code of
/// 1002, 1003, 1007 or 1009; "need more" consumes nothing; every accepted header is within the RFC's sizes (masked,
/// control payloads ≤ 125 bytes and never fragmented); the result does not depend on where the bytes were split
/// (the first input byte picks a split point).
/// </summary>
internal sealed class WebSocketFrameTarget : IFuzzTarget
{
    private const long MaxMessageBytes = 64 * 1024;

    /// <inheritdoc />
    public string Name => "websocket-frames";

    /// <inheritdoc />
    public void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }

        var data = input[1..].ToArray();
        var whole = ReadAll(new ReadOnlySequence<byte>(data.ToArray()));
        var split = data.Length == 0 ? 0 : input[0] % (data.Length + 1);
        var pieces = ReadAll(TwoSegments(data, split));
        if (whole != pieces)
        {
            throw new FuzzFindingException($"Reading in one piece gave {whole}, split at {split} gave {pieces}.");
        }
    }

    /// <summary>Reads frames until the input ends or is refused: (frames read, close code or 0, bytes left).</summary>
    private static (int Frames, ushort CloseCode, long Remaining) ReadAll(ReadOnlySequence<byte> input)
    {
        var tracker = new WebSocketMessageTracker(MaxMessageBytes);
        var reader = new SequenceReader<byte>(input);
        var frames = 0;
        try
        {
            while (!reader.End)
            {
                var start = reader.Consumed;
                if (!WebSocketFrameHeader.TryRead(ref reader, out var header))
                {
                    if (reader.Consumed != start)
                    {
                        throw new FuzzFindingException($"TryRead returned false after consuming {reader.Consumed - start} bytes.");
                    }

                    return (frames, 0, reader.Remaining);
                }

                if (!header.Masked || reader.Consumed - start > WebSocketFrameHeader.MaxSize || header.PayloadLength < 0)
                {
                    throw new FuzzFindingException($"Accepted header {header} of {reader.Consumed - start} bytes.");
                }

                if (header.IsControl && (header.PayloadLength > WebSocketFrameHeader.MaxControlPayload || !header.Fin))
                {
                    throw new FuzzFindingException($"Accepted control frame {header}.");
                }

                if (!header.IsControl)
                {
                    tracker.OnDataFrame(header);
                }

                if (reader.Remaining < header.PayloadLength)
                {
                    return (frames, 0, reader.Remaining); // the payload is still arriving
                }

                var payload = reader.Sequence.Slice(reader.Position, header.PayloadLength).ToArray();
                WebSocketMask.Apply(payload, header.MaskKey, 0);
                if (header.Opcode == WebSocketOpcode.Close)
                {
                    WebSocketClosePayload.Parse(payload, out _);
                }

                reader.Advance(header.PayloadLength);
                frames++;
            }

            return (frames, 0, 0);
        }
        catch (WebSocketProtocolException e)
        {
            if (e.CloseCode is not (WebSocketCloseCodes.ProtocolError or WebSocketCloseCodes.UnsupportedData or WebSocketCloseCodes.InvalidPayload or WebSocketCloseCodes.MessageTooBig))
            {
                throw new FuzzFindingException($"Refused with close code {e.CloseCode}, which the transport does not define.");
            }

            return (frames, e.CloseCode, reader.Remaining);
        }
    }

    private static ReadOnlySequence<byte> TwoSegments(byte[] data, int split)
    {
        if (split <= 0 || split >= data.Length)
        {
            return new ReadOnlySequence<byte>(data);
        }

        var first = new Segment(data.AsMemory(0, split).ToArray(), 0);
        var second = first.Append(data.AsMemory(split).ToArray());
        return new ReadOnlySequence<byte>(first, 0, second, second.Memory.Length);
    }

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
