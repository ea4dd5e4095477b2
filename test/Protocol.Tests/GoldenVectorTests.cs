using System.Buffers;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Protocol.Tests;

public sealed class GoldenVectorTests
{
    public static IEnumerable<object[]> ValidNames => Vectors.ValidNames;

    public static IEnumerable<object[]> InvalidNames => Vectors.InvalidNames;

    [Theory]
    [MemberData(nameof(ValidNames))]
    public void Valid_vector_decodes_to_exactly_its_frames_and_consumes_everything(string name)
    {
        var v = Vectors.GetValid(name);
        var result = Decoding.ReadAll(v.Bytes);

        Assert.Null(result.Error);
        Assert.False(result.NeedMore);
        Assert.Equal(v.Bytes.Length, result.Consumed);
        Decoding.AssertSameFrames(v.Frames, result.Frames);
    }

    [Theory]
    [MemberData(nameof(ValidNames))]
    public void Valid_vector_fields_encode_to_exactly_its_hex(string name)
    {
        var v = Vectors.GetValid(name);
        Assert.Equal(Convert.ToHexStringLower(v.Bytes), Convert.ToHexStringLower(FrameJson.EncodeAll(v.Frames)));
    }

    [Theory]
    [MemberData(nameof(ValidNames))]
    public void Decoded_frames_re_encode_with_the_generic_writer_to_the_same_bytes(string name)
    {
        var v = Vectors.GetValid(name);
        var output = new ArrayBufferWriter<byte>();
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(v.Bytes));
        while (FrameReader.TryRead(ref reader, ProtocolLimits.Default, out var frame))
        {
            FrameWriter.Write(output, frame);
        }

        Assert.Equal(Convert.ToHexStringLower(v.Bytes), Convert.ToHexStringLower(output.WrittenSpan));
    }

    [Theory]
    [MemberData(nameof(InvalidNames))]
    public void Invalid_vector_fails_with_exactly_its_code_or_needs_more(string name)
    {
        var v = Vectors.GetInvalid(name);
        var result = Decoding.ReadAll(v.Bytes);

        if (v.Code is { } code)
        {
            Assert.False(result.NeedMore, "expected an error, the reader asked for more bytes");
            Assert.Equal(code, result.Error);
            Assert.Equal(v.CodeName, ErrorCatalog.Get(code).Name);
        }
        else
        {
            Assert.Null(result.Error);
            Assert.True(result.NeedMore);
            Assert.True(result.Consumed < v.Bytes.Length);
        }
    }

    [Theory]
    [MemberData(nameof(InvalidNames))]
    public void Invalid_vector_fails_the_same_way_one_byte_per_segment(string name)
    {
        var v = Vectors.GetInvalid(name);
        var whole = Decoding.ReadAll(v.Bytes);
        var split = Decoding.ReadAll(Segments.OneBytePerSegment(v.Bytes));

        Assert.Equal(whole.Error, split.Error);
        Assert.Equal(whole.NeedMore, split.NeedMore);
        Assert.Equal(whole.Consumed, split.Consumed);
    }

    [Fact]
    public void Vector_files_cover_every_kind_priority_and_the_required_boundaries()
    {
        var frames = Vectors.Valid.SelectMany(v => v.Frames).Select(f => f!.AsObject()).ToList();
        var kinds = frames.Select(f => (string)f["kind"]!).ToHashSet();
        Assert.Equal(Enum.GetNames<FrameKind>().Order(), kinds.Order());

        foreach (var kind in new[] { "Publish", "Message" })
        {
            var priorities = frames.Where(f => (string)f["kind"]! == kind).Select(f => (int)f["priority"]!).ToHashSet();
            Assert.Equal([0, 1, 2, 3], priorities.Order());
        }

        Assert.Contains(frames, f => f["topic"] is { } t && System.Text.Encoding.UTF8.GetByteCount((string)t!) == 255);
        Assert.Contains(frames, f => f["token"] is { } t && ((string)t!).Length == ProtocolLimits.MaxTokenBytes);
        Assert.Contains(frames, f => (string?)f["payloadHex"] == string.Empty);
        Assert.Contains(Vectors.Valid, v => v.Frames.Count >= 16);
        Assert.Contains(Vectors.Valid, v => v.Bytes.Length == ProtocolLimits.HeaderSize + ProtocolLimits.DefaultMaxFrameLength);

        Assert.True(Vectors.Invalid.Count >= 25);
        var codes = Vectors.Invalid.Where(v => v.Code.HasValue).Select(v => v.Code!.Value).ToHashSet();
        Assert.Superset(
            new HashSet<ErrorCode>
            {
                ErrorCode.FrameTooLarge, ErrorCode.UnknownFrameKind, ErrorCode.InvalidUtf8, ErrorCode.InvalidTopic, ErrorCode.InvalidPriority,
                ErrorCode.FieldOverrun, ErrorCode.TrailingBytes, ErrorCode.InvalidFlags, ErrorCode.MalformedFrame, ErrorCode.FieldTooLong,
                ErrorCode.UnsupportedVersion,
            },
            codes);
        Assert.Contains(Vectors.Invalid, v => v.Code is null);
    }

    [Fact]
    public void Every_vector_name_is_unique_and_every_hex_is_lowercase()
    {
        foreach (var file in new[] { "valid.json", "invalid.json" })
        {
            var vectors = Vectors.LoadFile(file)["vectors"]!.AsArray();
            var names = vectors.Select(v => (string)v!["name"]!).ToList();
            Assert.Equal(names.Count, names.Distinct().Count());
            Assert.All(vectors, v => Assert.Matches("^([0-9a-f]{2})*$", (string)v!["hex"]!));
        }
    }
}
