namespace Gateway.Dispatch;

/// <summary>Bounds of each topic's history (recovery window). A message leaves history when any bound is exceeded.</summary>
public sealed class HistoryOptions
{
    /// <summary>Most messages kept per topic (0 disables history: every recovery but a no-op fails).</summary>
    public int MaxMessages { get; set; } = 1000;

    /// <summary>Most bytes (encoded frames) kept per topic.</summary>
    public long MaxBytes { get; set; } = 1024 * 1024;

    /// <summary>Oldest message age kept.</summary>
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (MaxMessages < 0)
        {
            throw new ArgumentException("History:MaxMessages must not be negative.", "History:MaxMessages");
        }

        if (MaxBytes < 0)
        {
            throw new ArgumentException("History:MaxBytes must not be negative.", "History:MaxBytes");
        }

        if (MaxAge <= TimeSpan.Zero)
        {
            throw new ArgumentException("History:MaxAge must be positive.", "History:MaxAge");
        }
    }
}
