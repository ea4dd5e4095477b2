using System.Text;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch.Engines.Redis;

/// <summary>
/// A message received on a topic's live channel (published by any node, this one included: the store does
/// not filter; compare <see cref="NodeIdUtf8"/> with <see cref="RedisStreamStore.NodeIdUtf8"/>).
/// <see cref="Payload"/> and <see cref="NodeIdUtf8"/> are slices of the received record and are valid only
/// during the handler call: copy what must outlive it.
/// </summary>
/// <param name="Topic">The topic (the string passed to <see cref="RedisStreamStore.SubscribeAsync"/>).</param>
/// <param name="NodeIdUtf8">UTF-8 node id of the publishing node.</param>
/// <param name="Epoch">Epoch assigned by Redis.</param>
/// <param name="Offset">Offset assigned by Redis.</param>
/// <param name="TimestampMs">Publish time (Unix milliseconds, publishing node's clock).</param>
/// <param name="Priority">Message priority.</param>
/// <param name="Payload">Message payload.</param>
public readonly record struct RemoteMessage(
    string Topic,
    ReadOnlyMemory<byte> NodeIdUtf8,
    ulong Epoch,
    ulong Offset,
    long TimestampMs,
    Priority Priority,
    ReadOnlyMemory<byte> Payload)
{
    /// <summary>The publishing node's id as a string (allocates; for logs and tests).</summary>
    public string NodeId => Encoding.UTF8.GetString(NodeIdUtf8.Span);

    /// <summary>True when the message was published by the node whose UTF-8 id is <paramref name="nodeIdUtf8"/> (no allocation).</summary>
    public bool IsFrom(ReadOnlySpan<byte> nodeIdUtf8) => NodeIdUtf8.Span.SequenceEqual(nodeIdUtf8);
}
