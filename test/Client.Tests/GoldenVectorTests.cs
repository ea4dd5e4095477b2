using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using Gateway.Client.Internal;
using Gateway.Client.Tests.Infrastructure;
using Gateway.Protocol;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Client.Tests;

/// <summary>
/// The golden vectors through the client's own receive path (<see cref="InboundFrameReader"/> over a
/// pipe, as a live connection uses it, with the input split at every size from 1 byte to whole) and
/// its own send path (<see cref="OutboundWriter"/>, which coalesces the frames into one write).
/// </summary>
public sealed class GoldenVectorTests
{
    private static readonly int[] ChunkSizes = [1, 2, 3, 5, 7, 64, int.MaxValue];

    public static TheoryData<string> Valid => Vectors.ValidNames();

    public static TheoryData<string> InvalidErrors => Vectors.InvalidErrorNames();

    public static TheoryData<string> InvalidNeedMore => Vectors.InvalidNeedMoreNames();

    [Theory]
    [MemberData(nameof(Valid))]
    public async Task Valid_vector_decodes_to_the_listed_frames(string name)
    {
        var vector = Vectors.Valid(name);
        var bytes = Vectors.Bytes(vector);
        var expected = vector.GetProperty("frames").EnumerateArray().ToArray();
        foreach (var chunk in ChunkSizes)
        {
            var (frames, leftover, error) = await ReadAsync(bytes, chunk);
            Assert.Null(error);
            Assert.Equal(0, leftover);
            Assert.Equal(expected.Length, frames.Count);
            for (var i = 0; i < expected.Length; i++)
            {
                AssertFrame(expected[i], frames[i]);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Valid))]
    public async Task Valid_vector_reencodes_byte_exact_through_the_coalescing_writer(string name)
    {
        var vector = Vectors.Valid(name);
        var bytes = Vectors.Bytes(vector);
        var (frames, _, _) = await ReadAsync(bytes, int.MaxValue);

        var writer = new OutboundWriter(1024 * 1024, int.MaxValue);
        foreach (var frame in frames)
        {
            Assert.True(writer.TryWrite(frame, Encode));
        }

        writer.Complete();
        var sent = new List<byte[]>();
        await writer.RunAsync((data, _) => { sent.Add(data.ToArray()); return ValueTask.CompletedTask; }, CancellationToken.None);

        // All frames queued before the writer ran go out in one write (one WebSocket message).
        Assert.Single(sent);
        Assert.Equal(Convert.ToHexStringLower(bytes), Convert.ToHexStringLower(sent[0]));
    }

    [Theory]
    [MemberData(nameof(InvalidErrors))]
    public async Task Invalid_vector_fails_with_its_error_code(string name)
    {
        var vector = Vectors.Invalid(name);
        var bytes = Vectors.Bytes(vector);
        var code = (ErrorCode)vector.GetProperty("error").GetProperty("code").GetUInt16();
        var catalogName = vector.GetProperty("error").GetProperty("name").GetString();
        foreach (var chunk in ChunkSizes)
        {
            var (_, _, error) = await ReadAsync(bytes, chunk);
            var protocolError = Assert.IsType<ProtocolException>(error);
            Assert.Equal(code, protocolError.Code);
            Assert.Equal(catalogName, protocolError.Info.Name);
        }
    }

    [Theory]
    [MemberData(nameof(InvalidNeedMore))]
    public async Task Truncated_vector_needs_more_bytes_and_keeps_them(string name)
    {
        var bytes = Vectors.Bytes(Vectors.Invalid(name));
        foreach (var chunk in ChunkSizes)
        {
            var (frames, leftover, error) = await ReadAsync(bytes, chunk);
            Assert.Null(error);
            Assert.True(leftover > 0, "the incomplete frame's bytes stay unconsumed");

            // Whole frames before the truncated one were decoded and account for the rest of the input.
            var consumed = frames.Sum(f => EncodedLength(f));
            Assert.Equal(bytes.Length, consumed + leftover);
        }
    }

    [Fact]
    public void Batch_split_never_cuts_a_frame()
    {
        var frames = Vectors.Bytes(Vectors.Valid("batch-16-messages"));
        var max = 3 * (frames.Length / 16) + 1;
        var position = 0;
        var pieces = 0;
        while (position < frames.Length)
        {
            var take = OutboundWriter.SplitPoint(frames.AsSpan(position), max);
            Assert.InRange(take, 1, max);

            // Each piece is whole frames: the reader consumes it entirely.
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(frames, position, take));
            while (FrameReader.TryRead(ref reader, ProtocolLimits.Default, out _))
            {
            }

            Assert.True(reader.End);
            position += take;
            pieces++;
        }

        Assert.InRange(pieces, 6, 16);
    }

    internal static void Encode(IBufferWriter<byte> w, InboundFrame f)
    {
        // The same FrameWriter calls the client makes for the kinds it sends; the others for completeness.
        switch (f.Kind)
        {
            case FrameKind.Connect: FrameWriter.WriteConnect(w, f.Version, f.Text1, f.Text2, f.Text3); break;
            case FrameKind.Connected: FrameWriter.WriteConnected(w, f.Milliseconds, f.MaxFrameLength, f.MaxSubscriptions, f.Text1, f.Text2, f.Text3); break;
            case FrameKind.Subscribe: FrameWriter.WriteSubscribe(w, f.CorrelationId, f.Topic, (f.Flags & FrameFlags.Recover) != 0 ? new StreamPosition(f.Epoch, f.Offset) : null); break;
            case FrameKind.Subscribed: FrameWriter.WriteSubscribed(w, f.CorrelationId, f.Topic, f.Epoch, f.Offset, f.Flags); break;
            case FrameKind.Unsubscribe: FrameWriter.WriteUnsubscribe(w, f.CorrelationId, f.Topic); break;
            case FrameKind.Unsubscribed: FrameWriter.WriteUnsubscribed(w, f.CorrelationId, f.Topic); break;
            case FrameKind.Publish: FrameWriter.WritePublish(w, f.CorrelationId, f.Priority, f.Topic, f.Payload.Span); break;
            case FrameKind.PublishAck: FrameWriter.WritePublishAck(w, f.CorrelationId, f.Epoch, f.Offset); break;
            case FrameKind.Message: FrameWriter.WriteMessage(w, f.Topic, f.Priority, f.Epoch, f.Offset, f.Value, f.Payload.Span, f.Flags); break;
            case FrameKind.Ack: FrameWriter.WriteAck(w, f.Topic, f.Offset); break;
            case FrameKind.Ping: FrameWriter.WritePing(w, f.Value); break;
            case FrameKind.Pong: FrameWriter.WritePong(w, f.Value); break;
            case FrameKind.Error: FrameWriter.WriteError(w, f.ErrorCode, f.CorrelationId, f.Text2); break;
            case FrameKind.GoAway: FrameWriter.WriteGoAway(w, f.Milliseconds, f.Text2); break;
            case FrameKind.Refresh: FrameWriter.WriteRefresh(w, f.CorrelationId, f.Text1); break;
            case FrameKind.Refreshed: FrameWriter.WriteRefreshed(w, f.CorrelationId, f.Value); break;
            default: throw new ArgumentOutOfRangeException(nameof(f), f.Kind, null);
        }
    }

    private static int EncodedLength(InboundFrame frame)
    {
        var buffer = new ArrayBufferWriter<byte>();
        Encode(buffer, frame);
        return buffer.WrittenCount;
    }

    /// <summary>Feeds <paramref name="bytes"/> into a pipe in chunks while the client's reader drains it.</summary>
    private static async Task<(List<InboundFrame> Frames, long Leftover, Exception? Error)> ReadAsync(byte[] bytes, int chunk)
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        var frames = new List<InboundFrame>();
        var reading = InboundFrameReader.RunAsync(pipe.Reader, ProtocolLimits.Default, f => { frames.Add(f); return ValueTask.CompletedTask; }, CancellationToken.None);
        for (var position = 0; position < bytes.Length; position += chunk)
        {
            var length = Math.Min(chunk, bytes.Length - position);
            await pipe.Writer.WriteAsync(bytes.AsMemory(position, length));
            if (reading.IsCompleted)
            {
                break;
            }
        }

        await pipe.Writer.CompleteAsync();
        try
        {
            var leftover = await reading.WaitAsync(TimeSpan.FromSeconds(30));
            return (frames, leftover, null);
        }
        catch (ProtocolException ex)
        {
            return (frames, 0, ex);
        }
    }

    private static void AssertFrame(JsonElement expected, InboundFrame actual)
    {
        Assert.Equal(expected.GetProperty("kind").GetString(), actual.Kind.ToString());
        Assert.Equal(expected.GetProperty("flags").GetInt32(), (int)actual.Flags);
        switch (actual.Kind)
        {
            case FrameKind.Connect:
                Assert.Equal(Vectors.U32(expected, "version"), actual.Version);
                Assert.Equal(Vectors.Str(expected, "token"), actual.Text1);
                Assert.Equal(Vectors.Str(expected, "clientName"), actual.Text2);
                Assert.Equal(Vectors.Str(expected, "resumeToken"), actual.Text3);
                break;
            case FrameKind.Connected:
                Assert.Equal(Vectors.U32(expected, "heartbeatMs"), actual.Milliseconds);
                Assert.Equal(Vectors.U32(expected, "maxFrameLength"), actual.MaxFrameLength);
                Assert.Equal(Vectors.U32(expected, "maxSubscriptions"), actual.MaxSubscriptions);
                Assert.Equal(Vectors.Str(expected, "connectionId"), actual.Text1);
                Assert.Equal(Vectors.Str(expected, "nodeId"), actual.Text2);
                Assert.Equal(Vectors.Str(expected, "userId"), actual.Text3);
                break;
            case FrameKind.Subscribe or FrameKind.Subscribed:
                Assert.Equal(Vectors.U32(expected, "correlationId"), actual.CorrelationId);
                Assert.Equal(Vectors.U64(expected, "epoch"), actual.Epoch);
                Assert.Equal(Vectors.U64(expected, "offset"), actual.Offset);
                Assert.Equal(Vectors.Str(expected, "topic"), actual.Topic);
                break;
            case FrameKind.Unsubscribe or FrameKind.Unsubscribed:
                Assert.Equal(Vectors.U32(expected, "correlationId"), actual.CorrelationId);
                Assert.Equal(Vectors.Str(expected, "topic"), actual.Topic);
                break;
            case FrameKind.Publish:
                Assert.Equal(Vectors.U32(expected, "correlationId"), actual.CorrelationId);
                Assert.Equal(Vectors.U32(expected, "priority"), (uint)actual.Priority);
                Assert.Equal(Vectors.Str(expected, "topic"), actual.Topic);
                Assert.Equal(Vectors.Str(expected, "payloadHex"), Convert.ToHexStringLower(actual.Payload.Span));
                break;
            case FrameKind.PublishAck:
                Assert.Equal(Vectors.U32(expected, "correlationId"), actual.CorrelationId);
                Assert.Equal(Vectors.U64(expected, "epoch"), actual.Epoch);
                Assert.Equal(Vectors.U64(expected, "offset"), actual.Offset);
                break;
            case FrameKind.Message:
                Assert.Equal(Vectors.U32(expected, "priority"), (uint)actual.Priority);
                Assert.Equal(Vectors.U64(expected, "epoch"), actual.Epoch);
                Assert.Equal(Vectors.U64(expected, "offset"), actual.Offset);
                Assert.Equal(Vectors.U64(expected, "timestamp"), (ulong)actual.Value);
                Assert.Equal(Vectors.Str(expected, "topic"), actual.Topic);
                Assert.Equal(Vectors.Str(expected, "payloadHex"), Convert.ToHexStringLower(actual.Payload.Span));
                break;
            case FrameKind.Ack:
                Assert.Equal(Vectors.U64(expected, "offset"), actual.Offset);
                Assert.Equal(Vectors.Str(expected, "topic"), actual.Topic);
                break;
            case FrameKind.Ping or FrameKind.Pong:
                Assert.Equal(Vectors.U64(expected, "nonce"), (ulong)actual.Value);
                break;
            case FrameKind.Error:
                Assert.Equal(Vectors.U32(expected, "errorCode"), (uint)actual.ErrorCode);
                Assert.Equal(Vectors.U32(expected, "correlationId"), actual.CorrelationId);
                Assert.Equal(Vectors.Str(expected, "text"), actual.Text2);
                break;
            case FrameKind.GoAway:
                Assert.Equal(Vectors.U32(expected, "reconnectDelayMs"), actual.Milliseconds);
                Assert.Equal(Vectors.Str(expected, "text"), actual.Text2);
                break;
            case FrameKind.Refresh:
                Assert.Equal(Vectors.U32(expected, "correlationId"), actual.CorrelationId);
                Assert.Equal(Vectors.Str(expected, "token"), actual.Text1);
                break;
            case FrameKind.Refreshed:
                Assert.Equal(Vectors.U32(expected, "correlationId"), actual.CorrelationId);
                Assert.Equal(Vectors.U64(expected, "expiresAt"), (ulong)actual.Value);
                break;
            default:
                Assert.Fail($"Unexpected kind {actual.Kind}");
                break;
        }
    }
}
