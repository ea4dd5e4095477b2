using StackExchange.Redis;

namespace Gateway.Dispatch.Engines.Redis;

/// <summary>
/// The Redis keys and live channel of one topic. Every name is <c>{prefix}{{topic}}:{kind}</c>: the topic
/// in braces is a cluster hash tag, so all keys of a topic (and its sharded channel) live in one slot and
/// one script can touch them. The arrays are shared read-only by concurrent calls.
/// </summary>
internal sealed class TopicKeys
{
    public TopicKeys(string prefix, string topic)
    {
        Topic = topic;
        var tag = string.Concat(prefix, "{", topic, "}:");
        RedisKey meta = tag + "meta";
        RedisKey stream = tag + "stream";
        RedisKey retained = tag + "retained";
        RedisKey pending = tag + "pending";
        Retained = retained;
        All = [meta, stream, retained, pending];
        MetaAndStream = [meta, stream];
        MetaAndPending = [meta, pending];
        PendingOnly = [pending];
        ChannelName = tag + "live";
    }

    public string Topic { get; }

    /// <summary>meta, stream, retained, pending (append, position).</summary>
    public RedisKey[] All { get; }

    public RedisKey[] MetaAndStream { get; }

    public RedisKey[] MetaAndPending { get; }

    public RedisKey[] PendingOnly { get; }

    public RedisKey Retained { get; }

    /// <summary>Name of the live channel (sharded when the server supports it).</summary>
    public string ChannelName { get; }
}
