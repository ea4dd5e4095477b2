namespace Gateway.Dispatch.Engines.Redis;

/// <summary>One node of a <see cref="NodeDirectory"/> read.</summary>
/// <param name="NodeId">The node's id as it published itself (unique per process, e.g. <see cref="RedisStreamStore.NodeId"/>).</param>
/// <param name="LastSeen">When the node last published its summary (by the publishing node's clock).</param>
/// <param name="Summary">
/// The latest summary the node published (opaque to the directory; the gateway writes JSON), or null when it
/// expired: the node stopped publishing (killed, frozen, or cut off from Redis) for longer than the entry TTL.
/// </param>
public sealed record NodeDirectoryEntry(string NodeId, DateTimeOffset LastSeen, string? Summary)
{
    /// <summary>True when the node's summary is still within its TTL (the node published recently).</summary>
    public bool IsLive => Summary is not null;
}
