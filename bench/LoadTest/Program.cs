using System.CommandLine;
using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using LoadTest;
using LoadTest.Reporting;

var root = new RootCommand("ArchMesh load harness: scenarios against the gateway and its peers (floor, Node ws, SignalR), results as JSON/Markdown, charts.");

// run: one option per RunOptions property (--kebab-case).
var run = new Command("run", "Run one scenario against one server and write <out>/<label>.json and .md");
var props = typeof(RunOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance);
var defaults = new RunOptions();
var options = new List<(PropertyInfo Prop, Option<string> Opt)>();
foreach (var p in props)
{
    var name = "--" + string.Concat(p.Name.Select((ch, i) => char.IsUpper(ch) && i > 0 ? "-" + char.ToLowerInvariant(ch) : char.ToLowerInvariant(ch).ToString()));
    var desc = p.GetCustomAttribute<DescriptionAttribute>()?.Description ?? string.Empty;
    var def = Convert.ToString(p.GetValue(defaults), CultureInfo.InvariantCulture);
    var opt = new Option<string>(name) { Description = $"{desc} [default: {def}]" };
    run.Options.Add(opt);
    options.Add((p, opt));
}

run.SetAction(async (ParseResult pr, CancellationToken ct) =>
{
    var o = new RunOptions();
    foreach (var (p, opt) in options)
    {
        var v = pr.GetValue(opt);
        if (v != null)
        {
            p.SetValue(o, Convert.ChangeType(v, p.PropertyType, CultureInfo.InvariantCulture));
        }
    }

    var result = await new Runner(o).RunAsync().ConfigureAwait(false);
    result.Write(o.Out);
    Console.WriteLine(result.ToMarkdown());
    return result.Connect.Connected > 0 ? 0 : 2;
});
root.Subcommands.Add(run);

var report = new Command("report", "Turn result JSON files into PNG charts (latency percentiles, throughput) and a Markdown table");
var inputs = new Argument<string[]>("results") { Description = "Result JSON files or directories", Arity = ArgumentArity.OneOrMore };
var outDir = new Option<string>("--out") { Description = "Output directory for the charts", DefaultValueFactory = _ => "." };
report.Arguments.Add(inputs);
report.Options.Add(outDir);
report.SetAction(pr =>
{
    var files = pr.GetValue(inputs)!.SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p, "*.json", SearchOption.AllDirectories) : [p]).ToList();
    ChartReport.Write(files, pr.GetValue(outDir)!);
    return 0;
});
root.Subcommands.Add(report);

var summarize = new Command("summarize", "Write summary.md for a compare.sh result directory (medians, ratios, §9 targets)");
var sumDir = new Argument<string>("dir") { Description = "Directory with <workload>__<target>__r<rep>.json results" };
var sumGateway = new Option<string>("--gateway") { Description = "Target name of the gateway", DefaultValueFactory = _ => "archmesh-ws" };
var sumHeader = new Option<string>("--header") { Description = "Text placed under the title (command, date, machine)", DefaultValueFactory = _ => string.Empty };
summarize.Arguments.Add(sumDir);
summarize.Options.Add(sumGateway);
summarize.Options.Add(sumHeader);
var sumSweepP99 = new Option<double>("--sweep-p99") { Description = "Latency bound of the rate sweep (ms)", DefaultValueFactory = _ => 50 };
summarize.Options.Add(sumSweepP99);
summarize.SetAction(pr =>
{
    var dir = pr.GetValue(sumDir)!;
    var md = Summary.Build(dir, pr.GetValue(sumGateway)!, pr.GetValue(sumHeader)!, pr.GetValue(sumSweepP99));
    File.WriteAllText(Path.Combine(dir, "summary.md"), md);
    Console.WriteLine(md);
    return 0;
});
root.Subcommands.Add(summarize);

var clusterSummary = new Command("cluster-summary", "Write summary.md/.csv/.json for a compare.sh --cluster result directory");
var csDir = new Argument<string>("dir") { Description = "Directory with <workload>__<server>__r<rep>.json results" };
var csHeader = new Option<string>("--header") { Description = "Text placed under the title (command, date, machine)", DefaultValueFactory = _ => string.Empty };
clusterSummary.Arguments.Add(csDir);
clusterSummary.Options.Add(csHeader);
clusterSummary.SetAction(pr =>
{
    var dir = pr.GetValue(csDir)!;
    var md = ClusterSummary.Build(dir, pr.GetValue(csHeader)!);
    File.WriteAllText(Path.Combine(dir, "summary.md"), md);
    Console.WriteLine(md);
    return 0;
});
root.Subcommands.Add(clusterSummary);

var check = new Command("check", "Exit 0 when a result met a latency bound (p99 <= --p99 ms and completeness >= --completeness), 1 otherwise (compare.sh's rate sweep)");
var checkFile = new Argument<string>("result") { Description = "Result JSON file" };
var checkP99 = new Option<double>("--p99") { Description = "Largest p99 in ms", DefaultValueFactory = _ => 50 };
var checkComplete = new Option<double>("--completeness") { Description = "Smallest delivered share of the expected deliveries", DefaultValueFactory = _ => 0.999 };
check.Arguments.Add(checkFile);
check.Options.Add(checkP99);
check.Options.Add(checkComplete);
check.SetAction(pr =>
{
    var file = pr.GetValue(checkFile)!;
    if (!File.Exists(file))
    {
        Console.Error.WriteLine($"check: {file} not found (the run failed)");
        return 1;
    }

    var r = RunResult.Read(file);
    var p99 = r.Latency?.P99 ?? double.NaN;
    var ok = p99 <= pr.GetValue(checkP99) && r.Delivery.Completeness >= pr.GetValue(checkComplete);
    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"check {r.Label}: p99 {p99} ms, completeness {r.Delivery.Completeness}, {r.Delivery.DeliveriesPerSec} deliveries/s → {(ok ? "pass" : "miss")}"));
    return ok ? 0 : 1;
});
root.Subcommands.Add(check);

var worker = new Command("worker", "Internal: holds a shard of subscribers for a parent run (stdin/stdout line protocol)");
worker.SetAction(async (ParseResult _, CancellationToken _) => await WorkerProcess.MainAsync().ConfigureAwait(false));
root.Subcommands.Add(worker);

return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
