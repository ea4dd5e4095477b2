using System.Globalization;
using System.Text;
using HdrHistogram;
using ScottPlot;

namespace LoadTest.Reporting;

/// <summary>
/// Charts from result JSON files (ScottPlot): per scenario/rate, grouped latency percentile bars per target,
/// HdrHistogram percentile curves, and delivered-throughput bars; plus report.md with the numbers.
/// </summary>
public static class ChartReport
{
    private static readonly Color[] Palette =
    [
        Color.FromHex("#1f77b4"), Color.FromHex("#ff7f0e"), Color.FromHex("#2ca02c"), Color.FromHex("#d62728"),
        Color.FromHex("#9467bd"), Color.FromHex("#8c564b"), Color.FromHex("#e377c2"), Color.FromHex("#7f7f7f"),
    ];

    public static void Write(IReadOnlyList<string> files, string outDir)
    {
        Directory.CreateDirectory(outDir);
        var results = new List<RunResult>();
        foreach (var f in files)
        {
            try
            {
                var r = RunResult.Read(f);
                if (r.Scenario.Length > 0)
                {
                    results.Add(r);
                }
            }
            catch (System.Text.Json.JsonException)
            {
                // not a result file (e.g. a summary); skip
            }
        }

        var md = new StringBuilder("# Charts\n\n");
        foreach (var group in results.Where(r => r.Scenario != "idle").GroupBy(GroupKey).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var runs = group.OrderBy(r => r.Target, StringComparer.Ordinal).ToList();
            var name = Sanitize(group.Key);
            LatencyBars(runs, group.Key, Path.Combine(outDir, $"latency-{name}.png"));
            PercentileCurves(runs, group.Key, Path.Combine(outDir, $"percentiles-{name}.png"));
            md.Append(CultureInfo.InvariantCulture, $"## {group.Key}\n\n![latency](latency-{name}.png)\n![percentiles](percentiles-{name}.png)\n\n");
        }

        var traffic = results.Where(r => r.Delivery.DeliveriesPerSec > 0).ToList();

        if (traffic.Count > 0)
        {
            Throughput(traffic, Path.Combine(outDir, "throughput.png"));
            md.Append("## Delivered throughput\n\n![throughput](throughput.png)\n");
        }

        File.WriteAllText(Path.Combine(outDir, "charts.md"), md.ToString());
        Console.WriteLine($"{results.Count} results → charts in {outDir}");
    }

    private static string GroupKey(RunResult r) =>
        (r.Label.Contains("__", StringComparison.Ordinal) ? r.Label.Split("__")[0] + " " : string.Empty) +
        $"{r.Scenario} {r.Options.Connections}c/{r.Options.Groups}g " + (r.Options.Rate > 0 ? $"{r.Options.Rate.ToString(CultureInfo.InvariantCulture)} pub/s" : r.Options.Window > 0 ? $"max w{r.Options.Window}" : "max push-back");

    private static string Sanitize(string s) => new([.. s.Select(c => char.IsLetterOrDigit(c) ? c : '-')]);

    /// <summary>Runs of the same target (repetitions) are merged: the median of each percentile.</summary>
    private static List<(string Target, double[] Values)> Medians(List<RunResult> runs, Func<RunResult, double[]> pick) =>
        [.. runs.GroupBy(r => r.Target).Select(g =>
        {
            var rows = g.Select(pick).ToList();
            var values = Enumerable.Range(0, rows[0].Length).Select(i => Median(rows.Select(v => v[i]))).ToArray();
            return (g.Key, values);
        })];

    public static double Median(IEnumerable<double> values)
    {
        var v = values.Where(x => !double.IsNaN(x)).OrderBy(x => x).ToArray();
        return v.Length == 0 ? double.NaN : v.Length % 2 == 1 ? v[v.Length / 2] : (v[(v.Length / 2) - 1] + v[v.Length / 2]) / 2;
    }

    private static void LatencyBars(List<RunResult> runs, string title, string path)
    {
        string[] labels = ["p50", "p90", "p99", "p99.9"];
        var data = Medians(runs, r => r.Latency is { } l ? [l.P50, l.P90, l.P99, l.P999] : [double.NaN, double.NaN, double.NaN, double.NaN]);
        var plt = new Plot();
        var bars = new List<Bar>();
        var n = data.Count;
        for (var t = 0; t < n; t++)
        {
            for (var p = 0; p < labels.Length; p++)
            {
                var v = data[t].Values[p];
                bars.Add(new Bar { Position = (p * (n + 1)) + t, Value = double.IsNaN(v) ? 0 : v, FillColor = Palette[t % Palette.Length] });
            }

            plt.Legend.ManualItems.Add(new LegendItem { LabelText = data[t].Target, FillColor = Palette[t % Palette.Length] });
        }

        plt.Add.Bars(bars);
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        for (var p = 0; p < labels.Length; p++)
        {
            ticks.AddMajor((p * (n + 1)) + ((n - 1) / 2.0), labels[p]);
        }

        plt.Axes.Bottom.TickGenerator = ticks;
        plt.Axes.Margins(bottom: 0);
        plt.Title($"End-to-end latency — {title}");
        plt.YLabel("ms (median of repetitions)");
        plt.ShowLegend(Alignment.UpperLeft);
        plt.SavePng(path, 1000, 560);
    }

    private static void PercentileCurves(List<RunResult> runs, string title, string path)
    {
        var plt = new Plot();
        var i = 0;
        foreach (var g in runs.GroupBy(r => r.Target))
        {
            // One representative run per target: the one with the median p99.
            var rep = g.OrderBy(r => r.Latency?.P99 ?? double.MaxValue).ElementAt(g.Count() / 2);
            if (rep.LatencyHistogram.Length == 0)
            {
                continue;
            }

            var h = Recorder.NewHistogram();
            HistogramTransfer.Import(h, rep.LatencyHistogram);
            var xs = new List<double>();
            var ys = new List<double>();
            foreach (var p in new[] { 0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99 })
            {
                xs.Add(-Math.Log10(1 - Math.Min(p, 99.99) / 100));
                ys.Add(h.GetValueAtPercentile(p) / 1000.0);
            }

            var sc = plt.Add.Scatter(xs.ToArray(), ys.ToArray());
            sc.LegendText = g.Key;
            sc.Color = Palette[i++ % Palette.Length];
            sc.LineWidth = 2;
        }

        var ticks = new ScottPlot.TickGenerators.NumericManual();
        foreach (var (p, label) in new[] { (0.0, "0"), (50, "50"), (90, "90"), (99, "99"), (99.9, "99.9"), (99.99, "99.99") })
        {
            ticks.AddMajor(-Math.Log10(1 - p / 100), label);
        }

        plt.Axes.Bottom.TickGenerator = ticks;
        plt.Title($"Latency by percentile — {title}");
        plt.XLabel("percentile");
        plt.YLabel("ms");
        plt.ShowLegend(Alignment.UpperLeft);
        plt.SavePng(path, 1000, 560);
    }

    private static void Throughput(List<RunResult> runs, string path)
    {
        var groups = runs.GroupBy(r => (GroupKey(r), r.Target)).Select(g => (Label: $"{g.Key.Target}\n{g.Key.Item1}", Value: Median(g.Select(r => r.Delivery.DeliveriesPerSec)))).OrderBy(x => x.Label, StringComparer.Ordinal).ToList();
        var plt = new Plot();
        var bars = groups.Select((g, i) => new Bar { Position = i, Value = g.Value, FillColor = Palette[i % Palette.Length] }).ToList();
        plt.Add.Bars(bars);
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        for (var i = 0; i < groups.Count; i++)
        {
            ticks.AddMajor(i, groups[i].Label);
        }

        plt.Axes.Bottom.TickGenerator = ticks;
        plt.Axes.Bottom.TickLabelStyle.Rotation = 45;
        plt.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plt.Axes.Bottom.MinimumSize = 200;
        plt.Axes.Margins(bottom: 0);
        plt.Title("Delivered messages per second (median of repetitions)");
        plt.YLabel("deliveries/s");
        plt.SavePng(path, Math.Max(1000, groups.Count * 60), 700);
    }
}
