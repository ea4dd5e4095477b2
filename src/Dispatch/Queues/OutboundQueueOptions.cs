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

    /// <summary>
    /// Most control frames (answers such as PublishAck, Subscribed, Pong, Error; host frames) queued at once, beyond
    /// the message bounds. A client that sends requests and never reads their answers reaches it and is closed as
    /// <c>slow_consumer</c>. Default 4096: above the default per-connection frame burst
    /// (<c>Gateway:Limits:FrameBurst</c>, 4000), so a client that sends a whole burst before reading is not closed.
    /// </summary>
    public int MaxControlFrames { get; set; } = 4096;

    /// <summary>Most control-frame bytes queued at once (see <see cref="MaxControlFrames"/>). Default 1 MiB.</summary>
    public long MaxControlBytes { get; set; } = 1024 * 1024;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (MaxFrames < 1)
        {
            throw new ArgumentException("Outbound:MaxFrames must be at least 1.", "Outbound:MaxFrames");
        }

        if (MaxBytes < 64)
        {
            throw new ArgumentException("Outbound:MaxBytes must be at least 64.", "Outbound:MaxBytes");
        }

        if (BurstFrames < 0)
        {
            throw new ArgumentException("Outbound:BurstFrames must be 0 or more.", "Outbound:BurstFrames");
        }

        if (BurstBytes < 0)
        {
            throw new ArgumentException("Outbound:BurstBytes must be 0 or more.", "Outbound:BurstBytes");
        }

        if (MaxControlFrames is < 16 or > 1_000_000)
        {
            throw new ArgumentException("Outbound:MaxControlFrames must be between 16 and 1,000,000.", "Outbound:MaxControlFrames");
        }

        if (MaxControlBytes is < 4096 or > 256L * 1024 * 1024)
        {
            throw new ArgumentException("Outbound:MaxControlBytes must be between 4096 (the largest control frame) and 256 MiB.", "Outbound:MaxControlBytes");
        }
    }
}
