using System.Buffers;
using System.Text.Json.Nodes;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Protocol.Tests;

/// <summary>The outcome of reading a whole input frame by frame.</summary>
/// <param name="Frames">Frames decoded before the input ended or failed (golden-vector JSON form).</param>
/// <param name="Error">The error raised, or null.</param>
/// <param name="NeedMore">True when the input ended inside a frame.</param>
/// <param name="Consumed">Bytes consumed by the decoded frames.</param>
internal sealed record DecodeResult(List<JsonObject> Frames, ErrorCode? Error, bool NeedMore, long Consumed);

internal static class Decoding
{
    /// <summary>Reads frames until the input ends, more bytes are needed, or an error is thrown.</summary>
    public static DecodeResult ReadAll(ReadOnlySequence<byte> input, ProtocolLimits? limits = null)
    {
        limits ??= ProtocolLimits.Default;
        var frames = new List<JsonObject>();
        var reader = new SequenceReader<byte>(input);
        while (!reader.End)
        {
            var before = reader.Consumed;
            bool ok;
            Frame frame;
            try
            {
                ok = FrameReader.TryRead(ref reader, limits, out frame);
            }
            catch (ProtocolException e)
            {
                return new DecodeResult(frames, e.Code, false, reader.Consumed);
            }

            if (!ok)
            {
                // The contract: a need-more answer consumes nothing.
                Assert.Equal(before, reader.Consumed);
                return new DecodeResult(frames, null, true, reader.Consumed);
            }

            Assert.True(reader.Consumed > before);
            frames.Add(FrameJson.ToJson(frame));
        }

        return new DecodeResult(frames, null, false, reader.Consumed);
    }

    public static DecodeResult ReadAll(byte[] input, ProtocolLimits? limits = null) => ReadAll(new ReadOnlySequence<byte>(input), limits);

    /// <summary>Asserts two decoded frame lists are equal, field by field.</summary>
    public static void AssertSameFrames(IEnumerable<JsonNode?> expected, IReadOnlyList<JsonObject> actual)
    {
        var e = expected.ToList();
        Assert.Equal(e.Count, actual.Count);
        for (var i = 0; i < e.Count; i++)
        {
            // Re-parse so both sides are JsonElement-backed and numbers compare by value, not by CLR type.
            var decoded = JsonNode.Parse(actual[i].ToJsonString());
            Assert.True(JsonNode.DeepEquals(e[i], decoded), $"frame {i}: expected {e[i]?.ToJsonString()} but decoded {actual[i].ToJsonString()}");
        }
    }
}
