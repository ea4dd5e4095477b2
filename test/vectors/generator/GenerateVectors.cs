#:project ../../../src/Protocol/Gateway.Protocol.csproj
#:property PublishAot=false

// Generates test/vectors/valid.json and invalid.json. Run from the repository root:
//   dotnet run test/vectors/generator/GenerateVectors.cs
// Valid inputs are produced by FrameWriter and their decoded fields by FrameReader; every invalid input
// is checked against FrameReader before it is written. The committed JSON files are the source of
// truth: tests only read them, nothing regenerates them in CI.
using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Gateway.Protocol;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

var outDir = args.Length > 0 ? args[0] : Path.Combine("test", "vectors");
var limits = ProtocolLimits.Default;
var valid = new List<(string Name, string Description, byte[] Bytes)>();
var invalid = new List<(string Name, string Description, byte[] Bytes, ErrorCode? Code)>();

byte[] W(Action<ArrayBufferWriter<byte>> write)
{
    var w = new ArrayBufferWriter<byte>();
    write(w);
    return w.WrittenSpan.ToArray();
}

void V(string name, string description, Action<ArrayBufferWriter<byte>> write) => valid.Add((name, description, W(write)));

void Bad(string name, string description, byte[] bytes, ErrorCode code) => invalid.Add((name, description, bytes, code));

void More(string name, string description, byte[] bytes) => invalid.Add((name, description, bytes, null));

// Raw frame: header with the real body length, then the body.
byte[] Raw(byte kind, byte flags, params byte[][] parts)
{
    var body = parts.SelectMany(p => p).ToArray();
    var frame = new byte[6 + body.Length];
    BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)body.Length);
    frame[4] = kind;
    frame[5] = flags;
    body.CopyTo(frame, 6);
    return frame;
}

byte[] U8(int v) => [(byte)v];
byte[] U16(int v) => [(byte)(v >> 8), (byte)v];
byte[] U32(uint v) { var b = new byte[4]; BinaryPrimitives.WriteUInt32BigEndian(b, v); return b; }
byte[] U64(ulong v) { var b = new byte[8]; BinaryPrimitives.WriteUInt64BigEndian(b, v); return b; }
byte[] Utf(string s) => Encoding.UTF8.GetBytes(s);
byte[] Str8(byte[] s) => [(byte)s.Length, .. s];
byte[] Str16(byte[] s) => [.. U16(s.Length), .. s];
byte[] Cat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

var payload64 = Enumerable.Range(0, 64).Select(i => (byte)i).ToArray();
var payload1k = Enumerable.Range(0, 1024).Select(i => (byte)(i * 7)).ToArray();
var topic255 = "team:" + new string('x', 250);
var token8192 = string.Concat(Enumerable.Repeat("abcdefgh", 1024));
var jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";
const long Ts = 1_790_000_000_123;

// ---------------------------------------------------------------- valid
V("connect-minimal", "Connect, version 1, one-byte token, empty client name, no resume token.", w => FrameWriter.WriteConnect(w, 1, "t", ""));
V("connect-full", "Connect with a JWT, a client name and a resume token.", w => FrameWriter.WriteConnect(w, 1, jwt, "archmesh-dotnet/1.0", "resume-42"));
V("connect-utf8-client-name", "Connect whose client name has multi-byte UTF-8 (2-, 3- and 4-byte sequences).", w => FrameWriter.WriteConnect(w, 1, "tok", "caf\u00e9-\u20ac-\U0001F600"));
V("connect-max-token", "Connect with a token of exactly 8192 bytes (the bound).", w => FrameWriter.WriteConnect(w, 1, token8192, "c"));
V("connected", "Connected: heartbeat 15 s, max frame 65536, 256 subscriptions, ids and user.", w => FrameWriter.WriteConnected(w, 15_000, 65_536, 256, "c-0001", "node-a", "alice"));
V("connected-anonymous", "Connected for a publisher token without a user: empty user id.", w => FrameWriter.WriteConnected(w, 30_000, 1_048_576, 0, "c-2", "node-b", ""));
V("subscribe", "Subscribe without recovery (flags 0, epoch and offset 0).", w => FrameWriter.WriteSubscribe(w, 1, "workflow:7f3a"));
V("subscribe-recover", "Subscribe with the Recover flag from epoch 3, last offset 41.", w => FrameWriter.WriteSubscribe(w, 2, "team:42/alerts", new StreamPosition(3, 41)));
V("subscribe-topic-1-byte", "Shortest topic: one byte.", w => FrameWriter.WriteSubscribe(w, 3, "a"));
V("subscribe-topic-255-bytes", "Longest topic: 255 bytes.", w => FrameWriter.WriteSubscribe(w, 4, topic255));
V("subscribe-topic-utf8", "Topic with multi-byte UTF-8 characters.", w => FrameWriter.WriteSubscribe(w, 5, "team:m\u00fcnchen/\u65e5\u672c"));
V("subscribed", "Subscribed without recovery: the topic's current position.", w => FrameWriter.WriteSubscribed(w, 1, "workflow:7f3a", 1, 17));
V("subscribed-recovered", "Subscribed with Recovered: every missed message follows.", w => FrameWriter.WriteSubscribed(w, 2, "team:42/alerts", 3, 45, FrameFlags.Recovered));
V("subscribed-recovery-failed", "Subscribed with RecoveryFailed: the position could not be recovered (new epoch 4).", w => FrameWriter.WriteSubscribed(w, 2, "team:42/alerts", 4, 0, FrameFlags.RecoveryFailed));
V("unsubscribe", "Unsubscribe.", w => FrameWriter.WriteUnsubscribe(w, 6, "workflow:7f3a"));
V("unsubscribed", "Unsubscribed.", w => FrameWriter.WriteUnsubscribed(w, 6, "workflow:7f3a"));
V("publish", "Publish with correlation id 7 (ack requested), normal priority.", w => FrameWriter.WritePublish(w, 7, Priority.Normal, "team:42/alerts", "hello"u8));
V("publish-no-ack-empty-payload", "Publish with correlation id 0 (no ack) and an empty payload.", w => FrameWriter.WritePublish(w, 0, Priority.Low, "broadcast", ReadOnlySpan<byte>.Empty));
V("publish-priority-critical", "Publish, priority 0 (critical).", w => FrameWriter.WritePublish(w, 8, Priority.Critical, "user:bob", "!"u8));
V("publish-priority-high", "Publish, priority 1 (high).", w => FrameWriter.WritePublish(w, 9, Priority.High, "user:bob", "!"u8));
V("publish-priority-normal", "Publish, priority 2 (normal).", w => FrameWriter.WritePublish(w, 10, Priority.Normal, "user:bob", "!"u8));
V("publish-priority-low", "Publish, priority 3 (low).", w => FrameWriter.WritePublish(w, 11, Priority.Low, "user:bob", "!"u8));
V("publish-ack", "PublishAck: correlation id 7 was assigned epoch 1, offset 1000.", w => FrameWriter.WritePublishAck(w, 7, 1, 1000));
V("publish-ack-max-u64", "PublishAck with the largest epoch and offset (u64 max).", w => FrameWriter.WritePublishAck(w, uint.MaxValue, ulong.MaxValue, ulong.MaxValue));
V("message-64b-payload", "Message with a 64-byte payload.", w => FrameWriter.WriteMessage(w, "team:42/alerts", Priority.Normal, 1, 42, Ts, payload64));
V("message-1kib-payload", "Message with a 1024-byte payload.", w => FrameWriter.WriteMessage(w, "workflow:7f3a", Priority.High, 2, 7, Ts, payload1k));
V("message-empty-payload", "Message with an empty payload.", w => FrameWriter.WriteMessage(w, "broadcast", Priority.Low, 1, 1, Ts, ReadOnlySpan<byte>.Empty));
V("message-priority-critical", "Message, priority 0.", w => FrameWriter.WriteMessage(w, "user:alice", Priority.Critical, 1, 5, Ts, "x"u8));
V("message-priority-high", "Message, priority 1.", w => FrameWriter.WriteMessage(w, "user:alice", Priority.High, 1, 6, Ts, "x"u8));
V("message-priority-normal", "Message, priority 2.", w => FrameWriter.WriteMessage(w, "user:alice", Priority.Normal, 1, 7, Ts, "x"u8));
V("message-priority-low", "Message, priority 3.", w => FrameWriter.WriteMessage(w, "user:alice", Priority.Low, 1, 8, Ts, "x"u8));
V("message-replayed", "Message with the Replayed flag (recovery or pending notification).", w => FrameWriter.WriteMessage(w, "user:alice", Priority.High, 1, 3, Ts, "{\"n\":1}"u8, FrameFlags.Replayed));
V("message-retained", "Message with the Retained flag (latest state of a workflow topic).", w => FrameWriter.WriteMessage(w, "workflow:7f3a", Priority.Normal, 1, 9, Ts, "{\"state\":\"running\"}"u8, FrameFlags.Retained));
V("message-replayed-retained", "Message with both Replayed and Retained (both bits are defined for Message).", w => FrameWriter.WriteMessage(w, "workflow:7f3a", Priority.Normal, 1, 9, Ts, "{}"u8, FrameFlags.Replayed | FrameFlags.Retained));
V("message-max-u64-fields", "Message with epoch, offset and timestamp all 0xffffffffffffffff (64-bit fields are unsigned decimal strings).", w => FrameWriter.WriteMessage(w, "t", Priority.Normal, ulong.MaxValue, ulong.MaxValue, -1, "z"u8));
V("ack", "Ack of notification offset 12 on user:alice.", w => FrameWriter.WriteAck(w, "user:alice", 12));
V("ping", "Ping with nonce 0x0102030405060708.", w => FrameWriter.WritePing(w, 0x0102030405060708));
V("pong", "Pong echoing nonce 0x0102030405060708.", w => FrameWriter.WritePong(w, 0x0102030405060708));
V("ping-zero-nonce", "Ping with nonce 0.", w => FrameWriter.WritePing(w, 0));
V("error", "Error overloaded (0x0402) answering correlation id 7.", w => FrameWriter.WriteError(w, ErrorCode.Overloaded, 7, "node overloaded, retry later"));
V("error-empty-text", "Error forbidden (0x0301), correlation id 3, empty text.", w => FrameWriter.WriteError(w, ErrorCode.Forbidden, 3, ""));
V("error-max-text", "Error with a text of exactly 1024 bytes (the bound).", w => FrameWriter.WriteError(w, ErrorCode.InternalError, 0, new string('e', 1024)));
V("error-unknown-code", "Error with code 0x7777, unknown to v1: still decodes (a newer peer may send it).", w => FrameWriter.WriteError(w, (ErrorCode)0x7777, 0, "future"));
V("goaway", "GoAway: reconnect after 5000 ms.", w => FrameWriter.WriteGoAway(w, 5_000, "draining"));
V("refresh", "Refresh with a new token.", w => FrameWriter.WriteRefresh(w, 9, jwt));
V("refresh-max-token", "Refresh with an 8192-byte token.", w => FrameWriter.WriteRefresh(w, 10, token8192));
V("refreshed", "Refreshed: new expiry 1790000000 (Unix seconds).", w => FrameWriter.WriteRefreshed(w, 9, 1_790_000_000));
V("batch-ping-message-pong", "Three frames back to back in one input.", w =>
{
    FrameWriter.WritePing(w, 1);
    FrameWriter.WriteMessage(w, "broadcast", Priority.Critical, 1, 2, Ts, "hi"u8);
    FrameWriter.WritePong(w, 2);
});
V("batch-16-messages", "Sixteen Message frames back to back (one coalesced WebSocket message).", w =>
{
    for (var i = 0; i < 16; i++)
    {
        FrameWriter.WriteMessage(w, "team:42/alerts", (Priority)(i % 4), 1, (ulong)(100 + i), Ts + i, payload64.AsSpan(0, 4 * i));
    }
});
V("message-max-frame-length", "Message whose body is exactly 65536 bytes (the default maximum frame length).", w =>
    FrameWriter.WriteMessage(w, "broadcast", Priority.Normal, 1, 1, Ts, Enumerable.Range(0, 65_536 - 35).Select(i => (byte)(i % 251)).ToArray()));

// ---------------------------------------------------------------- invalid
var ping = W(w => FrameWriter.WritePing(w, 1));
var message = W(w => FrameWriter.WriteMessage(w, "team:42/alerts", Priority.Normal, 1, 42, Ts, payload64));
More("needmore-header-3-bytes", "Only 3 bytes of a header.", ping[..3]);
More("needmore-header-5-bytes", "5 bytes: the length (8) is known and acceptable, the flags byte is missing.", ping[..5]);
More("needmore-header-only", "A complete Message header without its body.", message[..6]);
More("needmore-body-missing-last-byte", "A Message missing its last payload byte.", message[..^1]);
More("needmore-after-valid-frame", "A whole Ping, then 10 bytes of a Message: the Ping decodes, then more bytes are needed.", Cat(ping, message[..10]));

Bad("frame-too-large-4-length-bytes", "Declared length 65537 with only the 4 length bytes available: refused at once.", U32(65_537), ErrorCode.FrameTooLarge);
Bad("frame-too-large-header", "Full header of a Message declaring 65537 bytes, no body.", Cat(U32(65_537), [0x09, 0x00]), ErrorCode.FrameTooLarge);
Bad("frame-too-large-max-u32", "Declared length 0xffffffff.", Cat(U32(uint.MaxValue), [0x0B, 0x00]), ErrorCode.FrameTooLarge);
Bad("unknown-kind-0x00", "Kind byte 0x00.", Raw(0x00, 0), ErrorCode.UnknownFrameKind);
Bad("unknown-kind-0x11", "Kind byte 0x11 (one past Refreshed).", Raw(0x11, 0), ErrorCode.UnknownFrameKind);
Bad("unknown-kind-0xff", "Kind byte 0xff.", Raw(0xFF, 0, U64(1)), ErrorCode.UnknownFrameKind);
Bad("unknown-kind-after-valid-frame", "A valid Ping, then a frame of kind 0x42.", Cat(ping, Raw(0x42, 0)), ErrorCode.UnknownFrameKind);
Bad("invalid-flags-ping", "Ping defines no flags; 0x01 set.", Raw(0x0B, 0x01, U64(1)), ErrorCode.InvalidFlags);
Bad("invalid-flags-connect-0x80", "Connect with flag bit 0x80.", Raw(0x01, 0x80, U8(1), Str16(Utf("t")), Str8([]), Str8([])), ErrorCode.InvalidFlags);
Bad("invalid-flags-subscribe-0x02", "Subscribe defines only 0x01 (Recover).", Raw(0x03, 0x02, U32(1), U64(0), U64(0), Str8(Utf("a"))), ErrorCode.InvalidFlags);
Bad("invalid-flags-message-0x04", "Message defines only 0x01 and 0x02.", Raw(0x09, 0x04, U8(2), U64(1), U64(1), U64(1), Str8(Utf("a"))), ErrorCode.InvalidFlags);
Bad("subscribed-recovered-and-failed", "Subscribed with both Recovered and RecoveryFailed (exclusive).", Raw(0x04, 0x03, U32(1), U64(1), U64(1), Str8(Utf("a"))), ErrorCode.InvalidFlags);
Bad("topic-empty", "Subscribe with a 0-byte topic.", Raw(0x03, 0, U32(1), U64(0), U64(0), Str8([])), ErrorCode.InvalidTopic);
Bad("topic-space", "Topic containing a space.", Raw(0x05, 0, U32(1), Str8(Utf("a b"))), ErrorCode.InvalidTopic);
Bad("topic-star", "Topic containing '*' (reserved for permission patterns).", Raw(0x05, 0, U32(1), Str8(Utf("team:*"))), ErrorCode.InvalidTopic);
Bad("topic-question-mark", "Topic containing '?'.", Raw(0x03, 0, U32(1), U64(0), U64(0), Str8(Utf("a?"))), ErrorCode.InvalidTopic);
Bad("topic-hash", "Topic containing '#'.", Raw(0x07, 0, U32(1), U8(2), Str8(Utf("team:#")), Utf("p")), ErrorCode.InvalidTopic);
Bad("topic-control-char", "Topic containing 0x01.", Raw(0x0A, 0, U64(1), Str8([0x61, 0x01])), ErrorCode.InvalidTopic);
Bad("topic-del", "Topic containing DEL (0x7f).", Raw(0x09, 0, U8(2), U64(1), U64(1), U64(1), Str8([0x61, 0x7F])), ErrorCode.InvalidTopic);
Bad("topic-bad-utf8", "Topic with an invalid UTF-8 sequence (c3 28).", Raw(0x03, 0, U32(1), U64(0), U64(0), Str8([0x61, 0xC3, 0x28])), ErrorCode.InvalidUtf8);
Bad("topic-overlong-utf8", "Topic with an overlong encoding of '/' (c0 af).", Raw(0x07, 0, U32(1), U8(2), Str8([0x61, 0xC0, 0xAF])), ErrorCode.InvalidUtf8);
Bad("topic-surrogate-utf8", "Topic with an encoded UTF-16 surrogate (ed a0 80).", Raw(0x09, 0, U8(2), U64(1), U64(1), U64(1), Str8([0x61, 0xED, 0xA0, 0x80])), ErrorCode.InvalidUtf8);
Bad("priority-4-publish", "Publish with priority 4.", Raw(0x07, 0, U32(1), U8(4), Str8(Utf("a")), Utf("p")), ErrorCode.InvalidPriority);
Bad("priority-255-message", "Message with priority 255.", Raw(0x09, 0, U8(255), U64(1), U64(1), U64(1), Str8(Utf("a")), Utf("p")), ErrorCode.InvalidPriority);
Bad("overrun-subscribe-topic", "Subscribe whose topic declares 10 bytes but the frame has 5.", Raw(0x03, 0, U32(1), U64(0), U64(0), U8(10), Utf("abcde")), ErrorCode.FieldOverrun);
Bad("overrun-connect-token", "Connect whose token declares 100 bytes but the frame has 3.", Raw(0x01, 0, U8(1), U16(100), Utf("abc")), ErrorCode.FieldOverrun);
Bad("overrun-connect-missing-resume", "Connect without the resume token length byte.", Raw(0x01, 0, U8(1), Str16(Utf("t")), Str8(Utf("c"))), ErrorCode.FieldOverrun);
Bad("overrun-connected-missing-user", "Connected without the user id field.", Raw(0x02, 0, U32(1000), U32(65_536), U16(1), Str8(Utf("c")), Str8(Utf("n"))), ErrorCode.FieldOverrun);
Bad("overrun-publish-ack-short", "PublishAck missing its offset.", Raw(0x08, 0, U32(1), U64(1)), ErrorCode.FieldOverrun);
Bad("overrun-message-fixed-fields", "Message body shorter than its fixed fields.", Raw(0x09, 0, U8(2), U64(1), U64(1)), ErrorCode.FieldOverrun);
Bad("overrun-ping-empty", "Ping with an empty body (needs 8 bytes).", Raw(0x0B, 0), ErrorCode.FieldOverrun);
Bad("overrun-pong-4-bytes", "Pong with a 4-byte body.", Raw(0x0C, 0, U32(1)), ErrorCode.FieldOverrun);
Bad("overrun-error-text", "Error whose text declares 50 bytes but the frame has 2.", Raw(0x0D, 0, U16(0x0402), U32(1), U16(50), Utf("ab")), ErrorCode.FieldOverrun);
Bad("overrun-goaway-text", "GoAway whose text length prefix is cut.", Raw(0x0E, 0, U32(1000), U8(0)), ErrorCode.FieldOverrun);
Bad("overrun-refreshed-short", "Refreshed missing half of its expiry.", Raw(0x10, 0, U32(1), U32(1)), ErrorCode.FieldOverrun);
Bad("trailing-bytes-ping", "Ping with a 9-byte body.", Raw(0x0B, 0, U64(1), U8(0)), ErrorCode.TrailingBytes);
Bad("trailing-bytes-publish-ack", "PublishAck with an extra byte.", Raw(0x08, 0, U32(1), U64(1), U64(1), U8(0xAA)), ErrorCode.TrailingBytes);
Bad("trailing-bytes-unsubscribe", "Unsubscribe with two bytes after the topic.", Raw(0x05, 0, U32(1), Str8(Utf("a")), U16(0)), ErrorCode.TrailingBytes);
Bad("trailing-bytes-connect", "Connect with a byte after the resume token.", Raw(0x01, 0, U8(1), Str16(Utf("t")), Str8([]), Str8([]), U8(0)), ErrorCode.TrailingBytes);
Bad("error-code-zero", "Error frame with code 0.", Raw(0x0D, 0, U16(0), U32(0), Str16([])), ErrorCode.MalformedFrame);
Bad("token-too-long-connect", "Connect token of 8193 bytes (bound 8192).", Raw(0x01, 0, U8(1), Str16(Utf(token8192 + "x")), Str8([]), Str8([])), ErrorCode.FieldTooLong);
Bad("token-too-long-refresh", "Refresh token of 8193 bytes.", Raw(0x0F, 0, U32(1), Str16(Utf(token8192 + "x"))), ErrorCode.FieldTooLong);
Bad("text-too-long-error", "Error text of 1025 bytes (bound 1024).", Raw(0x0D, 0, U16(0x0502), U32(0), Str16(Utf(new string('e', 1025)))), ErrorCode.FieldTooLong);
Bad("text-too-long-goaway", "GoAway text of 1025 bytes.", Raw(0x0E, 0, U32(1), Str16(Utf(new string('g', 1025)))), ErrorCode.FieldTooLong);
Bad("bad-utf8-token", "Connect token with a lone continuation byte (0x80).", Raw(0x01, 0, U8(1), Str16([0x61, 0x80]), Str8([]), Str8([])), ErrorCode.InvalidUtf8);
Bad("bad-utf8-client-name", "Connect client name with 0xff.", Raw(0x01, 0, U8(1), Str16(Utf("t")), Str8([0xFF]), Str8([])), ErrorCode.InvalidUtf8);
Bad("bad-utf8-connection-id", "Connected connection id with a truncated 3-byte sequence (e2 82).", Raw(0x02, 0, U32(1000), U32(65_536), U16(1), Str8([0xE2, 0x82]), Str8(Utf("n")), Str8(Utf("u"))), ErrorCode.InvalidUtf8);
Bad("bad-utf8-error-text", "Error text with an invalid sequence (c3 28).", Raw(0x0D, 0, U16(0x0402), U32(1), Str16([0xC3, 0x28])), ErrorCode.InvalidUtf8);
Bad("bad-utf8-goaway-text", "GoAway text with 0xfe.", Raw(0x0E, 0, U32(1), Str16([0xFE])), ErrorCode.InvalidUtf8);
Bad("connect-version-2", "Connect with version byte 2.", Raw(0x01, 0, U8(2), Str16(Utf("t")), Str8([]), Str8([])), ErrorCode.UnsupportedVersion);
Bad("connect-version-0", "Connect with version byte 0.", Raw(0x01, 0, U8(0), Str16(Utf("t")), Str8([]), Str8([])), ErrorCode.UnsupportedVersion);

// ---------------------------------------------------------------- check and write
foreach (var v in valid)
{
    var frames = Decode(v.Bytes, out var outcome);
    if (outcome is not null || frames.Count == 0)
    {
        throw new InvalidOperationException($"valid vector {v.Name} does not decode: {outcome}");
    }
}

foreach (var v in invalid)
{
    Decode(v.Bytes, out var outcome);
    var expected = v.Code is { } c ? ErrorCatalog.Get(c).Name : "needMore";
    if (outcome != expected)
    {
        throw new InvalidOperationException($"invalid vector {v.Name}: expected {expected}, got {outcome ?? "success"}");
    }
}

var options = new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
WriteFile("valid.json", j =>
{
    foreach (var v in valid)
    {
        j.WriteStartObject();
        j.WriteString("name", v.Name);
        j.WriteString("description", v.Description);
        j.WriteString("hex", Convert.ToHexStringLower(v.Bytes));
        j.WriteStartArray("frames");
        var sequence = new ReadOnlySequence<byte>(v.Bytes);
        var reader = new SequenceReader<byte>(sequence);
        while (FrameReader.TryRead(ref reader, limits, out var frame))
        {
            WriteFrame(j, frame);
        }

        j.WriteEndArray();
        j.WriteEndObject();
    }
});
WriteFile("invalid.json", j =>
{
    foreach (var v in invalid)
    {
        j.WriteStartObject();
        j.WriteString("name", v.Name);
        j.WriteString("description", v.Description);
        j.WriteString("hex", Convert.ToHexStringLower(v.Bytes));
        if (v.Code is { } code)
        {
            j.WriteStartObject("error");
            j.WriteNumber("code", (ushort)code);
            j.WriteString("name", ErrorCatalog.Get(code).Name);
            j.WriteEndObject();
        }
        else
        {
            j.WriteBoolean("needMore", true);
        }

        j.WriteEndObject();
    }
});
Console.WriteLine($"{valid.Count} valid, {invalid.Count} invalid vectors written to {outDir}");

void WriteFile(string name, Action<Utf8JsonWriter> body)
{
    using var stream = File.Create(Path.Combine(outDir, name));
    using (var j = new Utf8JsonWriter(stream, options))
    {
        j.WriteStartObject();
        j.WriteNumber("protocol", 1);
        j.WriteNumber("maxFrameLength", limits.MaxFrameLength);
        j.WriteStartArray("vectors");
        body(j);
        j.WriteEndArray();
        j.WriteEndObject();
    }

    stream.Write("\n"u8);
}

List<Frame> Decode(byte[] bytes, out string? outcome)
{
    var list = new List<Frame>();
    var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
    outcome = null;
    try
    {
        while (!reader.End)
        {
            if (!FrameReader.TryRead(ref reader, limits, out var frame))
            {
                outcome = "needMore";
                break;
            }

            list.Add(frame);
        }
    }
    catch (ProtocolException e)
    {
        outcome = e.Info.Name;
    }

    return list;
}

static void WriteFrame(Utf8JsonWriter j, in Frame f)
{
    j.WriteStartObject();
    j.WriteString("kind", f.Kind.ToString());
    j.WriteNumber("flags", (byte)f.Flags);
    switch (f.Kind)
    {
        case FrameKind.Connect:
            j.WriteNumber("version", f.Version);
            j.WriteString("token", Frame.Decode(f.Text1));
            j.WriteString("clientName", Frame.Decode(f.Text2));
            j.WriteString("resumeToken", Frame.Decode(f.Text3));
            break;
        case FrameKind.Connected:
            j.WriteNumber("heartbeatMs", f.Milliseconds);
            j.WriteNumber("maxFrameLength", f.MaxFrameLength);
            j.WriteNumber("maxSubscriptions", f.MaxSubscriptions);
            j.WriteString("connectionId", Frame.Decode(f.Text1));
            j.WriteString("nodeId", Frame.Decode(f.Text2));
            j.WriteString("userId", Frame.Decode(f.Text3));
            break;
        case FrameKind.Subscribe or FrameKind.Subscribed:
            j.WriteNumber("correlationId", f.CorrelationId);
            j.WriteString("epoch", f.Epoch.ToString());
            j.WriteString("offset", f.Offset.ToString());
            j.WriteString("topic", f.TopicString);
            break;
        case FrameKind.Unsubscribe or FrameKind.Unsubscribed:
            j.WriteNumber("correlationId", f.CorrelationId);
            j.WriteString("topic", f.TopicString);
            break;
        case FrameKind.Publish:
            j.WriteNumber("correlationId", f.CorrelationId);
            j.WriteNumber("priority", (byte)f.Priority);
            j.WriteString("topic", f.TopicString);
            j.WriteString("payloadHex", Convert.ToHexStringLower(f.Payload.ToArray()));
            break;
        case FrameKind.PublishAck:
            j.WriteNumber("correlationId", f.CorrelationId);
            j.WriteString("epoch", f.Epoch.ToString());
            j.WriteString("offset", f.Offset.ToString());
            break;
        case FrameKind.Message:
            j.WriteNumber("priority", (byte)f.Priority);
            j.WriteString("epoch", f.Epoch.ToString());
            j.WriteString("offset", f.Offset.ToString());
            j.WriteString("timestamp", ((ulong)f.Value).ToString());
            j.WriteString("topic", f.TopicString);
            j.WriteString("payloadHex", Convert.ToHexStringLower(f.Payload.ToArray()));
            break;
        case FrameKind.Ack:
            j.WriteString("offset", f.Offset.ToString());
            j.WriteString("topic", f.TopicString);
            break;
        case FrameKind.Ping or FrameKind.Pong:
            j.WriteString("nonce", ((ulong)f.Value).ToString());
            break;
        case FrameKind.Error:
            j.WriteNumber("errorCode", (ushort)f.ErrorCode);
            j.WriteNumber("correlationId", f.CorrelationId);
            j.WriteString("text", f.Text);
            break;
        case FrameKind.GoAway:
            j.WriteNumber("reconnectDelayMs", f.Milliseconds);
            j.WriteString("text", f.Text);
            break;
        case FrameKind.Refresh:
            j.WriteNumber("correlationId", f.CorrelationId);
            j.WriteString("token", f.Token);
            break;
        case FrameKind.Refreshed:
            j.WriteNumber("correlationId", f.CorrelationId);
            j.WriteString("expiresAt", ((ulong)f.Value).ToString());
            break;
        default:
            throw new InvalidOperationException(f.Kind.ToString());
    }

    j.WriteEndObject();
}
