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

    /// <summary>
    /// Longest a connection's socket may accept nothing while frames wait to be written (one write of at most
    /// <see cref="MaxWriteBytes"/> in progress all that time): the client stopped reading, or reads slower than
    /// <see cref="MaxWriteBytes"/> per this period. The connection is then closed as <c>slow_consumer</c>: its queued
    /// frames are released at once and the transport is cut (the Error frame could not be written). Default 30 s.
    /// </summary>
    public TimeSpan WriteStallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Most bytes the write loop hands to the transport in one write (at least one frame). What does not fit stays
    /// in the connection's outbound queue, where a more urgent frame arriving meanwhile still overtakes it
    /// (protocol §8.6), instead of in kernel buffers behind it. Default 64 KiB: hundreds of typical frames per write,
    /// so coalescing is kept.
    /// </summary>
    public int MaxWriteBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// The socket send buffer (SO_SNDBUF) of client connections, in bytes; 0 leaves the operating system's default
    /// (on Linux: auto-tuned up to several MiB). Bounds what a busy connection keeps in flight in the kernel, where
    /// priorities no longer apply. Default 64 KiB (Linux doubles it for bookkeeping).
    /// </summary>
    public int SendBufferBytes { get; set; } = 64 * 1024;

    /// <summary>The frame deadline in force: <see cref="FrameTimeout"/>, or the default capped at <see cref="IdleTimeout"/>.</summary>
    public TimeSpan EffectiveFrameTimeout => FrameTimeout ?? (DefaultFrameTimeout < IdleTimeout ? DefaultFrameTimeout : IdleTimeout);
}
