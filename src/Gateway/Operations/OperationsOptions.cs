namespace Gateway.Operations;

/// <summary>
/// Settings of the operations surface, bound from <c>Gateway:Stats</c> and <c>Gateway:Health</c>.
/// </summary>
public sealed class OperationsOptions
{
    /// <summary>Time between two performance-history snapshots (<c>Gateway:Stats:Interval</c>, default 10 s).</summary>
    public TimeSpan StatsInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How much history is kept (<c>Gateway:Stats:Window</c>, default 1 h).</summary>
    public TimeSpan StatsWindow { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Time between two "current" samples served by <c>/api/v1/stats</c>
    /// (<c>Gateway:Stats:SampleInterval</c>, default 1 s; at most <see cref="StatsInterval"/>).
    /// </summary>
    public TimeSpan StatsSampleInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Time between two publishes of this node's summary into the cluster view in Redis
    /// (<c>Gateway:Stats:ClusterInterval</c>, default 5 s; Redis engine only). A node not heard from for
    /// <see cref="ClusterEntryTtl"/> (3 intervals) is shown as stale.
    /// </summary>
    public TimeSpan ClusterInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a node that stopped publishing (killed, frozen, cut off from Redis) stays listed as stale in the
    /// cluster view (<c>Gateway:Stats:ClusterForgetAfter</c>, default 10 min; at least 3 × <see cref="ClusterInterval"/>).
    /// </summary>
    public TimeSpan ClusterForgetAfter { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long a published node summary lives in Redis: three publish intervals, so one lost publish is no gap.</summary>
    public TimeSpan ClusterEntryTtl => ClusterInterval * 3;

    /// <summary>
    /// Ring fill ratio at which <c>/health/ready</c> reports the node saturated
    /// (<c>Gateway:Health:RingSaturation</c>, default 0.9).
    /// </summary>
    public double RingSaturation { get; set; } = 0.9;

    /// <summary>
    /// How long the workers may hold queued messages without dispatching any before <c>/health/live</c>
    /// fails (<c>Gateway:Health:StallTimeout</c>, default 30 s).
    /// </summary>
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Number of snapshots the history keeps.</summary>
    public int HistoryCapacity => (int)Math.Clamp(Math.Ceiling(StatsWindow / StatsInterval), 1, 100_000);
}
