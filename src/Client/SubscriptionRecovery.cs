namespace Gateway.Client;

/// <summary>The outcome of the last (re)subscribe of a <see cref="GatewaySubscription"/>.</summary>
public enum SubscriptionRecovery
{
    /// <summary>The first subscribe (nothing to recover), or not subscribed yet.</summary>
    None,

    /// <summary>Resubscribed with recovery (after a reconnect or a gap) and the gateway replays every missed message.</summary>
    Recovered,

    /// <summary>Resubscribed after a reconnect but the history could not cover the gap: refetch state.</summary>
    Failed,

    /// <summary>
    /// Recovery had started (<see cref="Recovered"/>) but the gateway could not complete the replay
    /// (<c>recovery_incomplete</c>): some missed messages are lost. Refetch state.
    /// </summary>
    Incomplete,
}
