namespace Gateway.Client;

/// <summary>Why a subscription's stream, as the application sees it, is not a gapless continuation.</summary>
public enum SubscriptionDiscontinuityKind
{
    /// <summary>
    /// A resubscribe asked for recovery and the gateway could not replay anything (history trimmed, or
    /// another epoch). A <see cref="GatewayMessageKind.RecoveryFailed"/> item is also yielded in order. Refetch state.
    /// </summary>
    RecoveryFailed,

    /// <summary>
    /// A recovery had started (<see cref="SubscriptionRecovery.Recovered"/>, some messages replayed) but the
    /// gateway could not complete it (error <c>recovery_incomplete</c>): messages after the last replayed
    /// one are missing before the live messages that follow. A <see cref="GatewayMessageKind.RecoveryIncomplete"/>
    /// item is also yielded in order. Refetch state.
    /// </summary>
    RecoveryIncomplete,

    /// <summary>
    /// Offsets were skipped in the same epoch (messages shed by the gateway for a slow connection). On a
    /// topic subscription the client repairs it itself (<see cref="SubscriptionDiscontinuityEventArgs.Recovering"/>):
    /// it resubscribes with recovery and the missed messages follow (or <see cref="RecoveryFailed"/>).
    /// On <c>broadcast</c> (never recovered) the next message has <see cref="GatewayMessage.AfterGap"/> set.
    /// </summary>
    Gap,

    /// <summary>
    /// A message arrived in another epoch than the last one delivered (the topic's history was reset, for
    /// example by an engine reset): positions of the old epoch mean nothing any more. Refetch state.
    /// </summary>
    EpochChanged,
}
