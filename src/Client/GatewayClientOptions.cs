using System.Net.Security;
using System.Net.WebSockets;
using Microsoft.Extensions.Logging;

namespace Gateway.Client;

/// <summary>Options of a <see cref="GatewayClient"/>.</summary>
public sealed record GatewayClientOptions
{
    /// <summary>
    /// Gateway endpoints, tried in order and rotated on failure: <c>ws://host:port/ws</c>,
    /// <c>wss://host/ws</c>, <c>tcp://host:port</c> or <c>tcps://host:port</c> (raw TCP inside TLS). At least one.
    /// </summary>
    public IReadOnlyList<Uri> Endpoints { get; init; } = [];

    /// <summary>A fixed token (JWT). Ignored when <see cref="TokenProvider"/> is set.</summary>
    public string? Token { get; init; }

    /// <summary>
    /// Supplies a fresh token for every connect and reconnect, and for refreshing the token on a live
    /// connection before it expires. Preferred over <see cref="Token"/> for long-lived clients.
    /// </summary>
    public Func<CancellationToken, ValueTask<string>>? TokenProvider { get; init; }

    /// <summary>How long before the token's expiry it is refreshed (needs <see cref="TokenProvider"/>). Default 60 s.</summary>
    public TimeSpan RefreshBeforeExpiry { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The client name sent in the Connect frame (shows in the gateway's logs).</summary>
    public string ClientName { get; init; } = "archmesh-dotnet/1.0";

    /// <summary>Reconnect timing: the spread of the first reconnect after a drop, GoAway, backoff between rounds.</summary>
    public ReconnectPolicy Reconnect { get; init; } = new();

    /// <summary>Whether the first <see cref="GatewayClient.ConnectAsync(GatewayClientOptions, CancellationToken)"/> keeps retrying (with the reconnect policy) instead of failing.</summary>
    public bool RetryOnInitialConnect { get; init; }

    /// <summary>Deadline of one connect attempt (transport + handshake). Default 10 s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Deadline of a request (subscribe, publish with ack, refresh, ping), including waiting for a reconnect. Default 30 s.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Interval of the client's heartbeat pings. Null (default) uses the interval the gateway announces
    /// in Connected. The connection is considered dead (and reconnected) when nothing arrives for
    /// <see cref="HeartbeatMissesAllowed"/> + 1 intervals.
    /// </summary>
    public TimeSpan? HeartbeatInterval { get; init; }

    /// <summary>Heartbeat intervals without any inbound frame tolerated before the connection is dropped. Default 2.</summary>
    public int HeartbeatMissesAllowed { get; init; } = 2;

    /// <summary>
    /// Capacity (items) of each subscription's buffer. When the application reads slower than messages
    /// arrive, the client stops reading the socket: the gateway then sheds low/normal messages (visible
    /// as <see cref="GatewayMessage.MissedBefore"/>) or closes the connection as a slow consumer, after
    /// which the client reconnects and recovers. Default 1024.
    /// </summary>
    public int SubscriptionCapacity { get; init; } = 1024;

    /// <summary>Outbound bytes queued before publishers wait. Default 1 MiB.</summary>
    public int MaxPendingWriteBytes { get; init; } = 1024 * 1024;

    /// <summary>
    /// Deliver the notifications of the authenticated user (<see cref="GatewayClient.Notifications"/>).
    /// When false they are ignored by this client and stay pending at the gateway. Default true: read them.
    /// </summary>
    public bool ReceiveNotifications { get; init; } = true;

    /// <summary>Deliver <c>broadcast</c> messages (<see cref="GatewayClient.Broadcasts"/>). Default true: read them.</summary>
    public bool ReceiveBroadcasts { get; init; } = true;

    /// <summary>Extra WebSocket settings (TLS, proxy, headers such as Origin).</summary>
    public Action<ClientWebSocketOptions>? ConfigureWebSocket { get; init; }

    /// <summary>
    /// Extra TLS settings of <c>tcps://</c> endpoints, applied after the defaults (target host = the endpoint's host; the
    /// server certificate is validated against the system's trust store and that host name). Set
    /// <see cref="SslClientAuthenticationOptions.RemoteCertificateValidationCallback"/> to trust a private CA or a
    /// pinned certificate. <c>wss://</c> endpoints use <see cref="ConfigureWebSocket"/> instead.
    /// </summary>
    public Action<SslClientAuthenticationOptions>? ConfigureTls { get; init; }

    /// <summary>Logger factory (default: none).</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>Builds options for one endpoint and a fixed token.</summary>
    public static GatewayClientOptions For(string url, string token) => new() { Endpoints = [new Uri(url)], Token = token };

    internal void Validate()
    {
        if (Endpoints.Count == 0)
        {
            throw new ArgumentException("At least one endpoint is required.", nameof(Endpoints));
        }

        foreach (var endpoint in Endpoints)
        {
            if (endpoint.Scheme is not ("ws" or "wss" or "tcp" or "tcps"))
            {
                throw new ArgumentException($"Endpoint {endpoint} must use ws://, wss://, tcp:// or tcps://.", nameof(Endpoints));
            }
        }

        if (TokenProvider is null && string.IsNullOrEmpty(Token))
        {
            throw new ArgumentException("A Token or a TokenProvider is required.", nameof(Token));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(SubscriptionCapacity, 1, nameof(SubscriptionCapacity));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxPendingWriteBytes, 1024, nameof(MaxPendingWriteBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(HeartbeatMissesAllowed, 1, nameof(HeartbeatMissesAllowed));
        ArgumentNullException.ThrowIfNull(Reconnect, nameof(Reconnect));
        Reconnect.Validate();
    }
}
