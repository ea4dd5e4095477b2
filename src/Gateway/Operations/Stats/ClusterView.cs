using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Dispatch;
using Gateway.Dispatch.Engines.Redis;

namespace Gateway.Operations.Stats;

/// <summary>
/// The cluster as one node sees it: on the Redis engine every node publishes its <see cref="NodeSummary"/> into a
/// <see cref="NodeDirectory"/> (<see cref="PublishSelfAsync"/>, called by <see cref="NodeSummaryPublisher"/>) and
/// <see cref="ReadAsync"/> lists them all for <c>/api/v1/stats/cluster</c>. On the in-memory engine, or when Redis
/// cannot be read, the answer is this node alone with the reason; it never throws for an unreachable Redis.
/// </summary>
internal sealed class ClusterView
{
    /// <summary>Most nodes one answer lists (the directory read is capped, so a huge or polluted index stays cheap).</summary>
    public const int MaxNodes = 256;

    // The dashboard polls every second: a frozen Redis must not hold each answer for the full operation timeout.
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(2);
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly GatewayProbe _probe;
    private readonly StatsCollector _stats;
    private readonly OperationsOptions _options;
    private readonly TimeProvider _time;
    private readonly string _version;
    private readonly DateTimeOffset _startedAt;
    private readonly Lock _gate = new();
    private NodeDirectory? _directory;
    private RedisDispatchEngine? _engine;

    public ClusterView(GatewayProbe probe, StatsCollector stats, OperationsOptions options, TimeProvider time)
    {
        _probe = probe;
        _stats = stats;
        _options = options;
        _time = time;
        var assembly = typeof(ClusterView).Assembly;
        _version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? assembly.GetName().Version?.ToString() ?? "unknown";
        using var process = Process.GetCurrentProcess();
        _startedAt = new DateTimeOffset(process.StartTime.ToUniversalTime(), TimeSpan.Zero);
    }

    /// <summary>This process's id in the cluster view (unique per process on the Redis engine).</summary>
    public string Instance => Engine()?.NodeId ?? _probe.NodeId;

    /// <summary>True when the node runs the Redis engine, i.e. has a cluster view to publish into.</summary>
    public bool IsShared => Directory() is not null;

    /// <summary>This node's summary from its latest stats sample.</summary>
    public NodeSummary Self() => NodeSummary.From(Fresh(), Instance, _version, _startedAt);

    /// <summary>Publishes this node's summary (no-op on the in-memory engine).</summary>
    /// <exception cref="RedisStoreUnavailableException">Redis is unreachable or did not answer in time.</exception>
    public Task PublishSelfAsync() =>
        Directory() is { } directory ? directory.PublishAsync(Instance, JsonSerializer.Serialize(Self(), Json)) : Task.CompletedTask;

    /// <summary>Removes this node from the cluster view (clean stop; no-op on the in-memory engine).</summary>
    /// <exception cref="RedisStoreUnavailableException">Redis is unreachable or did not answer in time.</exception>
    public Task RemoveSelfAsync() => Directory() is { } directory ? directory.RemoveAsync(Instance) : Task.CompletedTask;

    /// <summary>
    /// The answer of <c>/api/v1/stats/cluster</c>: <c>clusterView</c> is <c>redis</c> (every node sharing the Redis),
    /// <c>local</c> (in-memory engine: this node is the whole cluster) or <c>unavailable</c> (Redis could not be read:
    /// this node alone, <c>reason</c> says why). Nodes are most recently seen first, this node's row always from its
    /// own current figures; a node whose summary expired is listed with <c>status: "stale"</c> and its last-seen time.
    /// </summary>
    public async Task<JsonObject> ReadAsync()
    {
        var now = _time.GetUtcNow();
        var self = Self();
        var selfNode = Row(JsonSerializer.SerializeToNode(self, Json)!.AsObject(), live: true, isSelf: true, now, now);
        var directory = Directory();
        if (directory is null)
        {
            return Answer("local", null, [selfNode], total: 1, now);
        }

        if (_engine is { IsAvailable: false } engine)
        {
            return Answer("unavailable", $"Redis is unreachable from this node ({engine.State}); showing this node only.", [selfNode], total: 1, now);
        }

        NodeDirectoryRead read;
        try
        {
            read = await directory.ReadAsync(MaxNodes).WaitAsync(ReadTimeout, _time).ConfigureAwait(false);
        }
        catch (RedisStoreUnavailableException ex)
        {
            return Answer("unavailable", $"Redis could not be read: {ex.Message} Showing this node only.", [selfNode], total: 1, now);
        }
        catch (TimeoutException)
        {
            return Answer("unavailable", $"Redis did not answer within {ReadTimeout.TotalSeconds:0.#} s; showing this node only.", [selfNode], total: 1, now);
        }

        var rows = new List<JsonObject>(read.Nodes.Count + 1) { selfNode };
        var liveNames = new HashSet<string>(StringComparer.Ordinal) { self.Node };
        var parsed = new List<(NodeDirectoryEntry Entry, JsonObject? Summary)>(read.Nodes.Count);
        foreach (var entry in read.Nodes)
        {
            if (entry.NodeId == self.Instance)
            {
                continue;
            }

            var summary = Parse(entry.Summary);
            if (summary is not null && summary["node"]?.GetValueKind() == JsonValueKind.String)
            {
                liveNames.Add(summary["node"]!.GetValue<string>());
            }

            parsed.Add((entry, summary));
        }

        foreach (var (entry, summary) in parsed)
        {
            if (summary is not null)
            {
                rows.Add(Row(summary, live: true, isSelf: false, entry.LastSeen, now));
                continue;
            }

            // A stale entry of a node that is back under a new process (restart, rollout) is noise: the live one replaces it.
            var name = NodeNameOf(entry.NodeId);
            if (liveNames.Contains(name))
            {
                continue;
            }

            rows.Add(Row(new JsonObject { ["node"] = name, ["instance"] = entry.NodeId, ["status"] = "stale", ["statusReason"] = "not heard from since its last summary expired" }, live: false, isSelf: false, entry.LastSeen, now));
        }

        var selfListed = read.Nodes.Any(n => n.NodeId == self.Instance);
        return Answer("redis", null, rows, total: Math.Max(read.Total + (selfListed ? 0 : 1), rows.Count), now);
    }

    private JsonObject Answer(string view, string? reason, List<JsonObject> rows, long total, DateTimeOffset now)
    {
        double Sum(string field) => Math.Round(rows.Where(r => r["live"]!.GetValue<bool>()).Sum(r => Number(r, field)), 3);
        var nodes = new JsonArray();
        foreach (var row in rows)
        {
            nodes.Add(row);
        }

        return new JsonObject
        {
            ["timestamp"] = now,
            ["node"] = _probe.NodeId,
            ["instance"] = Instance,
            ["clusterView"] = view,
            ["reason"] = reason,
            ["publishIntervalSeconds"] = _options.ClusterInterval.TotalSeconds,
            ["entryTtlSeconds"] = _options.ClusterEntryTtl.TotalSeconds,
            ["totalNodes"] = total,
            ["truncated"] = total > rows.Count,
            ["totals"] = new JsonObject
            {
                ["nodes"] = rows.Count,
                ["live"] = rows.Count(r => r["live"]!.GetValue<bool>()),
                ["stale"] = rows.Count(r => !r["live"]!.GetValue<bool>()),
                ["ready"] = rows.Count(r => r["status"]?.GetValueKind() == JsonValueKind.String && r["status"]!.GetValue<string>() == "ready"),
                ["connections"] = (long)Sum("connections"),
                ["publishedPerSecond"] = Sum("publishedPerSecond"),
                ["dispatchedPerSecond"] = Sum("dispatchedPerSecond"),
                ["deliveriesPerSecond"] = Sum("deliveriesPerSecond"),
            },
            ["nodes"] = nodes,
        };
    }

    private static JsonObject Row(JsonObject row, bool live, bool isSelf, DateTimeOffset lastSeen, DateTimeOffset now)
    {
        row["live"] = live;
        row["self"] = isSelf;
        row["lastSeen"] = lastSeen;
        row["ageSeconds"] = Math.Round(Math.Max(0, (now - lastSeen).TotalSeconds), 1);
        return row;
    }

    private static double Number(JsonObject row, string field) =>
        row[field] is JsonValue value && value.GetValueKind() == JsonValueKind.Number ? value.GetValue<double>() : 0;

    /// <summary>A summary as published by any node version; null when absent or not a JSON object.</summary>
    private static JsonObject? Parse(string? summary)
    {
        if (summary is null)
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(summary) as JsonObject ?? new JsonObject { ["statusReason"] = "unreadable summary" };
        }
        catch (JsonException)
        {
            return new JsonObject { ["statusReason"] = "unreadable summary" };
        }
    }

    /// <summary>The configured node id inside an instance id (<c>{node}/{per-process suffix}</c> on the Redis engine).</summary>
    private static string NodeNameOf(string instance)
    {
        var slash = instance.LastIndexOf('/');
        return slash > 0 ? instance[..slash] : instance;
    }

    /// <summary>The latest sample with state read now: the sample may predate an engine outage or the start of a drain.</summary>
    private StatsSnapshot Fresh()
    {
        var sample = _stats.Current;
        if (_probe.Dispatcher?.Engine is not { } engine)
        {
            return sample;
        }

        return sample with
        {
            Draining = _probe.IsDraining,
            Connections = _probe.Connections,
            EngineAvailable = engine.IsAvailable,
            EngineState = engine.State,
            EngineCircuit = engine.Circuit switch { EngineCircuitState.Open => "open", EngineCircuitState.HalfOpen => "half-open", _ => "closed" },
        };
    }

    private RedisDispatchEngine? Engine() => _engine ??= _probe.Dispatcher?.Engine as RedisDispatchEngine;

    private NodeDirectory? Directory()
    {
        if (_directory is not null)
        {
            return _directory;
        }

        if (Engine() is not { } engine)
        {
            return null;
        }

        lock (_gate)
        {
            return _directory ??= new NodeDirectory(engine.Store, _options.ClusterEntryTtl, _options.ClusterForgetAfter);
        }
    }
}
