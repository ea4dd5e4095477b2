namespace Gateway.Client;

/// <summary>The state of a <see cref="GatewayClient"/>'s connection.</summary>
public enum ConnectionState
{
    /// <summary>The first connection is being established.</summary>
    Connecting,

    /// <summary>Authenticated; requests flow.</summary>
    Connected,

    /// <summary>The connection was lost (or the node sent GoAway); the client is reconnecting with backoff.</summary>
    Reconnecting,

    /// <summary>Terminal: the client was disposed, or reconnecting gave up (see the event's error).</summary>
    Disconnected,
}
