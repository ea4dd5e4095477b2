using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace LoadTest;

public sealed class ConnectSummary
{
    public int Requested { get; set; }
    public int Connected { get; set; }
    public int Failed { get; set; }
    public double SuccessRate { get; set; }
    public double Seconds { get; set; }
    public double PerSecond { get; set; }
    public LatencySummary? TimeMs { get; set; }
    public List<string> Errors { get; set; } = [];
}

public sealed class PublishSummary
{
    public double TargetRate { get; set; }
    public string Mode { get; set; } = "";
    public long Published { get; set; }
    public long WindowPublished { get; set; }
    public double AchievedRate { get; set; }
    public long Acks { get; set; }
    public long Errors { get; set; }
    public long WindowStalls { get; set; }
    public double MaxSendLagMs { get; set; }
}

public sealed class DeliverySummary
{
    public long Expected { get; set; }
    public long WindowDelivered { get; set; }
    public double Completeness { get; set; }
    public double DeliveriesPerSec { get; set; }
    public double BytesPerSec { get; set; }
    public double FramesPerSec { get; set; }
    public double TransportMessagesPerSec { get; set; }
    public double ReadsPerSec { get; set; }
    public double DeliveriesPerRead { get; set; }
    public long Gaps { get; set; }
    public long Replayed { get; set; }
}

public sealed class ServerSummary
{
    public int Pid { get; set; }
    public long RssBaseKiB { get; set; }
    public long RssEndKiB { get; set; }
    public long HwmKiB { get; set; }
    public double RssPerConnectionKiB { get; set; }
    public double CpuPercent { get; set; }
    public double ContextSwitchesPerSec { get; set; }
    public int Threads { get; set; }
}

public sealed class RunResult
{
    public string Label { get; set; } = "";
    public string Scenario { get; set; } = "";
    public string Target { get; set; } = "";
    public string StartedUtc { get; set; } = "";
    public string Machine { get; set; } = $"{Environment.ProcessorCount} cores visible to the load generator, {Environment.OSVersion}";
    public RunOptions Options { get; set; } = new();
    public ConnectSummary Connect { get; set; } = new();
    public PublishSummary Publish { get; set; } = new();
    public DeliverySummary Delivery { get; set; } = new();
    public LatencySummary? Latency { get; set; }
    public Dictionary<string, LatencySummary> LatencyByPriority { get; set; } = [];
    public ServerSummary Server { get; set; } = new();
    public Dictionary<string, object> Extra { get; set; } = [];
    public List<string> Errors { get; set; } = [];
    public long[][] LatencyHistogram { get; set; } = [];

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static readonly JsonSerializerOptions Compact = new(Json) { WriteIndented = false };

    public void Write(string dir)
    {
        Directory.CreateDirectory(dir);
        // Compact on disk: results are committed (bench/results), the Markdown beside it is the readable form.
        File.WriteAllText(Path.Combine(dir, Label + ".json"), JsonSerializer.Serialize(this, Compact));
        File.WriteAllText(Path.Combine(dir, Label + ".md"), ToMarkdown());
    }

    public static RunResult Read(string path) => JsonSerializer.Deserialize<RunResult>(File.ReadAllText(path), Json)!;

    private static string F(double v, string fmt = "0.##") => double.IsNaN(v) ? "n/a" : v.ToString(fmt, CultureInfo.InvariantCulture);

    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"# {Label}").AppendLine();
        sb.AppendLine($"- scenario **{Scenario}**, target **{Target}**, started {StartedUtc}");
        if (Scenario == "idle")
        {
            sb.AppendLine($"- ramp to {Options.Connections} connections at {F(Options.ConnectRate)}/s (0 = unpaced) over {Options.Sources} source addresses, hold {F(Options.Hold)} s");
        }
        else
        {
            sb.AppendLine($"- {Options.Connections} connections, groups {Options.Groups}, payload {Options.PayloadSize} B, rate {(Options.Rate > 0 ? F(Options.Rate) + "/s open loop" : "max (closed loop, window " + Options.Window + ")")}, warm-up {Options.Warmup} s, window {Options.Duration} s");
        }

        sb.AppendLine($"- connect: {Connect.Connected}/{Connect.Requested} in {F(Connect.Seconds)} s ({F(Connect.PerSecond, "0")}/s), p50 {F(Connect.TimeMs?.P50 ?? double.NaN)} ms, p99 {F(Connect.TimeMs?.P99 ?? double.NaN)} ms");
        sb.AppendLine($"- publish: {Publish.WindowPublished} in window ({F(Publish.AchievedRate, "0")}/s), errors {Publish.Errors}, acks {Publish.Acks}, window stalls {Publish.WindowStalls}");
        sb.AppendLine($"- delivery: {F(Delivery.DeliveriesPerSec, "0")} deliveries/s, {F(Delivery.BytesPerSec / 1e6)} MB/s, {F(Delivery.FramesPerSec, "0")} frames/s, {F(Delivery.TransportMessagesPerSec, "0")} transport msgs/s, {F(Delivery.ReadsPerSec, "0")} reads/s ({F(Delivery.DeliveriesPerRead)} deliveries/read), completeness {F(Delivery.Completeness * 100, "0.###")} % of {Delivery.Expected}, gaps {Delivery.Gaps}, replayed {Delivery.Replayed}");
        if (Server.Pid > 0)
        {
            sb.AppendLine($"- server pid {Server.Pid}: CPU {F(Server.CpuPercent, "0")} %, RSS {Server.RssBaseKiB} → {Server.RssEndKiB} KiB (HWM {Server.HwmKiB}), {F(Server.RssPerConnectionKiB)} KiB/connection, {F(Server.ContextSwitchesPerSec, "0")} ctx switches/s, {Server.Threads} threads");
        }

        sb.AppendLine().AppendLine("| latency (ms) | count | p50 | p90 | p99 | p99.9 | max | mean |").AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        if (Latency != null)
        {
            Row(sb, "all", Latency);
        }

        foreach (var (k, v) in LatencyByPriority)
        {
            Row(sb, k, v);
        }

        if (Extra.Count > 0)
        {
            sb.AppendLine().AppendLine("| extra | value |").AppendLine("|---|---|");
            foreach (var (k, v) in Extra)
            {
                sb.AppendLine($"| {k} | {(v is string s ? s : JsonSerializer.Serialize(v, Compact))} |");
            }
        }

        if (Errors.Count > 0)
        {
            sb.AppendLine().AppendLine("Errors:");
            foreach (var e in Errors.Take(20))
            {
                sb.AppendLine("- " + e.Replace("\n", " ", StringComparison.Ordinal));
            }
        }

        return sb.ToString();
    }

    private static void Row(StringBuilder sb, string name, LatencySummary l) =>
        sb.AppendLine($"| {name} | {l.Count} | {F(l.P50)} | {F(l.P90)} | {F(l.P99)} | {F(l.P999)} | {F(l.Max)} | {F(l.Mean)} |");
}
