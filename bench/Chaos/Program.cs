using Chaos;

ChaosOptions options;
try
{
    options = ChaosOptions.Parse(args);
}
catch (ArgumentException ex)
{
    if (ex.Message.Length > 0)
    {
        Console.Error.WriteLine(ex.Message);
    }

    Console.Error.WriteLine(ChaosOptions.Usage);
    return 2;
}

ClusterEnv env;
TokenFactory tokens;
try
{
    env = ClusterEnv.Load(options.ClusterDir);
    tokens = TokenFactory.Load(env.DevKeyFile);
}
catch (Exception ex) when (ex is IOException or InvalidDataException or System.Text.Json.JsonException or FormatException)
{
    Console.Error.WriteLine($"chaos: {ex.Message}");
    return 2;
}

var script = options.ClusterScript
    ?? Path.Combine(env.Repo ?? Directory.GetCurrentDirectory(), "deploy", "local", "cluster.sh");
if (!File.Exists(script))
{
    Console.Error.WriteLine($"chaos: {script} not found (--cluster-script).");
    return 2;
}

// Thousands of clients' continuations share one thread pool; on a machine shared with the nodes, a pool that grows
// one thread at a time lets the harness fall behind (late heartbeats, publish timeouts that are the harness's, not the cluster's).
ThreadPool.GetMinThreads(out var workers, out var io);
ThreadPool.SetMinThreads(Math.Max(workers, 16), Math.Max(io, 16));

Directory.CreateDirectory(options.Out);
var started = DateTimeOffset.UtcNow;
using var log = new StreamWriter(Path.Combine(options.Out, "chaos.log"), append: false) { AutoFlush = true };
var synchronizedLog = TextWriter.Synchronized(log);
var cluster = new ClusterControl(script, options.ClusterDir, synchronizedLog);
var runner = new ScenarioRunner(options, env, tokens, cluster, synchronizedLog);
var results = new List<ScenarioResult>();
foreach (var scenario in options.Scenarios)
{
    Console.Error.WriteLine($"chaos: scenario {scenario} ({options.Clients} clients) ...");
    var result = await runner.RunAsync(scenario);
    results.Add(result);
    Console.WriteLine(result.Line);
    ResultsWriter.Write(options.Out, options, env, results, started);
}

Console.Error.WriteLine($"chaos: results in {options.Out}");
return results.Any(r => r.Failed || r.Lost > 0) ? 1 : 0;
