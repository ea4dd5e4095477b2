using System.Buffers;
using System.Text;
using Gateway.Protocol.WebSockets;

namespace Gateway.Protocol.Tests.WebSockets;

/// <summary>The RFC 6455 codec: header errors with their close codes, the message rules, close payloads, the accept key.</summary>
public sealed class WebSocketCodecTests
{
    private static WebSocketFrameHeader Read(params byte[] bytes)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        Assert.True(WebSocketFrameHeader.TryRead(ref reader, out var header));
        Assert.Equal(bytes.Length, reader.Consumed);
        return header;
    }

    private static WebSocketProtocolException ReadFails(params byte[] bytes)
    {
        return Assert.Throws<WebSocketProtocolException>(() =>
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
            WebSocketFrameHeader.TryRead(ref reader, out _);
        });
    }

    [Fact]
    public void Rfc_example_masked_hello_header_is_read()
    {
        // RFC 6455 §5.7: a single-frame masked text message "Hello".
        var header = Read(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d);
        Assert.True(header.Fin);
        Assert.Equal(WebSocketOpcode.Text, header.Opcode);
        Assert.Equal(5, header.PayloadLength);
        Assert.Equal(0x37fa213du, header.MaskKey);
        byte[] payload = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        WebSocketMask.Apply(payload, header.MaskKey, 0);
        Assert.Equal("Hello", Encoding.ASCII.GetString(payload));
    }

    [Theory]
    [InlineData(new byte[] { 0xC2, 0x80, 0, 0, 0, 0 }, WebSocketProtocolError.ReservedBits)] // RSV1
    [InlineData(new byte[] { 0xA2, 0x80, 0, 0, 0, 0 }, WebSocketProtocolError.ReservedBits)] // RSV2
    [InlineData(new byte[] { 0x92, 0x80, 0, 0, 0, 0 }, WebSocketProtocolError.ReservedBits)] // RSV3
    [InlineData(new byte[] { 0x83, 0x80, 0, 0, 0, 0 }, WebSocketProtocolError.UnknownOpcode)]
    [InlineData(new byte[] { 0x8B, 0x80, 0, 0, 0, 0 }, WebSocketProtocolError.UnknownOpcode)]
    [InlineData(new byte[] { 0x82, 0x00 }, WebSocketProtocolError.UnmaskedFrame)]
    [InlineData(new byte[] { 0x89, 0xFE, 0, 126, 0, 0, 0, 0 }, WebSocketProtocolError.ControlFrameTooLong)]
    [InlineData(new byte[] { 0x09, 0x80, 0, 0, 0, 0 }, WebSocketProtocolError.FragmentedControlFrame)]
    [InlineData(new byte[] { 0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, WebSocketProtocolError.InvalidLength)]
    public void Header_violations_are_typed_errors_with_close_code_1002(byte[] bytes, WebSocketProtocolError expected)
    {
        var e = ReadFails(bytes);
        Assert.Equal(expected, e.Error);
        Assert.Equal(1002, e.CloseCode);
    }

    [Fact]
    public void A_bad_first_byte_is_refused_before_the_rest_arrives()
    {
        Assert.Equal(WebSocketProtocolError.ReservedBits, ReadFails(0xC2).Error);
        Assert.Equal(WebSocketProtocolError.UnknownOpcode, ReadFails(0x8F).Error);
    }

    [Fact]
    public void Message_rules_text_1003_too_big_1009_sequence_1002()
    {
        var tracker = new WebSocketMessageTracker(100);
        var text = Assert.Throws<WebSocketProtocolException>(() => tracker.OnDataFrame(new WebSocketFrameHeader(true, WebSocketOpcode.Text, true, 1, 3)));
        Assert.Equal(1003, text.CloseCode);

        tracker = new WebSocketMessageTracker(100);
        tracker.OnDataFrame(new WebSocketFrameHeader(false, WebSocketOpcode.Binary, true, 1, 60));
        Assert.True(tracker.InMessage);
        var big = Assert.Throws<WebSocketProtocolException>(() => tracker.OnDataFrame(new WebSocketFrameHeader(true, WebSocketOpcode.Continuation, true, 1, 41)));
        Assert.Equal(WebSocketProtocolError.MessageTooBig, big.Error);
        Assert.Equal(1009, big.CloseCode);

        tracker = new WebSocketMessageTracker(100);
        Assert.Equal(WebSocketProtocolError.UnexpectedContinuation, Assert.Throws<WebSocketProtocolException>(() => tracker.OnDataFrame(new WebSocketFrameHeader(true, WebSocketOpcode.Continuation, true, 1, 1))).Error);

        tracker = new WebSocketMessageTracker(100);
        tracker.OnDataFrame(new WebSocketFrameHeader(false, WebSocketOpcode.Binary, true, 1, 1));
        var overlap = Assert.Throws<WebSocketProtocolException>(() => tracker.OnDataFrame(new WebSocketFrameHeader(true, WebSocketOpcode.Binary, true, 1, 1)));
        Assert.Equal(WebSocketProtocolError.ExpectedContinuation, overlap.Error);
        Assert.Equal(1002, overlap.CloseCode);

        // A whole fragmented message at exactly the limit is fine, and the next one starts from zero.
        tracker = new WebSocketMessageTracker(100);
        tracker.OnDataFrame(new WebSocketFrameHeader(false, WebSocketOpcode.Binary, true, 1, 50));
        tracker.OnDataFrame(new WebSocketFrameHeader(true, WebSocketOpcode.Continuation, true, 1, 50));
        Assert.False(tracker.InMessage);
        tracker.OnDataFrame(new WebSocketFrameHeader(true, WebSocketOpcode.Binary, true, 1, 100));
    }

    [Fact]
    public void Close_payload_round_trips_and_bad_ones_are_refused()
    {
        var buffer = new byte[125];
        var written = WebSocketClosePayload.Write(buffer, 4001, "bye");
        Assert.Equal(4001, WebSocketClosePayload.Parse(buffer.AsSpan(0, written), out var reason));
        Assert.Equal("bye", Encoding.UTF8.GetString(reason));

        Assert.Equal(WebSocketCloseCodes.NoStatus, WebSocketClosePayload.Parse([], out _));
        Assert.Equal(WebSocketProtocolError.InvalidClosePayload, Assert.Throws<WebSocketProtocolException>(() => WebSocketClosePayload.Parse([3], out _)).Error);
        foreach (ushort code in new ushort[] { 0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000 })
        {
            var e = Assert.Throws<WebSocketProtocolException>(() => WebSocketClosePayload.Parse([(byte)(code >> 8), (byte)code], out _));
            Assert.Equal(1002, e.CloseCode);
        }

        var utf8 = Assert.Throws<WebSocketProtocolException>(() => WebSocketClosePayload.Parse([0x03, 0xE8, 0xC3, 0x28], out _));
        Assert.Equal(1007, utf8.CloseCode);

        // A long reason is cut at a character boundary so that the peer never sees broken UTF-8.
        written = WebSocketClosePayload.Write(buffer, 1000, new string('é', 100));
        Assert.True(written <= 125);
        WebSocketClosePayload.Parse(buffer.AsSpan(0, written), out reason);
        Assert.Equal(61, reason.Length / 2);
    }

    [Fact]
    public void Accept_key_matches_rfc_example()
    {
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", WebSocketHandshake.ComputeAccept("dGhlIHNhbXBsZSBub25jZQ=="));
        Assert.True(WebSocketHandshake.IsValidKey("dGhlIHNhbXBsZSBub25jZQ=="));
        Assert.False(WebSocketHandshake.IsValidKey("dGhlIHNhbXBsZQ=="));
        Assert.False(WebSocketHandshake.IsValidKey("not base64 at all!!!!!!!"));
    }

    [Theory]
    [InlineData(0, 2)]
    [InlineData(125, 2)]
    [InlineData(126, 4)]
    [InlineData(65535, 4)]
    [InlineData(65536, 10)]
    public void Server_header_uses_the_shortest_length_form(long length, int size)
    {
        var buffer = new ArrayBufferWriter<byte>();
        WebSocketFrameHeader.Write(buffer, fin: true, WebSocketOpcode.Binary, length);
        Assert.Equal(size, buffer.WrittenCount);
        Assert.Equal(size, WebSocketFrameHeader.SizeOf(length));
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(buffer.WrittenMemory));
        Assert.True(WebSocketFrameHeader.TryRead(ref reader, requireMask: false, out var header));
        Assert.Equal(new WebSocketFrameHeader(true, WebSocketOpcode.Binary, false, 0, length), header);
    }
}
