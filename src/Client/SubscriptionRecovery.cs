namespace Gateway.Client;

/// <summary>The outcome of the last (re)subscribe of a <see cref="GatewaySubscription"/>.</summary>
public enum SubscriptionRecovery
{
    /// <summary>The first subscribe (nothing to recover), or not subscribed yet.</summary>
    None,

    /// <summary>Resubscribed after a reconnect and every missed message was replayed: no gap.</summary>
    Recovered,

    /// <summary>Resubscribed after a reconnect but the history could not cover the gap: refetch state.</summary>
    Failed,
}
