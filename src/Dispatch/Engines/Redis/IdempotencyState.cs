namespace Gateway.Dispatch.Engines.Redis;

/// <summary>State of an idempotency key as seen by <see cref="RedisStreamStore.TryBeginIdempotentAsync"/>.</summary>
public enum IdempotencyState
{
    /// <summary>The key was free: this caller now holds it (in flight) and should publish, then complete it.</summary>
    Started = 0,

    /// <summary>Another request (on any node) holds the key and has not completed yet.</summary>
    InFlight = 1,

    /// <summary>A request with this key completed; its result is returned.</summary>
    Completed = 2,
}
