using Gateway.Protocol;

namespace Gateway.Client;

/// <summary>Reported by <see cref="GatewaySubscription.Resubscribed"/> after every resubscribe that follows a reconnect.</summary>
public sealed class SubscriptionRecoveryEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    public SubscriptionRecoveryEventArgs(string topic, SubscriptionRecovery outcome, StreamPosition? requestedFrom, StreamPosition current)
    {
        Topic = topic;
        Outcome = outcome;
        RequestedFrom = requestedFrom;
        Current = current;
    }

    /// <summary>The topic.</summary>
    public string Topic { get; }

    /// <summary>Recovered (no gap) or Failed (refetch state).</summary>
    public SubscriptionRecovery Outcome { get; }

    /// <summary>The position the client asked to recover from (null when it had none).</summary>
    public StreamPosition? RequestedFrom { get; }

    /// <summary>The topic's current position reported by the gateway.</summary>
    public StreamPosition Current { get; }
}
