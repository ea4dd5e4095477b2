namespace Gateway.Dispatch.Engines.Redis;

/// <summary>Pending notifications of a user topic (<see cref="RedisStreamStore.ReadPendingAsync"/>).</summary>
/// <param name="Epoch">The topic's current epoch (every pending notification belongs to it; 0 when the topic does not exist).</param>
/// <param name="Messages">Unexpired, unacknowledged notifications in offset order.</param>
public sealed record PendingRead(ulong Epoch, IReadOnlyList<StoredMessage> Messages);
