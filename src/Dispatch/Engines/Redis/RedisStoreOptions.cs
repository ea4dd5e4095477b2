namespace Gateway.Dispatch.Engines.Redis;

/// <summary>
/// Settings of <see cref="RedisStreamStore"/> (bound from configuration section <c>Redis</c> by the host).
/// Every node of a cluster must use the same <see cref="KeyPrefix"/>, <see cref="History"/> bounds,
/// <see cref="MaxPendingPerUser"/> and <see cref="PendingTtl"/>: they are applied by whichever node appends.
/// </summary>
public sealed class RedisStoreOptions
{
    /// <summary>StackExchange.Redis configuration string, e.g. <c>redis:6379,password=...</c>. Required.</summary>
    public string Configuration { get; set; } = "";

    /// <summary>
    /// Prefix of every key and channel, so several clusters (or tests) can share one Redis. Must not contain
    /// <c>{</c> or <c>}</c>: the store puts the topic in a hash tag so all keys of a topic share a cluster slot.
    /// </summary>
    public string KeyPrefix { get; set; } = "archmesh:";

    /// <summary>Identifies this process in live records (1–255 UTF-8 bytes). Default: machine name, process id and a random suffix.</summary>
    public string NodeId { get; set; } = $"{Environment.MachineName}-{Environment.ProcessId}-{Random.Shared.Next(0x10000):x4}";

    /// <summary>Per-topic history bounds (count, bytes of stored records, age).</summary>
    public HistoryOptions History { get; set; } = new();

    /// <summary>Most pending notifications kept per user topic; the oldest gives way beyond it. 0 disables pending storage.</summary>
    public int MaxPendingPerUser { get; set; } = 1000;

    /// <summary>How long an unacknowledged notification stays pending.</summary>
    public TimeSpan PendingTtl { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How long a workflow topic's retained message outlives the topic's last append.</summary>
    public TimeSpan RetainedTtl { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// How long a topic's epoch and offset counter outlive its last append (at least as long as its history,
    /// pending notifications and retained message). After that the topic's keys are gone and its next use
    /// starts a new epoch: Redis memory is bounded by recently used topics, not by every topic ever seen.
    /// </summary>
    public TimeSpan TopicIdleTtl { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How long a completed idempotency record is kept (a retry after it publishes again).</summary>
    public TimeSpan IdempotencyTtl { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// Longest wait for one Redis operation; a command not answered by then fails with
    /// <see cref="RedisStoreUnavailableException"/> (outcome unknown). Also bounds the initial connect.
    /// </summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Clock for message ages, pending expiry and trimming (tests substitute it).</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Configuration))
        {
            throw new ArgumentException("Redis:Configuration is required (a StackExchange.Redis configuration string such as \"localhost:6379\").", nameof(Configuration));
        }

        if (KeyPrefix is null || KeyPrefix.AsSpan().IndexOfAny('{', '}') >= 0)
        {
            throw new ArgumentException("Redis:KeyPrefix must not be null nor contain '{' or '}' (the store uses hash tags).", nameof(KeyPrefix));
        }

        var nodeIdBytes = NodeId is null ? 0 : System.Text.Encoding.UTF8.GetByteCount(NodeId);
        if (nodeIdBytes is < 1 or > 255)
        {
            throw new ArgumentException($"Redis:NodeId must be 1-255 UTF-8 bytes (was {nodeIdBytes}).", nameof(NodeId));
        }

        if (History is null)
        {
            throw new ArgumentException("Redis:History is required.", nameof(History));
        }

        History.Validate();
        if (MaxPendingPerUser < 0)
        {
            throw new ArgumentException($"Redis:MaxPendingPerUser must not be negative (was {MaxPendingPerUser}).", nameof(MaxPendingPerUser));
        }

        Positive(PendingTtl, nameof(PendingTtl));
        Positive(RetainedTtl, nameof(RetainedTtl));
        Positive(TopicIdleTtl, nameof(TopicIdleTtl));
        Positive(IdempotencyTtl, nameof(IdempotencyTtl));
        Positive(OperationTimeout, nameof(OperationTimeout));
        if (OperationTimeout > TimeSpan.FromMilliseconds(int.MaxValue))
        {
            throw new ArgumentException("Redis:OperationTimeout is too large.", nameof(OperationTimeout));
        }

        if (TimeProvider is null)
        {
            throw new ArgumentException("Redis:TimeProvider is required.", nameof(TimeProvider));
        }
    }

    private static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new ArgumentException($"Redis:{name} must be positive (was {value}).", name);
        }
    }
}
