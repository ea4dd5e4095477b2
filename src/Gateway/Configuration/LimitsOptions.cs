using System.ComponentModel.DataAnnotations;

namespace Gateway.Configuration;

/// <summary><c>Gateway:Limits</c>: bounds that protect the node from any one client.</summary>
public sealed class LimitsOptions
{
    /// <summary>Client connections (WebSocket + TCP) this node accepts; more are refused with 503 / too_many_connections.</summary>
    [Range(1, 1_000_000)]
    public int MaxConnections { get; set; } = 19_000;

    /// <summary>Connections from one client IP address; more are refused with 429 / too_many_connections.</summary>
    [Range(1, 1_000_000)]
    public int MaxConnectionsPerIp { get; set; } = 5_000;

    /// <summary>
    /// Connections one authenticated user (token <c>sub</c>) may hold on this node; the next is refused after
    /// authentication with Error <c>user_connection_limit</c> and close 4010. 0 = no per-user cap.
    /// </summary>
    [Range(0, 1_000_000)]
    public int MaxConnectionsPerUser { get; set; } = 100;

    /// <summary>Largest frame body a client may send (bytes).</summary>
    [Range(64, 16 * 1024 * 1024)]
    public int MaxFrameLength { get; set; } = 64 * 1024;

    /// <summary>Subscriptions per connection (the automatic user topic included).</summary>
    [Range(1, 65535)]
    public int MaxSubscriptions { get; set; } = 256;

    /// <summary>Frames per second a connection may send (sustained).</summary>
    [Range(10, 10_000_000)]
    public int FramesPerSecond { get; set; } = 2_000;

    /// <summary>Frames a connection may send in a burst above the sustained rate.</summary>
    [Range(1, 10_000_000)]
    public int FrameBurst { get; set; } = 4_000;

    /// <summary>Bytes per second a connection may send (sustained).</summary>
    [Range(1024, 1_000_000_000)]
    public int BytesPerSecond { get; set; } = 4 * 1024 * 1024;

    /// <summary>Bytes a connection may send in a burst; at least one maximum frame.</summary>
    [Range(1024, 1_000_000_000)]
    public int ByteBurst { get; set; } = 8 * 1024 * 1024;

    /// <summary>Consecutive rate-limited frames after which the connection is closed (1008).</summary>
    [Range(1, 1_000_000)]
    public int MaxRateLimitStrikes { get; set; } = 200;
}
