namespace Gateway.Client;

/// <summary>
/// When to reconnect. The first attempt after a lost connection waits a uniformly random delay in
/// [0, <see cref="FirstReconnectWindow"/>), so the clients of a node that died arrive spread over that
/// window instead of as one burst; a GoAway waits the delay the gateway hinted (already spread by the
/// gateway). Later rounds (a round tries every endpoint once, in order, starting after the one that was
/// lost) back off exponentially with jitter.
/// </summary>
public sealed record ReconnectPolicy
{
    /// <summary>A connection that lived at least this long counts as stable: its loss starts the backoff afresh.</summary>
    internal static readonly TimeSpan StableAfter = TimeSpan.FromSeconds(10);

    /// <summary>Delay before the first retry round after a failed one; later rounds multiply it. Default 250 ms.</summary>
    public TimeSpan InitialDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Cap of the delay. Default 30 s.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Growth factor per round. Default 2.</summary>
    public double Multiplier { get; init; } = 2.0;

    /// <summary>
    /// Fraction of each backoff delay that is randomized (0 = none, 1 = full jitter), so that retrying
    /// clients do not stay in lockstep. Default 0.5.
    /// </summary>
    public double Jitter { get; init; } = 0.5;

    /// <summary>
    /// The window the first reconnect after a lost connection (or a GoAway without a delay hint) is spread
    /// over: a uniformly random delay in [0, this). A node's N clients then reconnect at about
    /// N / window per second instead of all at once. Zero reconnects at once. Default 1 s.
    /// </summary>
    public TimeSpan FirstReconnectWindow { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Rounds to try before giving up (state <see cref="ConnectionState.Disconnected"/>); -1 = forever (default).</summary>
    public int MaxAttempts { get; init; } = -1;

    /// <summary>
    /// The random source of the jitter (default <see cref="System.Random.Shared"/>). Set a seeded one to
    /// reproduce a run's delays (tests, simulations).
    /// </summary>
    public Random? Random { get; init; }

    /// <summary>The delay before retry round <paramref name="attempt"/> (0-based) after a round in which every endpoint failed.</summary>
    public TimeSpan GetDelay(int attempt, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var baseMs = InitialDelay.TotalMilliseconds * Math.Pow(Multiplier, Math.Min(attempt, 62));
        var capped = Math.Min(double.IsFinite(baseMs) ? baseMs : double.MaxValue, MaxDelay.TotalMilliseconds);
        var jitter = Math.Clamp(Jitter, 0, 1);
        var ms = (capped * (1 - jitter)) + (capped * jitter * random.NextDouble());
        return TimeSpan.FromMilliseconds(ms);
    }

    /// <summary>
    /// The delay before the first reconnect after a connection was lost. <paramref name="shortLivedDrops"/>
    /// counts the consecutive connections (this one included) that ended before they were stable (10 s):
    /// 0 or 1 draws uniformly from [0, <see cref="FirstReconnectWindow"/>); more (a node that accepts and
    /// then drops, again and again) backs off like failed rounds, so a flapping node is not hammered.
    /// </summary>
    public TimeSpan GetFirstDelay(int shortLivedDrops, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        return shortLivedDrops <= 1
            ? TimeSpan.FromMilliseconds(Math.Max(0, FirstReconnectWindow.TotalMilliseconds) * random.NextDouble())
            : GetDelay(shortLivedDrops - 2, random);
    }

    /// <summary>
    /// The delay before the first reconnect after a GoAway that hinted <paramref name="hinted"/> (the gateway
    /// spreads its clients' hints; the client keeps the old connection until then), of which
    /// <paramref name="remaining"/> is left: what is left of the hint; without a hint (0), a draw from
    /// [0, <see cref="FirstReconnectWindow"/>) like after a drop. A flapping node (see
    /// <see cref="GetFirstDelay"/>) is backed off from all the same.
    /// </summary>
    public TimeSpan GetGoAwayDelay(TimeSpan hinted, TimeSpan remaining, int shortLivedDrops, Random random)
    {
        if (hinted <= TimeSpan.Zero)
        {
            return GetFirstDelay(shortLivedDrops, random);
        }

        var left = remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero;
        if (shortLivedDrops <= 1)
        {
            return left;
        }

        var backoff = GetFirstDelay(shortLivedDrops, random);
        return backoff > left ? backoff : left;
    }

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(InitialDelay, TimeSpan.Zero, nameof(InitialDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxDelay, InitialDelay, nameof(MaxDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(FirstReconnectWindow, TimeSpan.Zero, nameof(FirstReconnectWindow));
        ArgumentOutOfRangeException.ThrowIfLessThan(Multiplier, 1.0, nameof(Multiplier));
        if (!(Jitter is >= 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Jitter), Jitter, "Jitter must be between 0 and 1.");
        }
    }
}
