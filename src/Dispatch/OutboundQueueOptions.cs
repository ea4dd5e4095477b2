namespace Gateway.Dispatch;

/// <summary>Bounds of one connection's outbound queue.</summary>
public sealed class OutboundQueueOptions
{
    /// <summary>Most queued frames (messages and control frames together).</summary>
    public int MaxFrames { get; set; } = 1024;

    /// <summary>Most queued bytes.</summary>
    public long MaxBytes { get; set; } = 1024 * 1024;

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
    }
}
