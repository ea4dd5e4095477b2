using System.Buffers;
using CsCheck;
using Gateway.Protocol.WebSockets;

namespace Gateway.Protocol.Tests.WebSockets;

/// <summary>
/// Properties of the header parser and the mask under every segmentation, and a fixed-budget random byte stream run
/// (the fuzz target): only the typed error, no hang, bounded allocation.
/// </summary>
public sealed class WebSocketFrameHeaderPropertyTests
{
    private static readonly WebSocketOpcode[] DataAndControl = [WebSocketOpcode.Continuation, WebSocketOpcode.Text, WebSocketOpcode.Binary, WebSocketOpcode.Close, WebSocketOpcode.Ping, WebSocketOpcode.Pong];

    private static readonly Gen<WebSocketFrameHeader> GenHeader =
        Gen.Select(Gen.Bool, Gen.OneOf(DataAndControl), Gen.UInt, Gen.OneOf(Gen.Long[0, 125], Gen.OneOf(126L, 127L, 65535L, 65536L, long.MaxValue), Gen.Long[0, long.MaxValue]), (fin, opcode, mask, length) =>
        {
            var control = ((byte)opcode & 8) != 0;
            return new WebSocketFrameHeader(fin || control, opcode, true, mask, control ? length % 126 : length);
        });

    private static byte[] Encode(WebSocketFrameHeader header)
    {
        var bytes = new byte[WebSocketFrameHeader.MaxSize];
        var size = WebSocketFrameHeader.Write(bytes, header.Fin, header.Opcode, header.PayloadLength, header.MaskKey);
        return bytes[..size];
    }

    [Fact]
    public void Every_valid_header_is_read_back_under_every_two_way_split_and_one_byte_segments()
    {
        GenHeader.Sample(header =>
        {
            var bytes = Encode(header);
            for (var cut = 0; cut <= bytes.Length; cut++)
            {
                AssertReads(Segments.Split(bytes, [cut]), header, bytes.Length);
            }

            AssertReads(Segments.OneBytePerSegment(bytes), header, bytes.Length);

            // Every strict prefix: need more, nothing consumed.
            for (var length = 0; length < bytes.Length; length++)
            {
                var reader = new SequenceReader<byte>(Segments.OneBytePerSegment(bytes[..length]));
                Assert.False(WebSocketFrameHeader.TryRead(ref reader, out _));
                Assert.Equal(0, reader.Consumed);
            }
        }, iter: 2000);
    }

    private static void AssertReads(ReadOnlySequence<byte> sequence, WebSocketFrameHeader expected, int size)
    {
        var reader = new SequenceReader<byte>(sequence);
        Assert.True(WebSocketFrameHeader.TryRead(ref reader, out var header));
        Assert.Equal(expected, header);
        Assert.Equal(size, reader.Consumed);
    }

    [Fact]
    public void Unmasking_in_pieces_at_any_offsets_equals_unmasking_at_once()
    {
        Gen.Select(Gen.Byte.Array[0, 200], Gen.UInt, Gen.Int[0, 200].Array[0, 6]).Sample((data, mask, cuts) =>
        {
            var whole = data.ToArray();
            WebSocketMask.Apply(whole, mask, 0);
            var pieces = data.ToArray();
            var points = cuts.Where(c => c < data.Length).Distinct().Order().Append(data.Length).ToArray();
            var start = 0;
            foreach (var end in points)
            {
                WebSocketMask.Apply(pieces.AsSpan(start, end - start), mask, start);
                start = end;
            }

            Assert.Equal(whole, pieces);
            WebSocketMask.Apply(pieces, mask, 0);
            Assert.Equal(data, pieces); // its own inverse
        }, iter: 3000);
    }

    /// <summary>Parses a whole stream as a server would: headers, message rules, payloads skipped. Returns the steps taken.</summary>
    private static int ParseStream(ReadOnlySequence<byte> input)
    {
        var reader = new SequenceReader<byte>(input);
        var messages = new WebSocketMessageTracker(4096);
        var steps = 0;
        while (!reader.End)
        {
            steps++;
            var before = reader.Consumed;
            if (!WebSocketFrameHeader.TryRead(ref reader, out var header))
            {
                Assert.Equal(before, reader.Consumed);
                break;
            }

            Assert.True(reader.Consumed > before); // progress: no hang
            if (header.IsControl)
            {
                if (reader.Remaining < header.PayloadLength)
                {
                    break;
                }

                var payload = new byte[header.PayloadLength];
                reader.TryCopyTo(payload);
                WebSocketMask.Apply(payload, header.MaskKey, 0);
                if (header.Opcode == WebSocketOpcode.Close)
                {
                    WebSocketClosePayload.Parse(payload, out _);
                }

                reader.Advance(header.PayloadLength);
                continue;
            }

            messages.OnDataFrame(header);
            reader.Advance(Math.Min(header.PayloadLength, reader.Remaining));
        }

        return steps;
    }

    [Fact]
    public void Random_byte_streams_end_in_need_more_or_the_typed_error_within_a_fixed_budget()
    {
        // Streams biased towards valid-looking headers (masked, small lengths), in random segmentations.
        var genFrame = Gen.Select(Gen.Byte, Gen.Byte[0x80, 0xFF], Gen.Byte.Array[0, 40], (b0, b1, rest) => (byte[])[b0, b1, .. rest]);
        var gen = Gen.Select(Gen.OneOf(genFrame.Array[1, 6].Select(f => f.SelectMany(x => x).ToArray()), Gen.Byte.Array[0, 400]), Gen.Int[0, 400].Array[0, 8]);
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var runs = 0;
        gen.Sample((bytes, cuts) =>
        {
            runs++;
            try
            {
                var steps = ParseStream(Segments.Split(bytes, cuts));
                Assert.True(steps <= bytes.Length + 1);
            }
            catch (WebSocketProtocolException e)
            {
                Assert.True(e.CloseCode is 1002 or 1003 or 1007 or 1009);
            }
        }, iter: 20_000, threads: 1);

        // Bounded allocation: the inputs, their segments and the occasional exception, never anything sized by a
        // declared length (a header claiming 2^62 bytes must not make the parser allocate for it).
        var perRun = (GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore) / runs;
        Assert.True(perRun < 64 * 1024, $"{perRun} bytes allocated per run");
    }
}
