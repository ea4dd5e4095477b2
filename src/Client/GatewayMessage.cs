using System.Text;
using Gateway.Protocol;
using Gateway.Protocol.Frames;

namespace Gateway.Client;

/// <summary>An item of a subscription: a message of a topic, or a <see cref="GatewayMessageKind.RecoveryFailed"/> / <see cref="GatewayMessageKind.RecoveryIncomplete"/> marker.</summary>
public sealed class GatewayMessage
{
    /// <summary>Creates a message (applications normally receive them from a subscription).</summary>
    public GatewayMessage(string topic, ulong epoch, ulong offset, Priority priority, DateTimeOffset timestamp, ReadOnlyMemory<byte> payload, GatewayMessageKind kind, ulong missedBefore = 0, bool afterGap = false)
    {
        Topic = topic;
        Epoch = epoch;
        Offset = offset;
        Priority = priority;
        Timestamp = timestamp;
        Payload = payload;
        Kind = kind;
        MissedBefore = missedBefore;
        AfterGap = afterGap;
    }

    /// <summary>The topic.</summary>
    public string Topic { get; }

    /// <summary>The topic stream's epoch.</summary>
    public ulong Epoch { get; }

    /// <summary>The offset within the epoch (strictly increasing per subscription).</summary>
    public ulong Offset { get; }

    /// <summary>The position of this item.</summary>
    public StreamPosition Position => new(Epoch, Offset);

    /// <summary>The priority the message was published with.</summary>
    public Priority Priority { get; }

    /// <summary>When the gateway accepted the message.</summary>
    public DateTimeOffset Timestamp { get; }

    /// <summary>The payload bytes (empty for a recovery marker).</summary>
    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>Live, replayed, retained, or a recovery marker (<see cref="GatewayMessageKind.RecoveryFailed"/>, <see cref="GatewayMessageKind.RecoveryIncomplete"/>).</summary>
    public GatewayMessageKind Kind { get; }

    /// <summary>
    /// Offsets skipped since the previous item of the same epoch (0 = contiguous). Non-zero when the
    /// gateway shed messages for this slow connection or the history could not cover a gap.
    /// </summary>
    public ulong MissedBefore { get; }

    /// <summary>
    /// True on the first message after a discontinuity the client could not repair and that has no marker
    /// item of its own: an epoch change, or a gap on <c>broadcast</c> (see <see cref="GatewaySubscription.Discontinuity"/>).
    /// Messages may be missing before this one. (A failed or incomplete recovery is signalled by its
    /// <see cref="IsRecoveryMarker"/> item instead.)
    /// </summary>
    public bool AfterGap { get; }

    /// <summary>Whether this item is a recovery marker (not a message): refetch the state it derives from the topic.</summary>
    public bool IsRecoveryMarker => Kind is GatewayMessageKind.RecoveryFailed or GatewayMessageKind.RecoveryIncomplete;

    /// <summary>Whether this is a notification (a <c>user:</c> topic) that should be acked once handled.</summary>
    public bool IsNotification => Topic.StartsWith(Protocol.Topics.TopicRules.UserPrefix, StringComparison.Ordinal);

    /// <summary>The payload decoded as UTF-8.</summary>
    public string GetString() => Encoding.UTF8.GetString(Payload.Span);

    /// <inheritdoc />
    public override string ToString() => $"{Kind} {Topic}@{Epoch}:{Offset} ({Payload.Length} bytes)";
}
