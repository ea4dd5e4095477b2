using System.Globalization;
using System.Text;
using System.Text.Json;

namespace LoadTest.Reporting;

/// <summary>
/// summary.md / summary.csv / summary.json of a <c>bench/compare.sh --cluster</c> directory: results labelled
/// <c>{workload}__{server}__r{rep}</c> (workloads <c>cluster-*</c> on 2 nodes, <c>hop-light</c> on one node);
/// medians over repetitions; ratios against SignalR with its Redis backplane and against the in-memory engine,
/// all from the same invocation.
/// </summary>
public static class ClusterSummary
{
    private static string F(double v, string fmt = "0.##") => double.IsNaN(v) || double.IsInfinity(v) ? "n/a" : v.ToString(fmt, CultureInfo.InvariantCulture);

    private static double ToDouble(object? o) => o switch
    {
        null => double.NaN,
        JsonElement { ValueKind: JsonValueKind.Number } e => e.GetDouble(),
        JsonElement => double.NaN,
        IConvertible c => c.ToDouble(CultureInfo.InvariantCulture),
        _ => double.NaN,
    };

    private static double Sub(object? o, string key) => o is JsonElement { ValueKind: JsonValueKind.Object } e && e.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : 0;

    /// <summary>One (workload, server) cell: medians over its repetitions.</summary>
    public sealed record Row(
        string Workload, string Server, int Reps, double PublishRate, double DeliveriesPerSec, double Completeness,
        double P50Ms, double P90Ms, double P99Ms, double P999Ms, double CpuPercent, string CpuPerNode,
        double ScriptCallsPerPublish, double PublishCallsPerPublish, double RoundTripsPerPublish, double AllRedisCallsPerPublish, double RedisUsecPerPublish, long Gaps, int Errors);

    public static List<Row> Rows(string dir)
    {
        var results = Directory.GetFiles(dir, "*.json")
            .Select(f =>
            {
                try
                {
                    return RunResult.Read(f);
                }
                catch (JsonException)
                {
                    return null;
                }
            })
            .Where(r => r is { Scenario.Length: > 0 } && r.Label.Split("__").Length == 3)
            .Select(r => r!)
            .ToList();
        return [.. results.GroupBy(r => (W: r.Label.Split("__")[0], S: r.Label.Split("__")[1]))
            .Select(g =>
            {
                var runs = g.ToList();
                double M(Func<RunResult, double> f) => ChartReport.Median(runs.Select(f));
                var cpuNodes = runs[0].Extra.TryGetValue("cpuPercentPerNode", out var c) && c is JsonElement { ValueKind: JsonValueKind.Array } arr
                    ? string.Join(" + ", Enumerable.Range(0, arr.GetArrayLength()).Select(i => F(ChartReport.Median(runs.Select(r => ((JsonElement)r.Extra["cpuPercentPerNode"])[i].GetDouble())), "0")))
                    : string.Empty;
                return new Row(
                    g.Key.W, g.Key.S, runs.Count,
                    M(r => r.Publish.AchievedRate), M(r => r.Delivery.DeliveriesPerSec), M(r => r.Delivery.Completeness),
                    M(r => r.Latency?.P50 ?? double.NaN), M(r => r.Latency?.P90 ?? double.NaN), M(r => r.Latency?.P99 ?? double.NaN), M(r => r.Latency?.P999 ?? double.NaN),
                    M(r => r.Server.CpuPercent), cpuNodes,
                    M(r => ToDouble(r.Extra.GetValueOrDefault("redisScriptCallsPerPublish"))),
                    M(r => r.Extra.TryGetValue("redisCallsPerPublish", out var x) ? Sub(x, "publish") + Sub(x, "spublish") : double.NaN),
                    M(r => ToDouble(r.Extra.GetValueOrDefault("redisRoundTripsPerPublish"))),
                    M(r => ToDouble(r.Extra.GetValueOrDefault("redisAllCallsPerPublish"))),
                    M(r => ToDouble(r.Extra.GetValueOrDefault("redisServerUsecPerPublish"))),
                    runs.Sum(r => r.Delivery.Gaps), runs.Sum(r => r.Errors.Count));
            })
            .OrderBy(r => r.Workload, StringComparer.Ordinal).ThenBy(r => r.Server.StartsWith("archmesh", StringComparison.Ordinal) ? 0 : 1).ThenBy(r => r.Server, StringComparer.Ordinal)];
    }

    public static string Build(string dir, string header)
    {
        var rows = Rows(dir);
        WriteCsv(rows, Path.Combine(dir, "summary.csv"));
        File.WriteAllText(Path.Combine(dir, "summary.json"), JsonSerializer.Serialize(rows, RunResult.Json));
        Row? Get(string w, string s) => rows.FirstOrDefault(r => r.Workload == w && r.Server == s);
        string Lat(Row r) => $"{F(r.P50Ms)} / {F(r.P99Ms)} ms";

        var sb = new StringBuilder();
        sb.AppendLine("# Scale-out on Redis: gateway cluster vs SignalR with its Redis backplane").AppendLine().AppendLine(header).AppendLine();
        sb.AppendLine("Medians over repetitions; every ratio compares figures of the same `bench/compare.sh --cluster` invocation. " +
            "Latency is end to end (publisher's scheduled send → subscriber), open loop for fixed rates. Redis calls are `INFO commandstats` " +
            "deltas over the measurement window divided by the publishes sent in it.").AppendLine();

        var cluster = rows.Where(r => r.Workload.StartsWith("cluster-", StringComparison.Ordinal)).ToList();
        if (cluster.Count > 0)
        {
            var any = RunResult.Read(Directory.GetFiles(dir, cluster[0].Workload + "__*.json")[0]);
            sb.AppendLine($"## Cluster: 2 nodes on one redis-server").AppendLine();
            sb.AppendLine($"{any.Options.Connections} subscribers (i % 2 → node A/B) in {any.Options.Groups} groups, {any.Options.PayloadSize} B payloads; one publisher per node " +
                "(gateway: Publish frames on a protocol connection; SignalR: hub invocation `Send`), each at half the total rate, or each with 64 publishes in flight (saturation). " +
                "Every publish reaches subscribers on both nodes, so half the deliveries cross the Redis hop.").AppendLine();
            var servers = cluster.Select(r => r.Server).Distinct().ToList();
            sb.AppendLine("| workload | " + string.Join(" | ", servers) + " | ratios (same run) |");
            sb.AppendLine("|---|" + string.Concat(servers.Select(_ => "---|")) + "---|");
            foreach (var w in cluster.Select(r => r.Workload).Distinct())
            {
                var cells = servers.Select(s => Get(w, s) is { } r
                    ? $"{F(r.DeliveriesPerSec, "#,0")}/s, {F(r.Completeness * 100, "0.#")} %, p50/p99 {Lat(r)}, CPU {r.CpuPerNode} %"
                    : "—");
                var gw = Get(w, "archmesh-2n");
                var ratios = servers.Where(s => s != "archmesh-2n").Select(s => Get(w, s)).Where(r => r != null && gw != null)
                    .Select(r => $"vs {r!.Server}: {F(gw!.DeliveriesPerSec / r.DeliveriesPerSec, "0.00")}× deliveries/s, p99 SignalR ÷ gateway {F(r.P99Ms / gw.P99Ms, "0.00")}×");
                var pubRate = cluster.Where(r => r.Workload == w).Select(r => r.PublishRate).Max();
                sb.AppendLine($"| {w} ({F(pubRate, "#,0")} publishes/s achieved) | " + string.Join(" | ", cells) + " | " + string.Join("; ", ratios) + " |");
            }

            sb.AppendLine().AppendLine("Redis work per publish (cluster runs):").AppendLine();
            sb.AppendLine("| workload | server | round trips / publish | EVALSHA+EVAL / publish | PUBLISH+SPUBLISH / publish | commands Redis ran / publish (incl. inside scripts) | Redis CPU µs / publish |");
            sb.AppendLine("|---|---|---:|---:|---:|---:|---:|");
            foreach (var r in cluster)
            {
                sb.AppendLine($"| {r.Workload} | {r.Server} | {F(r.RoundTripsPerPublish, "0.###")} | {F(r.ScriptCallsPerPublish, "0.###")} | {F(r.PublishCallsPerPublish, "0.###")} | {F(r.AllRedisCallsPerPublish, "0.###")} | {F(r.RedisUsecPerPublish, "0.#")} |");
            }

            sb.AppendLine().AppendLine("Round trips = EVALSHA/EVAL calls when the server uses scripts (Redis 7 also counts the commands a script runs, listed in the next column), else every command; Redis CPU = `usec` of those top-level commands.");

            sb.AppendLine();
        }

        var hop = rows.Where(r => r.Workload.StartsWith("hop-", StringComparison.Ordinal)).ToList();
        if (hop.Count > 0)
        {
            var any = RunResult.Read(Directory.GetFiles(dir, hop[0].Workload + "__*.json")[0]);
            sb.AppendLine("## The Redis hop: one node, in-memory vs Redis, light load").AppendLine();
            sb.AppendLine($"One node (core 0), {any.Options.Connections} subscribers in {any.Options.Groups} groups, {F(any.Options.Rate)} publishes/s open loop " +
                "(one publisher); LoadTest and redis-server on core 1.").AppendLine();
            sb.AppendLine("| server | deliveries/s | p50 | p90 | p99 | p99.9 | CPU | Redis round trips / publish | commands Redis ran / publish | Redis CPU µs / publish |");
            sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var r in hop)
            {
                sb.AppendLine($"| {r.Server} | {F(r.DeliveriesPerSec, "#,0")} | {F(r.P50Ms)} ms | {F(r.P90Ms)} ms | {F(r.P99Ms)} ms | {F(r.P999Ms)} ms | {F(r.CpuPercent, "0")} % | {F(r.RoundTripsPerPublish, "0.###")} | {F(r.AllRedisCallsPerPublish, "0.###")} | {F(r.RedisUsecPerPublish, "0.#")} |");
            }

            sb.AppendLine();
            foreach (var (mem, red) in new[] { ("archmesh-memory", "archmesh-redis"), ("signalr-json-memory", "signalr-json-redis") })
            {
                if (Get("hop-light", mem) is { } m && Get("hop-light", red) is { } x)
                {
                    sb.AppendLine($"- {red} vs {mem}: p50 {F((x.P50Ms - m.P50Ms) * 1000, "+0;-0")} µs ({F(x.P50Ms / m.P50Ms, "0.00")}×), p99 {F((x.P99Ms - m.P99Ms) * 1000, "+0;-0")} µs ({F(x.P99Ms / m.P99Ms, "0.00")}×), CPU {F(m.CpuPercent, "0")} → {F(x.CpuPercent, "0")} %");
                }
            }

            sb.AppendLine();
        }

        if (rows.Any(r => r.Errors > 0 || r.Gaps > 0))
        {
            sb.AppendLine("Runs with errors or gaps: " + string.Join(", ", rows.Where(r => r.Errors > 0 || r.Gaps > 0).Select(r => $"{r.Workload}/{r.Server} (errors {r.Errors}, gaps {r.Gaps})")) + " — see the per-run .md files.").AppendLine();
        }

        return sb.ToString();
    }

    private static void WriteCsv(List<Row> rows, string path)
    {
        var sb = new StringBuilder("workload,server,reps,publish_rate,deliveries_per_s,completeness,p50_ms,p90_ms,p99_ms,p999_ms,cpu_percent_total,cpu_percent_per_node,redis_script_calls_per_publish,redis_publish_calls_per_publish,redis_round_trips_per_publish,redis_all_calls_per_publish,redis_usec_per_publish,gaps,errors\n");
        foreach (var r in rows)
        {
            sb.AppendLine(string.Join(',', r.Workload, r.Server, r.Reps, F(r.PublishRate, "0.#"), F(r.DeliveriesPerSec, "0"), F(r.Completeness, "0.#####"),
                F(r.P50Ms, "0.###"), F(r.P90Ms, "0.###"), F(r.P99Ms, "0.###"), F(r.P999Ms, "0.###"), F(r.CpuPercent, "0.#"), r.CpuPerNode.Replace(" + ", "+", StringComparison.Ordinal),
                F(r.ScriptCallsPerPublish, "0.####"), F(r.PublishCallsPerPublish, "0.####"), F(r.RoundTripsPerPublish, "0.####"), F(r.AllRedisCallsPerPublish, "0.####"), F(r.RedisUsecPerPublish, "0.##"), r.Gaps, r.Errors));
        }

        File.WriteAllText(path, sb.ToString());
    }
}
