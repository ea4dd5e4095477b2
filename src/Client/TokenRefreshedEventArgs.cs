namespace Gateway.Client;

/// <summary>Reported by <see cref="GatewayClient.TokenRefreshed"/> when the gateway accepted a refreshed token.</summary>
public sealed class TokenRefreshedEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    public TokenRefreshedEventArgs(DateTimeOffset expiresAt) => ExpiresAt = expiresAt;

    /// <summary>The new token's expiry as reported by the gateway.</summary>
    public DateTimeOffset ExpiresAt { get; }
}
