namespace Gateway.Client;

/// <summary>
/// Jittered exponential backoff between reconnect rounds (a round tries every endpoint once, in order,
/// starting after the one that was lost).
/// </summary>
public sealed record ReconnectPolicy
{
    /// <summary>Delay before the first round; later rounds multiply it. Default 250 ms.</summary>
    public TimeSpan InitialDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Cap of the delay. Default 30 s.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Growth factor per round. Default 2.</summary>
    public double Multiplier { get; init; } = 2.0;

    /// <summary>
    /// Fraction of each delay that is randomized (0 = none, 1 = full jitter), so that the clients of a
    /// failed node do not all come back at once. Default 0.5.
    /// </summary>
    public double Jitter { get; init; } = 0.5;

    /// <summary>Rounds to try before giving up (state <see cref="ConnectionState.Disconnected"/>); -1 = forever (default).</summary>
    public int MaxAttempts { get; init; } = -1;

    /// <summary>The delay before round <paramref name="attempt"/> (0-based).</summary>
    public TimeSpan GetDelay(int attempt, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var baseMs = InitialDelay.TotalMilliseconds * Math.Pow(Multiplier, Math.Min(attempt, 62));
        var capped = Math.Min(double.IsFinite(baseMs) ? baseMs : double.MaxValue, MaxDelay.TotalMilliseconds);
        var jitter = Math.Clamp(Jitter, 0, 1);
        var ms = (capped * (1 - jitter)) + (capped * jitter * random.NextDouble());
        return TimeSpan.FromMilliseconds(ms);
    }
}
