using Gateway.Protocol;

namespace Gateway.Client;

/// <summary>Reported by <see cref="GatewaySubscription.Resubscribed"/> after every resubscribe that follows a reconnect.</summary>
public sealed class SubscriptionRecoveryEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    public SubscriptionRecoveryEventArgs(string topic, SubscriptionRecovery outcome, StreamPosition? requestedFrom, StreamPosition current)
        : this(topic, outcome, requestedFrom, current, DateTimeOffset.UtcNow)
    {
    }

    /// <summary>Creates the event data with the time the gateway confirmed the resubscribe.</summary>
    public SubscriptionRecoveryEventArgs(string topic, SubscriptionRecovery outcome, StreamPosition? requestedFrom, StreamPosition current, DateTimeOffset timestamp)
    {
        Topic = topic;
        Outcome = outcome;
        RequestedFrom = requestedFrom;
        Current = current;
        Timestamp = timestamp;
    }

    /// <summary>The topic.</summary>
    public string Topic { get; }

    /// <summary>Recovered (no gap) or Failed (refetch state).</summary>
    public SubscriptionRecovery Outcome { get; }

    /// <summary>The position the client asked to recover from (null when it had none).</summary>
    public StreamPosition? RequestedFrom { get; }

    /// <summary>The topic's current position reported by the gateway.</summary>
    public StreamPosition Current { get; }

    /// <summary>
    /// When the gateway's Subscribed arrived (UTC): the subscription is live again from here (the replay of
    /// what it missed follows, counted by <see cref="GatewaySubscription.ReplayedCount"/>).
    /// </summary>
    public DateTimeOffset Timestamp { get; }
}
