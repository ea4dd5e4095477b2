namespace Gateway.Configuration;

/// <summary><c>Gateway:Connection</c>: lifecycle timers of client connections.</summary>
public sealed class ConnectionOptions
{
    /// <summary>Time a new connection has to send its Connect frame (connect_timeout, close 4003).</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Interval of server pings, announced to the client in Connected.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Silence after which a connection is considered half-open and closed (idle_timeout, close 4004).</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(45);
}
