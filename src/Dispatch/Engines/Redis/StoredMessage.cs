using Gateway.Protocol.Frames;

namespace Gateway.Dispatch.Engines.Redis;

/// <summary>
/// One message as read back from Redis (history range, pending notification, retained message).
/// <see cref="Payload"/> is a slice of an array allocated for this read and owned by the caller: it stays
/// valid as long as the caller keeps it.
/// </summary>
/// <param name="Offset">Offset of the message in its topic's current epoch.</param>
/// <param name="Priority">Priority it was published with.</param>
/// <param name="TimestampMs">Publish time (Unix milliseconds, clock of the appending node).</param>
/// <param name="Payload">Message payload.</param>
public readonly record struct StoredMessage(ulong Offset, Priority Priority, long TimestampMs, ReadOnlyMemory<byte> Payload);
