namespace Gateway.Configuration;

/// <summary><c>Gateway:Engine</c>: where topic streams live (docs/scale-out.md).</summary>
public sealed class EngineOptions
{
    /// <summary><c>memory</c> (default: one node, nothing else needed) or <c>redis</c> (several nodes serve as one).</summary>
    public string Kind { get; set; } = "memory";

    /// <summary>
    /// How many gateway nodes this deployment runs (1–10,000, default 1), set by the deployment from its replica
    /// count (Kubernetes <c>replicas</c>, compose nodes, cluster.sh <c>N</c>). A node cannot count its peers on
    /// its own; this declaration lets it refuse the one combination that silently loses messages: several nodes on
    /// the <c>memory</c> engine, each with its own streams (docs/scale-out.md, "One engine per deployment").
    /// </summary>
    public int Replicas { get; set; } = 1;

    /// <summary><c>Gateway:Engine:Redis</c>: used when <see cref="Kind"/> is <c>redis</c>.</summary>
    public RedisEngineOptions Redis { get; set; } = new();
}

/// <summary><c>Gateway:Engine:Redis</c>.</summary>
public sealed class RedisEngineOptions
{
    /// <summary>A StackExchange.Redis configuration string, e.g. <c>127.0.0.1:6379</c> or <c>redis-a:6379,redis-b:6379,password=...</c>.</summary>
    public string? Configuration { get; set; }

    /// <summary>Prefix of every key and channel (several gateways can share one Redis with different prefixes).</summary>
    public string KeyPrefix { get; set; } = "archmesh:";

    /// <summary>How long one Redis operation may take before it fails (the publish is answered <c>engine_unavailable</c>).</summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(5);
}
