namespace Gateway.Dispatch.Engines.Redis;

/// <summary>The answer of <see cref="NodeDirectory.ReadAsync"/>.</summary>
/// <param name="Nodes">The most recently seen nodes first, at most the requested number.</param>
/// <param name="Total">How many nodes the directory holds (more than <paramref name="Nodes"/> when the read was capped).</param>
public sealed record NodeDirectoryRead(IReadOnlyList<NodeDirectoryEntry> Nodes, long Total)
{
    /// <summary>True when the directory holds more nodes than were read.</summary>
    public bool Truncated => Total > Nodes.Count;
}
