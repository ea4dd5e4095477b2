using Gateway.Protocol;

namespace Gateway.Client;

/// <summary>
/// Reported by <see cref="GatewaySubscription.Discontinuity"/>: the messages handed to the application are
/// not (or not yet) a gapless continuation of what it had. When <see cref="RequiresRefetch"/> is true the
/// application should refetch the state it derives from the topic.
/// </summary>
public sealed class SubscriptionDiscontinuityEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    public SubscriptionDiscontinuityEventArgs(string topic, SubscriptionDiscontinuityKind kind, StreamPosition? from, StreamPosition? to, bool recovering, string? detail = null)
    {
        Topic = topic;
        Kind = kind;
        From = from;
        To = to;
        Recovering = recovering;
        Detail = detail;
    }

    /// <summary>The topic.</summary>
    public string Topic { get; }

    /// <summary>What happened.</summary>
    public SubscriptionDiscontinuityKind Kind { get; }

    /// <summary>The last position delivered to the application (or asked to recover from) before the discontinuity; null when there was none.</summary>
    public StreamPosition? From { get; }

    /// <summary>
    /// Where the stream continues: for <see cref="SubscriptionDiscontinuityKind.Gap"/> and
    /// <see cref="SubscriptionDiscontinuityKind.EpochChanged"/> the message that revealed it (the missing
    /// offsets are those strictly between <see cref="From"/> and <see cref="To"/>), for
    /// <see cref="SubscriptionDiscontinuityKind.RecoveryFailed"/> the topic's current position; null for
    /// <see cref="SubscriptionDiscontinuityKind.RecoveryIncomplete"/> (the next live message tells).
    /// </summary>
    public StreamPosition? To { get; }

    /// <summary>Offsets known to be missing (gaps only; 0 otherwise).</summary>
    public ulong Missed => Kind == SubscriptionDiscontinuityKind.Gap && From is { } from && To is { } to && to.Offset > from.Offset + 1 ? to.Offset - from.Offset - 1 : 0;

    /// <summary>
    /// True when the client is repairing the gap itself (resubscribing with recovery from <see cref="From"/>):
    /// the missed messages follow as <see cref="GatewayMessageKind.Replayed"/>, or a
    /// <see cref="SubscriptionDiscontinuityKind.RecoveryFailed"/> follows.
    /// </summary>
    public bool Recovering { get; }

    /// <summary>Whether the application should refetch its state (every kind unless the client is <see cref="Recovering"/>).</summary>
    public bool RequiresRefetch => !Recovering;

    /// <summary>The gateway's text (for <see cref="SubscriptionDiscontinuityKind.RecoveryIncomplete"/>), or null.</summary>
    public string? Detail { get; }

    /// <inheritdoc />
    public override string ToString() => $"{Kind} on {Topic} (from {From?.ToString() ?? "none"} to {To?.ToString() ?? "?"}{(Recovering ? ", recovering" : string.Empty)})";
}
