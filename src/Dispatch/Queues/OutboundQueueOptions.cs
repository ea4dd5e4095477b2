namespace Gateway.Dispatch;

/// <summary>Bounds of one connection's outbound queue.</summary>
public sealed class OutboundQueueOptions
{
    /// <summary>Most queued frames (messages and control frames together).</summary>
    public int MaxFrames { get; set; } = 1024;

    /// <summary>Most queued bytes.</summary>
    public long MaxBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// Extra frames that <c>critical</c> and <c>high</c> messages (only) may queue beyond <see cref="MaxFrames"/>
    /// before the connection is closed as a slow consumer. Default 1024 (the HTTP API's largest batch is
    /// 1,000 messages): one burst does not disconnect a subscriber that reads. 0 = none.
    /// </summary>
    public int BurstFrames { get; set; } = 1024;

    /// <summary>
    /// Extra bytes that <c>critical</c> and <c>high</c> messages (only) may queue beyond <see cref="MaxBytes"/>.
    /// Default 4 MiB (the HTTP API's largest request). The frames are shared by every recipient, so a burst
    /// costs its bytes once per node plus one queue entry per recipient, not its bytes per connection.
    /// </summary>
    public long BurstBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (MaxFrames < 1)
        {
            throw new ArgumentException("Outbound:MaxFrames must be at least 1.", nameof(MaxFrames));
        }

        if (MaxBytes < 64)
        {
            throw new ArgumentException("Outbound:MaxBytes must be at least 64.", nameof(MaxBytes));
        }

        if (BurstFrames < 0)
        {
            throw new ArgumentException("Outbound:BurstFrames must be 0 or more.", nameof(BurstFrames));
        }

        if (BurstBytes < 0)
        {
            throw new ArgumentException("Outbound:BurstBytes must be 0 or more.", nameof(BurstBytes));
        }
    }
}
