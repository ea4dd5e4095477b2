using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using CsCheck;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Protocol.Tests;

/// <summary>Random valid frames of every kind: write → read gives the same fields → write gives the same bytes.</summary>
public sealed class RoundTripPropertyTests
{
    private const int Iterations = 500;

    // Pieces of 1 to 4 UTF-8 bytes so multi-byte sequences (and their splits across segments) are exercised.
    private static readonly string[] TopicPieces = ["a", "z", "0", ":", "/", "-", "_", ".", "user:", "workflow:", "\u00e9", "\u20ac", "\U0001F600", "\u65e5"];
    private static readonly string[] TextPieces = [.. TopicPieces, " ", "*", "?", "#", "\n", "\u0000"];

    private static readonly Gen<string> Topic = Gen.OneOf(TopicPieces).Array[1, 60].Select(string.Concat)
        .Where(t => Encoding.UTF8.GetByteCount(t) <= ProtocolLimits.MaxTopicBytes);

    private static readonly Gen<string> ShortText = Gen.OneOf(TextPieces).Array[0, 60].Select(string.Concat)
        .Where(t => Encoding.UTF8.GetByteCount(t) <= ProtocolLimits.MaxShortStringBytes);

    private static readonly Gen<string> LongText = Gen.OneOf(TextPieces).Array[0, 250].Select(string.Concat)
        .Where(t => Encoding.UTF8.GetByteCount(t) <= ProtocolLimits.MaxTextBytes);

    private static readonly Gen<string> Token = Gen.Int[0, 2].SelectMany(size => size == 2
        ? Gen.Char['a', 'z'].Array[ProtocolLimits.MaxTokenBytes - 64, ProtocolLimits.MaxTokenBytes].Select(c => new string(c))
        : LongText);

    private static readonly Gen<byte[]> Payload = Gen.Int[0, 3].SelectMany(size => Gen.Byte.Array[0, size == 3 ? 4096 : 80]);
    private static readonly Gen<int> Prio = Gen.Int[0, 3];
    private static readonly Gen<string> U64 = Gen.ULong.Select(v => v.ToString(CultureInfo.InvariantCulture));

    private static JsonObject Obj(FrameKind kind, int flags, params (string Name, JsonNode? Value)[] fields)
    {
        var o = new JsonObject { ["kind"] = kind.ToString(), ["flags"] = flags };
        foreach (var (name, value) in fields)
        {
            o[name] = value;
        }

        return o;
    }

    private static readonly Dictionary<FrameKind, Gen<JsonObject>> ByKind = new()
    {
        [FrameKind.Connect] = Gen.Select(Token, ShortText, ShortText, (t, n, r) => Obj(FrameKind.Connect, 0, ("version", 1), ("token", t), ("clientName", n), ("resumeToken", r))),
        [FrameKind.Connected] = Gen.Select(Gen.UInt, Gen.UInt, Gen.UShort, ShortText, ShortText, ShortText, (h, m, s, c, n, u) =>
            Obj(FrameKind.Connected, 0, ("heartbeatMs", h), ("maxFrameLength", m), ("maxSubscriptions", (int)s), ("connectionId", c), ("nodeId", n), ("userId", u))),
        [FrameKind.Subscribe] = Gen.Select(Gen.Bool, Gen.UInt, U64, U64, Topic, (recover, c, e, o, t) =>
            Obj(FrameKind.Subscribe, recover ? 1 : 0, ("correlationId", c), ("epoch", recover ? e : "0"), ("offset", recover ? o : "0"), ("topic", t))),
        [FrameKind.Subscribed] = Gen.Select(Gen.Int[0, 2], Gen.UInt, U64, U64, Topic, (f, c, e, o, t) =>
            Obj(FrameKind.Subscribed, f, ("correlationId", c), ("epoch", e), ("offset", o), ("topic", t))),
        [FrameKind.Unsubscribe] = Gen.Select(Gen.UInt, Topic, (c, t) => Obj(FrameKind.Unsubscribe, 0, ("correlationId", c), ("topic", t))),
        [FrameKind.Unsubscribed] = Gen.Select(Gen.UInt, Topic, (c, t) => Obj(FrameKind.Unsubscribed, 0, ("correlationId", c), ("topic", t))),
        [FrameKind.Publish] = Gen.Select(Gen.UInt, Prio, Topic, Payload, (c, p, t, b) =>
            Obj(FrameKind.Publish, 0, ("correlationId", c), ("priority", p), ("topic", t), ("payloadHex", Convert.ToHexStringLower(b)))),
        [FrameKind.PublishAck] = Gen.Select(Gen.UInt, U64, U64, (c, e, o) => Obj(FrameKind.PublishAck, 0, ("correlationId", c), ("epoch", e), ("offset", o))),
        [FrameKind.Message] = Gen.Select(Gen.Int[0, 3], Prio, U64, U64, U64, Topic, Payload, (f, p, e, o, ts, t, b) =>
            Obj(FrameKind.Message, f, ("priority", p), ("epoch", e), ("offset", o), ("timestamp", ts), ("topic", t), ("payloadHex", Convert.ToHexStringLower(b)))),
        [FrameKind.Ack] = Gen.Select(U64, Topic, (o, t) => Obj(FrameKind.Ack, 0, ("offset", o), ("topic", t))),
        [FrameKind.Ping] = U64.Select(n => Obj(FrameKind.Ping, 0, ("nonce", n))),
        [FrameKind.Pong] = U64.Select(n => Obj(FrameKind.Pong, 0, ("nonce", n))),
        [FrameKind.Error] = Gen.Select(Gen.UShort[1, ushort.MaxValue], Gen.UInt, LongText, (e, c, t) =>
            Obj(FrameKind.Error, 0, ("errorCode", (int)e), ("correlationId", c), ("text", t))),
        [FrameKind.GoAway] = Gen.Select(Gen.UInt, LongText, (d, t) => Obj(FrameKind.GoAway, 0, ("reconnectDelayMs", d), ("text", t))),
        [FrameKind.Refresh] = Gen.Select(Gen.UInt, Token, (c, t) => Obj(FrameKind.Refresh, 0, ("correlationId", c), ("token", t))),
        [FrameKind.Refreshed] = Gen.Select(Gen.UInt, U64, (c, e) => Obj(FrameKind.Refreshed, 0, ("correlationId", c), ("expiresAt", e))),
    };

    public static IEnumerable<object[]> Kinds => Enum.GetValues<FrameKind>().Select(k => new object[] { k });

    [Fact]
    public void There_is_a_generator_for_every_kind() => Assert.Equal(Enum.GetValues<FrameKind>().Order(), ByKind.Keys.Order());

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Random_frames_round_trip(FrameKind kind)
    {
        ByKind[kind].Sample(
            expected =>
            {
                var bytes = FrameJson.EncodeAll([expected]);
                var result = Decoding.ReadAll(bytes);
                Assert.Null(result.Error);
                Assert.Equal(bytes.Length, result.Consumed);
                Decoding.AssertSameFrames([expected], result.Frames);

                // The generic writer reproduces the bytes from the decoded struct, also from a split input.
                var split = Segments.Split(bytes, [bytes.Length / 3, bytes.Length / 2]);
                var reader = new SequenceReader<byte>(split);
                Assert.True(FrameReader.TryRead(ref reader, ProtocolLimits.Default, out var frame));
                var again = new ArrayBufferWriter<byte>();
                FrameWriter.Write(again, frame);
                Assert.Equal(bytes, again.WrittenSpan.ToArray());
            },
            iter: Iterations);
    }

    [Fact]
    public void Random_batches_of_mixed_kinds_round_trip_under_random_segmentation()
    {
        var frame = Gen.OneOf(ByKind.Values.Cast<IGen<JsonObject>>().ToArray());
        var gen = frame.Array[1, 8].SelectMany(frames =>
        {
            var bytes = FrameJson.EncodeAll(frames);
            return Gen.Int[0, bytes.Length].Array[0, 6].Select(cuts => (frames, bytes, cuts));
        });

        gen.Sample(
            (frames, bytes, cuts) =>
            {
                var result = Decoding.ReadAll(Segments.Split(bytes, cuts));
                Assert.Null(result.Error);
                Assert.Equal(bytes.Length, result.Consumed);
                Decoding.AssertSameFrames(frames, result.Frames);
            },
            iter: Iterations);
    }

    [Fact]
    public void Writer_refuses_what_a_reader_would_refuse()
    {
        var w = new ArrayBufferWriter<byte>();
        Assert.Equal(ErrorCode.InvalidPriority, Assert.Throws<ProtocolException>(() => FrameWriter.WriteMessage(w, "t", (Priority)4, 1, 1, 1, "x"u8)).Code);
        Assert.Equal(ErrorCode.InvalidPriority, Assert.Throws<ProtocolException>(() => FrameWriter.WritePublish(w, 1, (Priority)255, "t", "x"u8)).Code);
        Assert.Equal(ErrorCode.InvalidTopic, Assert.Throws<ProtocolException>(() => FrameWriter.WriteSubscribe(w, 1, new string('a', 256))).Code);
        Assert.Equal(ErrorCode.InvalidTopic, Assert.Throws<ProtocolException>(() => FrameWriter.WriteSubscribe(w, 1, new string('\u00e9', 128))).Code);
        Assert.Equal(ErrorCode.InvalidTopic, Assert.Throws<ProtocolException>(() => FrameWriter.WriteAck(w, "a b", 1)).Code);
        Assert.Equal(ErrorCode.InvalidTopic, Assert.Throws<ProtocolException>(() => FrameWriter.WriteUnsubscribe(w, 1, string.Empty)).Code);
        Assert.Equal(ErrorCode.FieldTooLong, Assert.Throws<ProtocolException>(() => FrameWriter.WriteConnect(w, 1, new string('t', 8193), "c")).Code);
        Assert.Equal(ErrorCode.FieldTooLong, Assert.Throws<ProtocolException>(() => FrameWriter.WriteConnected(w, 1, 1, 1, new string('c', 256), "n", "u")).Code);
        Assert.Equal(ErrorCode.InvalidFlags, Assert.Throws<ProtocolException>(() => FrameWriter.WriteSubscribed(w, 1, "t", 1, 1, FrameFlags.Recovered | FrameFlags.RecoveryFailed)).Code);
        Assert.Equal(ErrorCode.InvalidFlags, Assert.Throws<ProtocolException>(() => FrameWriter.WriteMessage(w, "t", Priority.Low, 1, 1, 1, "x"u8, (FrameFlags)4)).Code);
        Assert.Throws<ArgumentOutOfRangeException>(() => FrameWriter.WriteError(w, ErrorCode.None, 1, "x"));
        Assert.Equal(0, w.WrittenCount);
    }

    [Fact]
    public void Error_and_GoAway_texts_are_truncated_to_1024_bytes_on_a_character_boundary()
    {
        var w = new ArrayBufferWriter<byte>();
        var text = string.Concat(Enumerable.Repeat("\u20ac", 400)); // 1,200 bytes of 3-byte characters
        FrameWriter.WriteError(w, ErrorCode.InternalError, 1, text);
        FrameWriter.WriteGoAway(w, 5, text);

        var result = Decoding.ReadAll(w.WrittenSpan.ToArray());
        Assert.Null(result.Error);
        Assert.All(result.Frames, f =>
        {
            var decoded = (string)f["text"]!;
            Assert.Equal(new string('\u20ac', 341), decoded); // 1,023 bytes: the 342nd character would pass 1,024
        });
    }

    [Fact]
    public void Tcp_hello_and_subprotocol_constants_match_the_spec()
    {
        Assert.Equal("414d53480001", Convert.ToHexStringLower(ProtocolVersion.TcpHello));
        Assert.Equal("archmesh.v1", ProtocolVersion.WebSocketSubprotocol);
        Assert.Equal(ErrorCode.None, ProtocolVersion.ValidateTcpHello(Convert.FromHexString("414d53480001")));
        Assert.Equal(ErrorCode.UnsupportedVersion, ProtocolVersion.ValidateTcpHello(Convert.FromHexString("414d53480002")));
        Assert.Equal(ErrorCode.UnsupportedVersion, ProtocolVersion.ValidateTcpHello(Convert.FromHexString("414d53480101")));
        Assert.Equal(ErrorCode.MalformedFrame, ProtocolVersion.ValidateTcpHello(Convert.FromHexString("474554202f20"))); // "GET / "
        Assert.Equal(ErrorCode.MalformedFrame, ProtocolVersion.ValidateTcpHello(Convert.FromHexString("414d5348")));
    }
}
