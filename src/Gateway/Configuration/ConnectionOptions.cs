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

    /// <summary>
    /// Time a frame has to complete once its first byte arrived (frame_timeout, close 4005): bytes trickling in keep
    /// the idle timeout away, so without it a frame dribbled byte by byte would hold the connection forever.
    /// Unset: <see cref="DefaultFrameTimeout"/> or <see cref="IdleTimeout"/>, whichever is shorter; when set, at most
    /// <see cref="IdleTimeout"/>.
    /// </summary>
    public TimeSpan? FrameTimeout { get; set; }

    /// <summary>The frame deadline used when <see cref="FrameTimeout"/> is not set (capped at <see cref="IdleTimeout"/>).</summary>
    public static TimeSpan DefaultFrameTimeout { get; } = TimeSpan.FromSeconds(10);

    /// <summary>The frame deadline in force: <see cref="FrameTimeout"/>, or the default capped at <see cref="IdleTimeout"/>.</summary>
    public TimeSpan EffectiveFrameTimeout => FrameTimeout ?? (DefaultFrameTimeout < IdleTimeout ? DefaultFrameTimeout : IdleTimeout);
}
