namespace Gateway.Dispatch;

/// <summary>
/// The node-wide memory budget for topic state (<c>Gateway:Dispatch:Budget</c>): how many topics, and how many
/// bytes of history, retained workflow state and pending notifications, one node keeps in memory. Above
/// <see cref="EvictAbovePercent"/> of a limit the workers evict idle state, least recently used first; what
/// cannot be evicted (live state) is refused with <c>overloaded</c> once a limit is reached. See
/// docs/configuration.md ("Node memory budget").
/// </summary>
public sealed class TopicBudgetOptions
{
    /// <summary>
    /// Most topics known to the node (the implicit <c>broadcast</c> topic is not counted). A new topic beyond it is
    /// refused with <c>overloaded</c>, except a connecting user's own <c>user:</c> topic (bounded by the connection caps).
    /// </summary>
    public int MaxTopics { get; set; } = 500_000;

    /// <summary>Most bytes of history (encoded Message frames) summed over every topic.</summary>
    public long MaxHistoryBytes { get; set; } = 1L << 30;

    /// <summary>Most bytes of retained workflow state summed over every <c>workflow:</c> topic.</summary>
    public long MaxRetainedBytes { get; set; } = 256L << 20;

    /// <summary>Most bytes of pending (unacknowledged) notifications summed over every user (in-memory engine).</summary>
    public long MaxPendingBytes { get; set; } = 512L << 20;

    /// <summary>
    /// Percentage of each limit above which the workers evict idle topics (and, for history, the history of the
    /// least recently used topics) until the use is back at or under it. The headroom lets new topics be created
    /// while idle ones are evicted, so a limit itself is reached only when nothing is evictable.
    /// </summary>
    public int EvictAbovePercent { get; set; } = 90;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting (as <c>Budget:Name</c>).</summary>
    public void Validate()
    {
        if (MaxTopics <= 0)
        {
            throw new ArgumentException($"Budget:MaxTopics must be positive (was {MaxTopics}).", "Budget:MaxTopics");
        }

        Positive(MaxHistoryBytes, "Budget:MaxHistoryBytes");
        Positive(MaxRetainedBytes, "Budget:MaxRetainedBytes");
        Positive(MaxPendingBytes, "Budget:MaxPendingBytes");
        if (EvictAbovePercent is < 50 or > 100)
        {
            throw new ArgumentException($"Budget:EvictAbovePercent must be between 50 and 100 (was {EvictAbovePercent}).", "Budget:EvictAbovePercent");
        }
    }

    private static void Positive(long value, string name)
    {
        if (value <= 0)
        {
            throw new ArgumentException($"{name} must be positive (was {value}).", name);
        }
    }
}
