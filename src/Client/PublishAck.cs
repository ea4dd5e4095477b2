using Gateway.Protocol;

namespace Gateway.Client;

/// <summary>The gateway's acknowledgement of a publish: the position assigned to the message.</summary>
/// <param name="Topic">The topic published to.</param>
/// <param name="Epoch">The topic stream's epoch.</param>
/// <param name="Offset">The offset assigned within the epoch.</param>
public readonly record struct PublishAck(string Topic, ulong Epoch, ulong Offset)
{
    /// <summary>The assigned position.</summary>
    public StreamPosition Position => new(Epoch, Offset);
}
