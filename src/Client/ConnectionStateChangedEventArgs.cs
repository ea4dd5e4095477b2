namespace Gateway.Client;

/// <summary>Describes a change of <see cref="GatewayClient.State"/>.</summary>
public sealed class ConnectionStateChangedEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    public ConnectionStateChangedEventArgs(ConnectionState previous, ConnectionState current, string reason, Exception? error, Uri? endpoint)
        : this(previous, current, reason, error, endpoint, null, DateTimeOffset.UtcNow)
    {
    }

    /// <summary>Creates the event data with the retry delay and the time of the change.</summary>
    public ConnectionStateChangedEventArgs(ConnectionState previous, ConnectionState current, string reason, Exception? error, Uri? endpoint, TimeSpan? retryDelay, DateTimeOffset timestamp)
    {
        Previous = previous;
        Current = current;
        Reason = reason;
        Error = error;
        Endpoint = endpoint;
        RetryDelay = retryDelay;
        Timestamp = timestamp;
    }

    /// <summary>The state before the change.</summary>
    public ConnectionState Previous { get; }

    /// <summary>The new state.</summary>
    public ConnectionState Current { get; }

    /// <summary>Why (for example <c>connected</c>, <c>connection lost</c>, <c>go_away: draining</c>, <c>disposed</c>).</summary>
    public string Reason { get; }

    /// <summary>The failure behind the change, when there is one (a <see cref="GatewayException"/> when the server gave a code).</summary>
    public Exception? Error { get; }

    /// <summary>The endpoint involved (connected to, or lost).</summary>
    public Uri? Endpoint { get; }

    /// <summary>
    /// For <see cref="ConnectionState.Reconnecting"/>: how long the client waits before its next round of
    /// attempts (the first after a drop is drawn from [0, <see cref="ReconnectPolicy.FirstReconnectWindow"/>);
    /// see <see cref="ReconnectPolicy"/>). Null for other states.
    /// </summary>
    public TimeSpan? RetryDelay { get; }

    /// <summary>
    /// When the change happened (UTC): for the <see cref="ConnectionState.Reconnecting"/> that follows a drop,
    /// the time the connection was found lost; with <see cref="SubscriptionRecoveryEventArgs.Timestamp"/> it
    /// gives the time a subscription was away.
    /// </summary>
    public DateTimeOffset Timestamp { get; }
}
