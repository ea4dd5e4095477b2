using Gateway.Protocol;

namespace Gateway.Dispatch.Engines.Redis;

/// <summary>One page of a history range read (<see cref="RedisStreamStore.ReadRangeAsync"/>).</summary>
/// <param name="Status">Whether more may follow, the end was reached, or the position is gone.</param>
/// <param name="Current">The stream's current epoch and last offset when the page was read (epoch 0 when the topic does not exist).</param>
/// <param name="Messages">The messages, in offset order with no gap; empty for <see cref="RangeReadStatus.Gone"/>.</param>
public sealed record RangeRead(RangeReadStatus Status, StreamPosition Current, IReadOnlyList<StoredMessage> Messages);
