using System.Buffers;
using System.Text;
using System.Text.Unicode;
using Gateway.Protocol.Errors;

namespace Gateway.Protocol.Topics;

/// <summary>
/// Topic syntax of protocol v1: 1–255 bytes of valid UTF-8 without ASCII control characters,
/// space, DEL, or the pattern characters <c>*</c>, <c>?</c> and <c>#</c> (reserved for permission patterns).
/// </summary>
public static class TopicRules
{
    /// <summary>Prefix of per-user notification topics.</summary>
    public const string UserPrefix = "user:";

    /// <summary>Prefix of workflow topics (latest message retained).</summary>
    public const string WorkflowPrefix = "workflow:";

    /// <summary>The broadcast topic, delivered to every connection without subscribing.</summary>
    public const string Broadcast = "broadcast";

    /// <summary>Checks a UTF-8 topic; returns <see cref="ErrorCode.None"/> when valid.</summary>
    public static ErrorCode Validate(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length is 0 or > ProtocolLimits.MaxTopicBytes)
        {
            return ErrorCode.InvalidTopic;
        }

        // Reject forbidden ASCII bytes first: a cheap vectorized scan.
        if (utf8.IndexOfAny(ForbiddenBytes) >= 0)
        {
            return ErrorCode.InvalidTopic;
        }

        return Utf8.IsValid(utf8) ? ErrorCode.None : ErrorCode.InvalidUtf8;
    }

    /// <summary>Checks a UTF-8 topic held in a sequence (copied to the stack when split).</summary>
    public static ErrorCode Validate(in ReadOnlySequence<byte> utf8)
    {
        if (utf8.IsSingleSegment)
        {
            return Validate(utf8.FirstSpan);
        }

        if (utf8.Length > ProtocolLimits.MaxTopicBytes)
        {
            return ErrorCode.InvalidTopic;
        }

        Span<byte> copy = stackalloc byte[ProtocolLimits.MaxTopicBytes];
        utf8.CopyTo(copy);
        return Validate(copy[..(int)utf8.Length]);
    }

    /// <summary>Checks a topic string.</summary>
    public static ErrorCode Validate(string topic)
    {
        ArgumentNullException.ThrowIfNull(topic);
        if (topic.Length is 0 || topic.Length > ProtocolLimits.MaxTopicBytes)
        {
            return ErrorCode.InvalidTopic;
        }

        Span<byte> bytes = stackalloc byte[ProtocolLimits.MaxTopicBytes * 3];
        if (!Utf8Strict.TryGetBytes(topic, bytes, out var written))
        {
            return ErrorCode.InvalidUtf8;
        }

        return Validate(bytes[..written]);
    }

    /// <summary>True when <paramref name="topic"/> is a valid topic.</summary>
    public static bool IsValid(string topic) => Validate(topic) == ErrorCode.None;

    private static readonly SearchValues<byte> ForbiddenBytes = SearchValues.Create(BuildForbidden());

    private static byte[] BuildForbidden()
    {
        var list = new List<byte>();
        for (var b = 0; b <= 0x20; b++)
        {
            list.Add((byte)b);
        }

        list.Add(0x7F);
        list.Add((byte)'*');
        list.Add((byte)'?');
        list.Add((byte)'#');
        return [.. list];
    }
}
