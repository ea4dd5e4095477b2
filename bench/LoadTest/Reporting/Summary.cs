using System.Globalization;
using System.Text;

namespace LoadTest.Reporting;

/// <summary>
/// Builds summary.md from a comparison directory: results labelled <c>{workload}__{target}__r{rep}</c>;
/// medians over repetitions, ratios against the floor and the peers, and the §9 targets.
/// </summary>
public static class Summary
{
    private static string F(double v, string fmt = "0.##") => double.IsNaN(v) || double.IsInfinity(v) ? "n/a" : v.ToString(fmt, CultureInfo.InvariantCulture);

    private sealed record Cell(string Workload, string Target, List<RunResult> Runs)
    {
        public double Med(Func<RunResult, double> f) => ChartReport.Median(Runs.Select(f));
    }

    /// <summary>Gateway rows (raw WebSocket transport, ASP.NET Core WebSocket path, raw TCP) checked against the targets.</summary>
    private static readonly string[] GatewayRows = ["archmesh-ws", "archmesh-ws-aspnet", "archmesh-tcp"];

    public static string Build(string dir, string gateway, string header, double sweepP99Ms = 50)
    {
        var results = Directory.GetFiles(dir, "*.json")
            .Select(f =>
            {
                try
                {
                    return RunResult.Read(f);
                }
                catch (System.Text.Json.JsonException)
                {
                    return null;
                }
            })
            .Where(r => r is { Scenario.Length: > 0 } && r.Label.Contains("__", StringComparison.Ordinal))
            .Select(r => r!)
            .ToList();
        var sweep = results.Where(r => r.Label.StartsWith("sweep-", StringComparison.Ordinal)).ToList();
        results = [.. results.Except(sweep)];
        var cells = results.GroupBy(r => (W: r.Label.Split("__")[0], T: r.Target))
            .Select(g => new Cell(g.Key.W, g.Key.T, [.. g]))
            .ToList();
        Cell? Get(string w, string t) => cells.FirstOrDefault(c => c.Workload == w && c.Target == t);

        var sb = new StringBuilder();
        sb.AppendLine("# Gateway vs floor and peers").AppendLine().AppendLine(header).AppendLine();
        sb.AppendLine("Medians over repetitions; every figure in a row was measured in the same run of bench/compare.sh (servers alternated).").AppendLine();
        foreach (var w in cells.Select(c => c.Workload).Distinct().OrderBy(x => x, StringComparer.Ordinal))
        {
            var row = cells.Where(c => c.Workload == w).OrderBy(c => c.Target == gateway ? 0 : 1).ThenBy(c => c.Target, StringComparer.Ordinal).ToList();
            var first = row[0].Runs[0];
            sb.AppendLine($"## {w}").AppendLine();
            if (first.Scenario == "idle")
            {
                sb.AppendLine($"`idle`: ramp to {first.Options.Connections} connections at {F(first.Options.ConnectRate)}/s over {first.Options.Sources} source addresses, hold {first.Options.Hold} s; RSS per connection = (RSS after hold − RSS before the ramp) / connected").AppendLine();
            }
            else
            {
                sb.AppendLine($"`{first.Scenario}`: {first.Options.Connections} connections, {first.Options.Groups} groups, {first.Options.PayloadSize} B payload, " +
                    (first.Options.Rate > 0 ? $"{F(first.Options.Rate)} publishes/s open loop" : first.Options.Window > 0 ? $"max (closed loop, {first.Options.Window} publishes in flight)" : "max (publisher writes as fast as the server reads: TCP push-back only; latency n/a = no message sent inside the window was delivered before the drain ended)") +
                    $", {first.Options.Duration} s window").AppendLine();
            }

            if (first.Scenario == "idle")
            {
                sb.AppendLine("| server | runs | connected | connect s | RSS/conn KiB | RSS after hold MiB | open after hold |").AppendLine("|---|---:|---:|---:|---:|---:|---:|");
                foreach (var c in row)
                {
                    sb.AppendLine($"| {c.Target} | {c.Runs.Count} | {F(c.Med(r => r.Connect.Connected), "0")} | {F(c.Med(r => r.Connect.Seconds))} | {F(c.Med(r => r.Server.RssPerConnectionKiB))} | {F(c.Med(r => ToDouble(r.Extra.GetValueOrDefault("rssAfterHoldKiB")) / 1024), "0.#")} | {F(c.Med(r => ToDouble(r.Extra.GetValueOrDefault("openAfterHold"))), "0")} |");
                }

                sb.AppendLine();
                continue;
            }

            var floor = Get(w, "floor");
            var sigJson = Get(w, "signalr-json");
            var sigMp = Get(w, "signalr-msgpack");
            sb.AppendLine("| server | runs | deliveries/s | ×floor | ×SignalR json | ×SignalR msgpack | publishes/s | complete % | p50 ms | p99 ms | p99.9 ms | max ms | server CPU % | reads/s | deliveries/read |");
            sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var c in row)
            {
                var d = c.Med(r => r.Delivery.DeliveriesPerSec);
                double Ratio(Cell? b) => b == null ? double.NaN : d / b.Med(r => r.Delivery.DeliveriesPerSec);
                sb.AppendLine($"| {c.Target} | {c.Runs.Count} | {F(d, "#,0")} | {F(Ratio(floor))} | {F(Ratio(sigJson))} | {F(Ratio(sigMp))} | {F(c.Med(r => r.Publish.AchievedRate), "#,0")} | {F(c.Med(r => r.Delivery.Completeness * 100), "0.###")} | {F(c.Med(r => r.Latency?.P50 ?? double.NaN))} | {F(c.Med(r => r.Latency?.P99 ?? double.NaN))} | {F(c.Med(r => r.Latency?.P999 ?? double.NaN))} | {F(c.Med(r => r.Latency?.Max ?? double.NaN))} | {F(c.Med(r => r.Server.CpuPercent), "0")} | {F(c.Med(r => r.Delivery.ReadsPerSec), "#,0")} | {F(c.Med(r => r.Delivery.DeliveriesPerRead))} |");
            }

            var extras = row.Where(c => c.Runs.Any(r => r.Extra.Count > 0 || r.LatencyByPriority.Count > 0)).ToList();
            foreach (var c in extras)
            {
                var r = c.Runs[c.Runs.Count / 2];
                if (r.LatencyByPriority.Count > 0)
                {
                    sb.AppendLine().Append($"{c.Target} (run {r.Label}) latency by priority: ");
                    sb.AppendLine(string.Join("; ", r.LatencyByPriority.Select(kv => $"{kv.Key} p50 {F(kv.Value.P50)} / p99 {F(kv.Value.P99)} / max {F(kv.Value.Max)} ms ({kv.Value.Count})")));
                }

                if (r.Extra.Count > 0)
                {
                    sb.AppendLine().AppendLine($"{c.Target} (run {r.Label}): " + string.Join(", ", r.Extra.Select(kv => $"{kv.Key} = {System.Text.Json.JsonSerializer.Serialize(kv.Value, RunResult.Compact)}")));
                }
            }

            sb.AppendLine();
        }

        var sustained = SweepSection(sb, sweep, cells.Where(c => c.Workload == "saturation").ToList(), gateway, sweepP99Ms);

        sb.AppendLine("## §9 targets").AppendLine();
        if (results.Any(r => r.Scenario == "fanout" && r.Options.Connections != 2000))
        {
            sb.AppendLine("Smoke sizes (not the reference workload of 2,000 connections in 10 groups): the checks below are indicative only.").AppendLine();
        }

        sb.AppendLine("Targets of issue 13 (BRIEF §9 goals in brackets).").AppendLine();
        sb.AppendLine("| target | measured | met |").AppendLine("|---|---|---|");
        void Check(string what, string measured, bool? ok) => sb.AppendLine($"| {what} | {measured} | {(ok == null ? "n/a" : ok.Value ? "yes" : "**no**")} |");
        if (sustained.TryGetValue(gateway, out var best))
        {
            Check($"throughput at p99 ≤ {F(sweepP99Ms)} ms (rate sweep): [≥ 1,000,000 deliveries/s]", $"{F(best, "#,0")}/s", best >= 1_000_000);
        }

        foreach (var satName in new[] { "saturation", "saturation-push" })
        {
            var sat = Get(satName, gateway);
            var satFloor = Get(satName, "floor");
            var satSig = Get(satName, "signalr-json");
            if (sat != null)
            {
                var d = sat.Med(r => r.Delivery.DeliveriesPerSec);
                var p99 = sat.Med(r => r.Latency?.P99 ?? double.NaN);
                if (satFloor != null)
                {
                    var ratio = d / satFloor.Med(r => r.Delivery.DeliveriesPerSec);
                    Check($"{satName}: ≥ 2× floor", $"{F(d, "#,0")}/s = {F(ratio)}× floor", ratio >= 2.0);
                }

                if (satSig != null)
                {
                    var ratio = d / satSig.Med(r => r.Delivery.DeliveriesPerSec);
                    Check($"{satName}: ≥ 5× signalr-json [7×]", $"{F(ratio)}×", ratio >= 5);
                }

                if (satName == "saturation")
                {
                    Check($"{satName}: p99 ≤ 50 ms", $"{F(p99)} ms", p99 <= 50);
                }
            }
        }

        var mod = Get("moderate", gateway);
        if (mod != null)
        {
            var p99 = mod.Med(r => r.Latency?.P99 ?? double.NaN);
            var complete = mod.Med(r => r.Delivery.Completeness);
            var rate = mod.Med(r => r.Delivery.DeliveriesPerSec);
            Check("200,000 deliveries/s at p99 ≤ 50 ms", $"{F(rate, "#,0")}/s, {F(complete * 100, "0.###")} % delivered, p99 {F(p99)} ms", p99 <= 50 && complete >= 0.999);
        }

        var light = Get("light", gateway);
        if (light != null)
        {
            var p99 = light.Med(r => r.Latency?.P99 ?? double.NaN);
            Check("20,000 deliveries/s at p99 ≤ 5 ms", $"p99 {F(p99)} ms ({F(light.Med(r => r.Delivery.DeliveriesPerSec), "#,0")}/s)", p99 <= 5);
        }

        foreach (var idle in cells.Where(c => GatewayRows.Contains(c.Target) && c.Runs[0].Scenario == "idle").OrderBy(c => c.Runs[0].Options.Connections).ThenBy(c => c.Target, StringComparer.Ordinal))
        {
            var kib = idle.Med(r => r.Server.RssPerConnectionKiB);
            var ws = idle.Target != "archmesh-tcp";
            Check($"{idle.Target} idle RSS ≤ 8 KiB/connection [6] ({idle.Workload})", $"{F(kib)} KiB/connection at {F(idle.Med(r => r.Connect.Connected), "0")} connections", ws && idle.Runs[0].Options.Connections >= 10_000 ? kib <= 8 : null);
        }

        foreach (var prio in cells.Where(c => GatewayRows.Contains(c.Target) && c.Runs[0].Scenario == "priority").OrderBy(c => c.Target, StringComparer.Ordinal))
        {
            var ratio = prio.Med(r => ToDouble(r.Extra.GetValueOrDefault("criticalP99Ratio")));
            var idleP99 = prio.Med(r => r.LatencyByPriority.GetValueOrDefault("critical-idle")?.P99 ?? double.NaN);
            var loadedP99 = prio.Med(r => r.LatencyByPriority.GetValueOrDefault("critical-loaded")?.P99 ?? double.NaN);
            Check($"{prio.Target}: critical p99 ≤ 2× idle while low saturates", $"{F(ratio)}× ({F(idleP99)} → {F(loadedP99)} ms)", ratio <= 2);
        }

        return sb.ToString();
    }

    /// <summary>
    /// The rate sweep: per server and repetition, the highest step (open-loop publishes/s) that met p99 ≤ the bound with
    /// ≥ 99.9 % delivered; its measured deliveries/s, median over repetitions, beside the closed-loop saturation.
    /// </summary>
    /// <returns>Median sustained deliveries/s per server.</returns>
    private static Dictionary<string, double> SweepSection(StringBuilder sb, List<RunResult> sweep, List<Cell> saturation, string gateway, double p99Bound)
    {
        var sustained = new Dictionary<string, double>();
        if (sweep.Count == 0)
        {
            return sustained;
        }

        static bool Pass(RunResult r, double bound) => (r.Latency?.P99 ?? double.NaN) <= bound && r.Delivery.Completeness >= 0.999;
        static string Rep(RunResult r) => r.Label[(r.Label.LastIndexOf("__r", StringComparison.Ordinal) + 3)..];
        var first = sweep[0];
        sb.AppendLine("## Rate sweep: throughput at a latency bound").AppendLine();
        sb.AppendLine($"`fanout`: {first.Options.Connections} connections, {first.Options.Groups} groups, {first.Options.PayloadSize} B, open loop; steps of increasing publishes/s until one misses p99 ≤ {F(p99Bound)} ms or delivers < 99.9 %, then one step halfway; {first.Options.Duration} s per step. Sustained = deliveries/s measured at the highest step that met the bound (median over repetitions; 0 when even the first step missed). Saturation = closed loop, 64 publishes in flight, same run.").AppendLine();
        sb.AppendLine($"| server | sustained deliveries/s at p99 ≤ {F(p99Bound)} ms | per repetition (publishes/s step: p99 ms) | first miss (step: p99 ms, delivered %) | saturation deliveries/s | saturation p99 ms | sustained ÷ saturation |");
        sb.AppendLine("|---|---:|---|---|---:|---:|---:|");
        foreach (var g in sweep.GroupBy(r => r.Target).OrderBy(g => g.Key == gateway ? 0 : 1).ThenBy(g => g.Key, StringComparer.Ordinal))
        {
            var perRep = g.GroupBy(Rep).OrderBy(x => x.Key, StringComparer.Ordinal).Select(rep =>
            {
                var best = rep.Where(r => Pass(r, p99Bound)).OrderByDescending(r => r.Options.Rate).FirstOrDefault();
                var miss = rep.Where(r => !Pass(r, p99Bound)).OrderBy(r => r.Options.Rate).FirstOrDefault();
                return (Best: best, Miss: miss);
            }).ToList();
            var median = ChartReport.Median(perRep.Select(x => x.Best?.Delivery.DeliveriesPerSec ?? 0));
            sustained[g.Key] = median;
            var reps = string.Join("; ", perRep.Select(x => x.Best == null ? "none" : $"{F(x.Best.Options.Rate)}: {F(x.Best.Latency!.P99)}"));
            var misses = string.Join("; ", perRep.Select(x => x.Miss == null ? "none (ladder top met)" : $"{F(x.Miss.Options.Rate)}: {F(x.Miss.Latency?.P99 ?? double.NaN)}, {F(x.Miss.Delivery.Completeness * 100, "0.#")} %"));
            var sat = saturation.FirstOrDefault(c => c.Target == g.Key);
            var satD = sat?.Med(r => r.Delivery.DeliveriesPerSec) ?? double.NaN;
            sb.AppendLine($"| {g.Key} | {F(median, "#,0")} | {reps} | {misses} | {F(satD, "#,0")} | {F(sat?.Med(r => r.Latency?.P99 ?? double.NaN) ?? double.NaN)} | {F(median / satD)} |");
        }

        sb.AppendLine();
        return sustained;
    }

    private static double ToDouble(object? o) => o switch
    {
        null => double.NaN,
        System.Text.Json.JsonElement { ValueKind: System.Text.Json.JsonValueKind.Number } e => e.GetDouble(),
        IConvertible c => c.ToDouble(CultureInfo.InvariantCulture),
        _ => double.NaN,
    };
}
