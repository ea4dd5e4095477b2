namespace Gateway.Configuration;

/// <summary><c>Gateway:Drain</c>: graceful drain on SIGTERM or <c>POST /api/v1/admin/drain</c>.</summary>
public sealed class DrainOptions
{
    /// <summary>Deadline for flushing and closing every connection once a drain starts.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Upper bound of the random reconnect delay hinted in GoAway (spreads the reconnect storm).</summary>
    public TimeSpan ReconnectJitter { get; set; } = TimeSpan.FromSeconds(5);
}
