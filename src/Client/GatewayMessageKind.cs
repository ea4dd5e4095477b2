namespace Gateway.Client;

/// <summary>What a <see cref="GatewayMessage"/> item of a subscription stands for.</summary>
public enum GatewayMessageKind
{
    /// <summary>A live message.</summary>
    Live,

    /// <summary>Replayed from history: a message missed while disconnected, or a pending notification.</summary>
    Replayed,

    /// <summary>The retained latest state of a <c>workflow:</c> topic, sent first on subscribe.</summary>
    Retained,

    /// <summary>
    /// Not a message: after a reconnect the gateway could not replay what was missed (history gone,
    /// for example after a node restart). Refetch the state; the items that follow are from the new
    /// position (<see cref="GatewayMessage.Epoch"/>, <see cref="GatewayMessage.Offset"/>).
    /// </summary>
    RecoveryFailed,

    /// <summary>
    /// Not a message: a recovery that had started (the <see cref="Replayed"/> items before this one) could
    /// not be completed (error <c>recovery_incomplete</c>): messages after the last replayed one are
    /// missing. Refetch the state; the items that follow are live, after a gap.
    /// <see cref="GatewayMessage.Epoch"/>/<see cref="GatewayMessage.Offset"/> are the last position delivered.
    /// </summary>
    RecoveryIncomplete,
}
