namespace Gateway.Dispatch.Engines.Redis;

/// <summary>Outcome of <see cref="RedisStreamStore.ReadRangeAsync"/>.</summary>
public enum RangeReadStatus
{
    /// <summary>Messages were returned and more may follow: read again after the last one.</summary>
    Ok = 0,

    /// <summary>Every message up to the stream's current last offset was returned (possibly none).</summary>
    End = 1,

    /// <summary>
    /// The position cannot be recovered: other epoch, a position in the future, or the message right after it
    /// is no longer in history (trimmed by count, bytes or age). Nothing is returned (never a partial replay).
    /// </summary>
    Gone = 2,
}
