using System.Buffers;
using System.Text;
using Gateway.Auth;
using Gateway.Protocol;

namespace Gateway.Transport;

/// <summary>
/// The last few topics a connection published to or acked, as strings with their publish
/// permission: a client publishing to the same topics again decodes and checks nothing and
/// allocates nothing per frame.
/// </summary>
internal sealed class TopicCache
{
    private const int Slots = 4;
    private readonly Entry[] _entries = new Entry[Slots];
    private int _next;

    public string Get(in ReadOnlySequence<byte> topic, TopicPermissions permissions, out bool canPublish)
    {
        Span<byte> scratch = stackalloc byte[ProtocolLimits.MaxTopicBytes];
        scoped ReadOnlySpan<byte> bytes;
        if (topic.IsSingleSegment)
        {
            bytes = topic.FirstSpan;
        }
        else
        {
            topic.CopyTo(scratch);
            bytes = scratch[..(int)topic.Length];
        }

        foreach (var entry in _entries)
        {
            if (entry is not null && bytes.SequenceEqual(entry.Utf8))
            {
                canPublish = entry.CanPublish;
                return entry.Topic;
            }
        }

        var text = Encoding.UTF8.GetString(bytes);
        canPublish = permissions.CanPublish(text);
        _entries[_next] = new Entry(bytes.ToArray(), text, canPublish);
        _next = (_next + 1) % Slots;
        return text;
    }

    /// <summary>Forgets cached permissions (after a token refresh).</summary>
    public void Clear() => Array.Clear(_entries);

    private sealed record Entry(byte[] Utf8, string Topic, bool CanPublish);
}
