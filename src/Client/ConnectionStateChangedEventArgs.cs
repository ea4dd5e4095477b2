namespace Gateway.Client;

/// <summary>Describes a change of <see cref="GatewayClient.State"/>.</summary>
public sealed class ConnectionStateChangedEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    public ConnectionStateChangedEventArgs(ConnectionState previous, ConnectionState current, string reason, Exception? error, Uri? endpoint)
    {
        Previous = previous;
        Current = current;
        Reason = reason;
        Error = error;
        Endpoint = endpoint;
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
}
